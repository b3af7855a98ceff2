"""The shadow step: decisions of a policy's shadow version, beside the real ones.

After the decide routes have their decisions, `ShadowStep.observe` asks the
engine what the shadow version (`shadow: true`, docs/policies.md) would have
answered, counts every comparison and every divergence (by old rule -> new
rule), and keeps each divergence in `policy_shadow_divergence`. The answer to
the caller never changes. With no shadow version loaded the routes skip this
step on one attribute test (`Engine.shadowing`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
from prometheus_client import CollectorRegistry, Counter

from engine import Engine
from engine.diff import Outcome, applied_percent, outcome_of
from engine.types import DecideRequest, Decision, Settings
from server.db.shadow_log import ShadowLog, outcome_json

log = logging.getLogger(__name__)


class ShadowMetrics:
    """Comparisons and divergences, registered on the app's registry; children cached."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.compared = Counter(
            "channel_router_shadow_decisions",
            "Decisions also evaluated by a shadow policy version.",
            ("policy", "version", "shadow_version"),
            registry=registry,
        )
        self.divergences = Counter(
            "channel_router_shadow_divergences",
            "Decisions the shadow version would have answered differently, by rule transition.",
            ("policy", "version", "shadow_version", "from_rule", "to_rule"),
            registry=registry,
        )
        self._children: dict[tuple[str, ...], Any] = {}

    def count(self, counter: Counter, labels: tuple[str, ...], n: int) -> None:
        key = (counter._name, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = counter.labels(*labels)
        child.inc(n)


def divergence_row(
    request: DecideRequest,
    decision: Decision,
    shadow: Decision,
    old: Outcome,
    new: Outcome,
    now: datetime,
) -> dict[str, Any]:
    return {
        "decision_id": decision.decision_id,
        "merchant_id": decision.merchant_id,
        "policy_name": decision.policy.name,
        "policy_version": decision.policy.version,
        "shadow_version": shadow.policy.version,
        "shadow_sha256": shadow.policy.sha256,
        "rule_id": old[0],
        "shadow_rule_id": new[0],
        "outcome": msgspec.json.encode(outcome_json(old)).decode(),
        "shadow_outcome": msgspec.json.encode(outcome_json(new)).decode(),
        "request": msgspec.json.encode(request).decode(),
        "created_at": now,
    }


class ShadowStep:
    """Evaluates shadow versions for decisions already made, and records divergences."""

    def __init__(self, metrics: ShadowMetrics) -> None:
        self.metrics = metrics
        self.store: ShadowLog | None = None  # set once the database is open

    async def observe(
        self,
        engine: Engine,
        requests: Sequence[DecideRequest],
        decisions: Sequence[Decision],
        settings: Mapping[str, Settings | None],
    ) -> int:
        """Compare each decision with its shadow; returns how many diverged."""
        policy_set = engine.policy_set
        compared: dict[tuple[str, str, str], int] = {}
        diverged: dict[tuple[str, str, str, str, str], int] = {}
        rows = []
        now = datetime.now(UTC)
        for request, decision in zip(requests, decisions, strict=True):
            shadow = engine.shadow_decision(request, settings.get(request.merchant_id), decision)
            if shadow is None:
                continue
            key = (decision.policy.name, decision.policy.version, shadow.policy.version)
            compared[key] = compared.get(key, 0) + 1
            old = outcome_of(decision, applied_percent(policy_set, decision))
            new = outcome_of(shadow, applied_percent(policy_set, shadow))
            if old != new:
                transition = (*key, old[0], new[0])
                diverged[transition] = diverged.get(transition, 0) + 1
                rows.append(divergence_row(request, decision, shadow, old, new, now))
        for labels, n in compared.items():
            self.metrics.count(self.metrics.compared, labels, n)
        for transition, n in diverged.items():
            self.metrics.count(self.metrics.divergences, transition, n)
        if rows and self.store is not None:
            try:
                await self.store.record(rows)
            except Exception as exc:  # the decision stands; the divergence is counted above
                log.error("shadow divergences not recorded: %s", type(exc).__name__)
        return len(rows)
