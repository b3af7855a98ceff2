"""The policies in force, their atomic reload, and how they behave in production."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromQuery, PathParameter, QueryParameter

from engine import PolicySummary
from engine.problems import PolicyProblems
from server.api.controllers.common import BEARER, problem_responses, services
from server.api.types import (
    MerchantHits,
    PolicyStats,
    RuleHits,
    ShadowReport,
    VersionHits,
)
from server.auth import Forbidden, Principal
from server.db.policy_stats import rule_hits
from server.db.shadow_log import ShadowLog
from server.errors import InvalidInput, NotFound
from server.services import Services

PolicyName = Annotated[
    str, PathParameter(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.-]*$")
]
DEFAULT_WINDOW = timedelta(days=1)
_MERCHANT = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class PolicyList(msgspec.Struct, frozen=True):
    policies: list[PolicySummary]


class PolicyController(Controller):
    path = "/v1/policies"
    tags = ["policies"]
    security = BEARER

    @get("/", responses=problem_responses(401, 503))
    async def list_policies(self, request: Request[Any, Any, Any]) -> PolicyList:
        """Loaded policies: name, versions, the version active now, scheduled versions
        (`active_from`), the shadow version, sha256 and file of each version."""
        svc = services(request)
        await svc.authenticate(request)
        return PolicyList(policies=svc.policies.summary())

    @post(
        "/reload",
        status_code=200,
        opt={"admin": True},
        responses=problem_responses(401, 403, 422, 503),
    )
    async def reload(self, request: Request[Any, Any, Any]) -> PolicyList:
        """Re-read the policy folder; on any problem the previous policies stay in force.

        Every other worker sharing the Redis reloads too (server.policy_sync).
        """
        svc = services(request)
        await svc.authorize(request)
        try:
            summary = await svc.policies.reload()
        except PolicyProblems:
            svc.metrics.reloads.labels("refused").inc()
            raise
        svc.metrics.reloads.labels("ok").inc()
        if svc.policy_sync is not None:
            await svc.policy_sync.announce()
        return PolicyList(policies=summary)

    @get("/{name:str}/stats", responses=problem_responses(400, 401, 403, 404, 422, 503))
    async def stats(
        self,
        request: Request[Any, Any, Any],
        name: PolicyName,
        since: FromQuery[datetime | None] = None,
        until: FromQuery[datetime | None] = None,
        merchant_id: Annotated[str | None, QueryParameter(max_length=64)] = None,
        by_merchant: FromQuery[bool] = False,
    ) -> PolicyStats:
        """Hits per rule from the decision log in [since, until) (default: the last day),
        rules that never fired, and per merchant with `by_merchant=true`.

        A merchant key sees its own decisions only.
        """
        svc, merchant_id, start, end = await _scope(request, merchant_id, since, until)
        versions = _versions(svc, name)
        hits = await rule_hits(
            svc.tables, name, start, end, merchant_id=merchant_id, by_merchant=by_merchant
        )
        if not versions and not hits:
            raise NotFound(f"no policy named {name!r} is loaded or logged")
        per_version: dict[str, dict[str, int]] = {}
        for (version, rule_id, _), n in hits.items():
            rules = per_version.setdefault(version, {})
            rules[rule_id] = rules.get(rule_id, 0) + n
        out = []
        for version in sorted(per_version.keys() | versions.keys()):
            counted = per_version.get(version, {})
            policy = versions.get(version)
            listed = (
                [RuleHits(r.id, counted.get(r.id, 0), policy.source, r.line) for r in policy.rules]
                if policy is not None
                else []
            )
            known = {r.rule_id for r in listed}
            listed += [RuleHits(r, n) for r, n in sorted(counted.items()) if r not in known]
            out.append(
                VersionHits(
                    version=version,
                    loaded=policy is not None,
                    decisions=sum(counted.values()),
                    rules=listed,
                    never_fired=[r.rule_id for r in listed if not r.hits] if policy else [],
                )
            )
        merchants = None
        if by_merchant:
            grouped: dict[str, dict[str, dict[str, int]]] = {}
            for (version, rule_id, merchant), n in sorted(hits.items()):
                grouped.setdefault(merchant, {}).setdefault(version, {})[rule_id] = n
            merchants = [
                MerchantHits(m, sum(sum(r.values()) for r in v.values()), v)
                for m, v in sorted(grouped.items())
            ]
        return PolicyStats(
            policy=name,
            since=start,
            until=end,
            decisions=sum(v.decisions for v in out),
            versions=out,
            merchants=merchants,
        )

    @get("/{name:str}/shadow", responses=problem_responses(400, 401, 403, 404, 422, 503))
    async def shadow(
        self,
        request: Request[Any, Any, Any],
        name: PolicyName,
        since: FromQuery[datetime | None] = None,
        until: FromQuery[datetime | None] = None,
        merchant_id: Annotated[str | None, QueryParameter(max_length=64)] = None,
    ) -> ShadowReport:
        """Where the shadow version would have decided otherwise, in [since, until)
        (default: the last day): counts, rule transitions, units moved, examples, as
        `policy diff` reports them. A merchant key sees its own decisions only."""
        svc, merchant_id, start, end = await _scope(request, merchant_id, since, until)
        engine = svc.policies.engine
        if name not in engine.policy_set.policies:
            raise NotFound(f"no policy named {name!r} is loaded")
        report, seen = await ShadowLog(svc.tables).report(name, start, end, merchant_id)
        return ShadowReport(
            policy=name,
            since=start,
            until=end,
            shadow_version=engine.policy_set.shadow_version(name, engine.clock),
            shadow_versions_seen=seen,
            report=report,
        )


async def _scope(
    request: Request[Any, Any, Any],
    merchant_id: str | None,
    since: datetime | None,
    until: datetime | None,
) -> tuple[Services, str | None, datetime, datetime]:
    """The caller's services, merchant filter and time window for a report."""
    svc = services(request)
    principal = await svc.authenticate(request)
    for field in ("since", "until"):  # Litestar would also read a bare number as a timestamp
        raw = request.query_params.get(field)
        if raw is not None and not _RFC3339.match(raw):
            raise InvalidInput(f"{field} must be an RFC 3339 date-time, e.g. ...T00:00:00Z", field)
    start, end = _window(since, until)
    return svc, _merchant_scope(principal, merchant_id), start, end


