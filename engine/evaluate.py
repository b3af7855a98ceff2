"""Decide: the pure function of policy set + request that the whole service rests on.

`Engine` is "prepare once, evaluate many": it compiles every loaded policy
version at construction, then `decide` costs one durable-rules post plus
integer allocation. It does no I/O; the caller supplies the merchant settings.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import Any

from engine.allocation import allocate
from engine.compile import CompiledPolicy, compiled
from engine.conditions import Why, compile_condition, value_of
from engine.loader import override_problem
from engine.model import Policy
from engine.policy_set import Clock, PolicySet, PolicySummary, layer_params
from engine.types import (
    DecideRequest,
    Decision,
    DecisionError,
    EffectiveParam,
    PolicyRef,
    Settings,
    TraceEntry,
)

BASE_CACHE_SIZE = 10_000
NO_CHANNEL_NOTE = (
    " No external channel is enabled for this merchant, so every unit stays on the store."
)
OPTED_OUT_NOTE = (
    " External channels are turned off for this merchant, so every unit stays on the store."
)
ZERO_UNITS_NOTE = " The external share rounds down to 0 units, so every unit stays on the store."


def request_facts(request: DecideRequest) -> dict[str, Any]:
    """The facts rules may test (engine.model.FACT_TYPES), read from a request."""
    product, proposal = request.product, request.proposal
    return {
        "stock_quantity": product.stock_quantity,
        "days_since_last_sale": product.days_since_last_sale,
        "category": product.category,
        "title": product.title,
        "product_id": product.product_id,
        "current_price": _price(product.current_price),
        "proposed_price": _price(proposal.proposed_price),
        "duration_hours": proposal.duration_hours,
    }


def _price(value: Decimal | None) -> float | None:
    """A price as the rules see it: to 0.0001, so it stays in the engine's number domain."""
    return None if value is None else float(round(value, 4))


class Engine:
    """Evaluates requests against one loaded PolicySet. Use from one thread only."""

    def __init__(
        self,
        policy_set: PolicySet,
        *,
        new_id: Callable[[], str] | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.policy_set = policy_set
        # Read only for policies with a scheduled activation or a shadow version,
        # so a version takes over at its time without a reload (tests inject one).
        self.clock = clock
        # True when some policy has a shadow version: the server's shadow step
        # costs one attribute test per decision when it is False.
        self.shadowing = bool(policy_set.shadow)
        self._compiled: dict[str, CompiledPolicy] = {
            p.sha256: compiled(p) for p in policy_set.all_policies()
        }
        # Trace texts: one compiled explainer per rule, per policy version.
        self._whys: dict[str, list[Why]] = {
            p.sha256: [compile_condition(r.when)[1] for r in p.rules]
            for p in policy_set.all_policies()
        }
        self._base: dict[tuple[str, str], dict[str, EffectiveParam]] = {}
        self._checks: dict[str, Callable[[str, Any], str | None]] = {
            p.sha256: partial(override_problem, p) for p in policy_set.all_policies()
        }
        # 128 random bits as 32 hex digits: as unique as uuid4().hex at a quarter of its cost.
        self._new_id = new_id or (lambda: os.urandom(16).hex())

    def summary(self) -> list[PolicySummary]:
        return self.policy_set.summary(self.clock)

    def effective_params(
        self, policy: Policy, request: DecideRequest, settings: Settings | None
    ) -> dict[str, EffectiveParam]:
        """Policy defaults < override file < settings < request overrides, with sources."""
        key = (policy.sha256, request.merchant_id)
        base = self._base.get(key)
        if base is None:
            if len(self._base) >= BASE_CACHE_SIZE:
                self._base.clear()  # bounded: cheap to rebuild, many merchants must not grow it
            base = self._base[key] = self.policy_set.base_params(policy, request.merchant_id)
        return layer_params(base, settings, request.overrides, self._checks[policy.sha256])

    def decide(
        self, request: DecideRequest, settings: Settings | None = None, *, trace: bool = True
    ) -> Decision:
        """The routing decision for one product; raises DecisionError on a bad pin or override."""
        policy = self.policy_set.resolve(request.merchant_id, request.policy_version, self.clock)
        return self.decide_with(policy, request, settings, trace=trace)

    def shadow_decision(
        self, request: DecideRequest, settings: Settings | None, decision: Decision
    ) -> Decision | None:
        """What the policy's shadow version would have decided, or None (no shadow, the
        decision came from the shadow version itself, or its parameters refuse the request)."""
        version = self.policy_set.shadow_version(decision.policy.name, self.clock)
        if version is None or version == decision.policy.version:
            return None
        try:
            return self.decide_with(
                self.policy_set.policies[decision.policy.name][version],
                request,
                settings,
                trace=False,
            )
        except DecisionError:
            return None

    def decide_with(
        self,
        policy: Policy,
        request: DecideRequest,
        settings: Settings | None = None,
        *,
        trace: bool = True,
    ) -> Decision:
        """The decision of one given policy version (the shadow step and `policy diff`)."""
        parameters = self.effective_params(policy, request, settings)
        params = {name: p.value for name, p in parameters.items()}
        facts = request_facts(request)
        index = self._compiled[policy.sha256].first_match(facts, params)
        rule = policy.rules[index]

        reasoning = rule.reason
        percent: Any = 0
        channels: list[str] = []
        if rule.outcome.external:
            percent = value_of(rule.outcome.external_percent, facts, params)  # type: ignore[arg-type]
            channels = list(params["enabled_external_channels"])  # type: ignore[arg-type]
            if not params["external_channels_enabled"]:
                channels, reasoning = [], reasoning + OPTED_OUT_NOTE
            elif not channels:
                reasoning += NO_CHANNEL_NOTE
        store_units, allocations = allocate(
            request.product.stock_quantity,
            percent,
            channels,
            str(request.proposal.proposed_price),
            request.proposal.duration_hours,
        )
        if channels and not allocations:
            reasoning += ZERO_UNITS_NOTE
        return Decision(
            decision_id=self._new_id(),
            merchant_id=request.merchant_id,
            policy=PolicyRef(policy.name, policy.version, policy.sha256),
            rule_id=rule.id,
            store=True,
            store_units=store_units,
            external_priority=rule.outcome.external_priority and bool(allocations),
            external_channels=allocations,
            reasoning=reasoning,
            trace=self._trace(policy, index, facts, params) if trace else [],
            parameters=parameters,
        )

    def _trace(
        self, policy: Policy, index: int, facts: dict[str, Any], params: dict[str, Any]
    ) -> list[TraceEntry]:
        """Why each rule before the match failed, and why the match held, with actual values."""
        whys = self._whys[policy.sha256]
        return [
            TraceEntry(
                rule.id,
                i == index,
                ("matched: " if i == index else "failed: ") + whys[i](facts, params),
                policy.source,
                rule.line,
            )
            for i, rule in enumerate(policy.rules[: index + 1])
        ]
