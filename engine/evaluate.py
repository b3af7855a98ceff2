"""Decide: the pure function of policy set + request that the whole service rests on.

`Engine` is "prepare once, evaluate many": it compiles every loaded policy
version at construction, then `decide` costs one durable-rules post plus
integer allocation. It does no I/O; the caller supplies the merchant settings.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

import msgspec

from engine.allocation import allocate
from engine.compile import CompiledPolicy, compiled
from engine.conditions import Why, compile_condition, facts_used, value_of
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

Facts = dict[str, Any]
Values = dict[str, Any]


def _price(value: str | None) -> float | None:
    """A price as the rules see it; Money has at most 4 decimals, in the engine's number domain."""
    return None if value is None else float(value)


# How each fact (engine.model.FACT_TYPES) is read from a request.
FACT_READERS: dict[str, Callable[[DecideRequest], Any]] = {
    "stock_quantity": lambda r: r.product.stock_quantity,
    "days_since_last_sale": lambda r: r.product.days_since_last_sale,
    "category": lambda r: r.product.category,
    "title": lambda r: r.product.title,
    "product_id": lambda r: r.product.product_id,
    "current_price": lambda r: _price(r.product.current_price),
    "proposed_price": lambda r: _price(r.proposal.proposed_price),
    "duration_hours": lambda r: r.proposal.duration_hours,
}


def request_facts(request: DecideRequest, names: Iterable[str] = FACT_READERS) -> Facts:
    """The facts rules may test, read from a request (only `names`, by default all)."""
    return {name: FACT_READERS[name](request) for name in names}


class _Prepared:
    """One policy version made ready: compiled ruleset, trace texts, facts it reads."""

    __slots__ = ("check", "compiled", "facts", "ref", "whys")

    def __init__(self, policy: Policy) -> None:
        self.compiled: CompiledPolicy = compiled(policy)
        self.ref = PolicyRef(policy.name, policy.version, policy.sha256)
        # Trace texts: one compiled explainer per rule.
        self.whys: list[Why] = [compile_condition(r.when)[1] for r in policy.rules]
        self.check: Callable[[str, Any], str | None] = partial(override_problem, policy)
        self.facts: tuple[str, ...] = tuple(n for n in FACT_READERS if n in facts_used(policy))


class _Layered(msgspec.Struct):
    """The parameters of one merchant under one policy version and settings, built once."""

    settings: Settings | None
    parameters: dict[str, EffectiveParam]
    values: Values


class Engine:
    """Evaluates requests against one loaded PolicySet. Use from one thread only.

    The parameters of a merchant (policy defaults, override file, settings) are
    layered once per merchant and settings, and shared by its decisions
    (`Decision.parameters` is that shared dict: read it, never change it).
    """

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
        self._prepared: dict[str, _Prepared] = {
            p.sha256: _Prepared(p) for p in policy_set.all_policies()
        }
        self._layers: dict[tuple[str, str], _Layered] = {}
        # 128 random bits as 32 hex digits: as unique as uuid4().hex at a quarter of its cost.
        self._new_id = new_id or (lambda: os.urandom(16).hex())

    def summary(self) -> list[PolicySummary]:
        return self.policy_set.summary(self.clock)

    def effective_params(
        self, policy: Policy, request: DecideRequest, settings: Settings | None
    ) -> dict[str, EffectiveParam]:
        """Policy defaults < override file < settings < request overrides, with sources."""
        return self._params(policy, request, settings)[0]

    def _params(
        self, policy: Policy, request: DecideRequest, settings: Settings | None
    ) -> tuple[dict[str, EffectiveParam], Values]:
        """(parameters with sources, plain values): shared per merchant and settings; fresh
        only when the request overrides something."""
        key = (policy.sha256, request.merchant_id)
        layered = self._layers.get(key)
        if layered is None or not (layered.settings is settings or layered.settings == settings):
            if len(self._layers) >= BASE_CACHE_SIZE:
                self._layers.clear()  # bounded: cheap to rebuild, many merchants must not grow it
            base = self.policy_set.base_params(policy, request.merchant_id)
            parameters = layer_params(base, settings, {}, None)
            layered = _Layered(settings, parameters, {n: p.value for n, p in parameters.items()})
            self._layers[key] = layered
        if not request.overrides:
            return layered.parameters, layered.values
        parameters = layer_params(
            layered.parameters, None, request.overrides, self._prepared[policy.sha256].check
        )
        return parameters, {n: p.value for n, p in parameters.items()}

    def decide(
        self,
        request: DecideRequest,
        settings: Settings | None = None,
        *,
        trace: bool = True,
        parameters: bool = True,
    ) -> Decision:
        """The routing decision for one product; raises DecisionError on a bad pin or override.

        `trace=False` leaves the trace empty, `parameters=False` the effective
        parameters (a batch's answer would repeat them for every item).
        """
        policy = self.policy_set.resolve(request.merchant_id, request.policy_version, self.clock)
        return self.decide_with(policy, request, settings, trace=trace, parameters=parameters)

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
        parameters: bool = True,
    ) -> Decision:
        """The decision of one given policy version (the shadow step and `policy diff`)."""
        prepared = self._prepared[policy.sha256]
        effective, params = self._params(policy, request, settings)
        facts = request_facts(request, prepared.facts)
        index = prepared.compiled.first_match(facts, params)
        rule = policy.rules[index]

        reasoning = rule.reason
        percent: Any = 0
        channels: list[str] = []
        if rule.outcome.external:
            percent = value_of(rule.outcome.external_percent, facts, params)  # type: ignore[arg-type]
            channels = params["enabled_external_channels"]
            if not params["external_channels_enabled"]:
                channels, reasoning = [], reasoning + OPTED_OUT_NOTE
            elif not channels:
                reasoning += NO_CHANNEL_NOTE
        store_units, allocations = allocate(
            request.product.stock_quantity,
            percent,
            channels,
            request.proposal.proposed_price,
            request.proposal.duration_hours,
        )
        if channels and not allocations:
            reasoning += ZERO_UNITS_NOTE
        return Decision(
            decision_id=self._new_id(),
            merchant_id=request.merchant_id,
            policy=prepared.ref,
            rule_id=rule.id,
            store=True,
            store_units=store_units,
            external_priority=rule.outcome.external_priority and bool(allocations),
            external_channels=allocations,
            reasoning=reasoning,
            trace=self._trace(policy, prepared.whys, index, facts, params) if trace else [],
            parameters=effective if parameters else {},
        )

    def _trace(
        self, policy: Policy, whys: list[Why], index: int, facts: Facts, params: Values
    ) -> list[TraceEntry]:
        """Why each rule before the match failed, and why the match held, with actual values."""
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