def _merchant_scope(principal: Principal, merchant_id: str | None) -> str | None:
    """The merchant filter: a merchant key is always limited to itself."""
    if merchant_id is not None and not _MERCHANT.match(merchant_id):
        raise InvalidInput("merchant_id must be 1-64 of A-Z a-z 0-9 . _ -", "merchant_id")
    if principal.is_admin:
        return merchant_id
    if merchant_id is not None and merchant_id != principal.merchant_id:
        raise Forbidden("this token may not read another merchant's decisions")
    return principal.merchant_id


_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?"  # date and time
    r"([Zz]|[+-]\d{2}:?\d{2})?\Z"  # zone
)
EARLIEST = datetime(1970, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)


def _window(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    for value, field in ((since, "since"), (until, "until")):
        if value is not None and value.tzinfo is None:
            raise InvalidInput(f"{field} needs a time zone (RFC 3339, e.g. ...Z)", field)
        if value is not None and not EARLIEST <= value <= LATEST:
            raise InvalidInput(f"{field} must be between 1970 and 9999", field)
    end = until or datetime.now(UTC)
    start = since or end - DEFAULT_WINDOW
    if start >= end:
        raise InvalidInput("since must be before until", "since")
    return start, end


def _versions(svc: Any, name: str) -> dict[str, Any]:
    engine = svc.policies.engine
    return dict(engine.policy_set.policies.get(name, {}))
