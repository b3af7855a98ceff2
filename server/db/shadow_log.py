"""Shadow divergences: kept per decision, reported like `policy diff`.

One row per decision whose shadow version would have answered differently:
both outcomes (rule, percentage, priority, units per destination) and the
request, so a reviewer sees examples. Agreeing decisions leave no row; they
are counted by the metrics and by the decision log.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec
from piccolo.query.functions.aggregate import Count

from engine.diff import DiffReport, DiffTally, Example, Outcome
from server.db.tables import Tables

_CHUNK = 500


def outcome_json(outcome: Outcome) -> dict[str, Any]:
    rule_id, percent, priority, store_units, channels = outcome
    return {
        "rule_id": rule_id,
        "external_percent": percent,
        "external_priority": priority,
        "store_units": store_units,
        "external": [[c, n] for c, n in channels],
    }


def outcome_from(data: Any) -> Outcome:
    raw = msgspec.json.decode(data) if isinstance(data, str | bytes) else data
    return (
        raw["rule_id"],
        raw["external_percent"],
        raw["external_priority"],
        raw["store_units"],
        tuple((c, n) for c, n in raw["external"]),
    )


class ShadowLog:
    """Writes and reads `policy_shadow_divergence`."""

    def __init__(self, tables: Tables) -> None:
        self._table = tables.shadow_divergence
        self._decisions = tables.decision_log

    async def record(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert divergence rows (see server.shadow.divergence_row)."""
        table = self._table
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start : start + _CHUNK]
            await table.insert(*(table(**row) for row in chunk)).run()

    async def report(
        self,
        policy_name: str,
        since: datetime,
        until: datetime,
        merchant_id: str | None = None,
    ) -> tuple[DiffReport, list[str]]:
        """Divergences in [since, until) as a DiffReport, and the shadow versions seen.

        `decisions` is the number of decisions of this policy the decision log
        holds for the window (decided by a version other than the shadow one).
        """
        table = self._table
        query = table.select(
            table.decision_id,
            table.shadow_version,
            table.outcome,
            table.shadow_outcome,
            table.request,
        ).where(
            (table.policy_name == policy_name)
            & (table.created_at >= since)
            & (table.created_at < until)
        )
        if merchant_id is not None:
            query = query.where(table.merchant_id == merchant_id)
        tally = DiffTally()
        versions: set[str] = set()
        for row in await query.order_by(table.id).run():
            versions.add(row["shadow_version"])
            request = row["request"]
            example = Example(
                f"decision {row['decision_id']}",
                msgspec.json.decode(request) if isinstance(request, str) else request,
            )
            tally.add(outcome_from(row["outcome"]), outcome_from(row["shadow_outcome"]), example)
        report = tally.report()
        report.decisions = max(
            report.changed,
            await self._logged(policy_name, since, until, merchant_id, versions),
        )
        return report, sorted(versions)

    async def _logged(
        self,
        policy_name: str,
        since: datetime,
        until: datetime,
        merchant_id: str | None,
        shadow_versions: set[str],
    ) -> int:
        log = self._decisions
        query = log.select(log.policy_version, Count()).where(
            (log.policy_name == policy_name) & (log.created_at >= since) & (log.created_at < until)
        )
        if merchant_id is not None:
            query = query.where(log.merchant_id == merchant_id)
        rows = await query.group_by(log.policy_version).run()
        return sum(r["count"] for r in rows if r["policy_version"] not in shadow_versions)
