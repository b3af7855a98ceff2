"""Hits per rule, read from the decision log (GET /v1/policies/{name}/stats)."""

from __future__ import annotations

from datetime import datetime

from piccolo.query.functions.aggregate import Count

from server.db.tables import Tables

Hits = dict[tuple[str, str, str], int]  # (version, rule_id, merchant_id or "") -> decisions


async def rule_hits(
    tables: Tables,
    policy_name: str,
    since: datetime,
    until: datetime,
    *,
    merchant_id: str | None = None,
    by_merchant: bool = False,
) -> Hits:
    """Decisions per (version, rule[, merchant]) of a policy in [since, until)."""
    log = tables.decision_log
    columns = [log.policy_version, log.rule_id] + ([log.merchant_id] if by_merchant else [])
    query = log.select(*columns, Count()).where(
        (log.policy_name == policy_name) & (log.created_at >= since) & (log.created_at < until)
    )
    if merchant_id is not None:
        query = query.where(log.merchant_id == merchant_id)
    rows = await query.group_by(*columns).run()
    return {
        (r["policy_version"], r["rule_id"], r.get("merchant_id", "") if by_merchant else ""): r[
            "count"
        ]
        for r in rows
    }
