"""Decide: the pure function of policy set + request that the whole service rests on.

`Engine` is "prepare once, evaluate many": it compiles every loaded policy
version at construction, then `decide` costs one durable-rules post plus
integer allocation. It does no I/O; the caller supplies the merchant settings.
"""

from __future__ import annotations

import itertools
import operator
import time
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

import msgspec

from engine.allocation import allocate
from engine.compile import CompiledPolicy, compiled
from engine.conditions import Why, compile_condition, facts_read, facts_used, value_of
from engine.decision_json import encode_spliced, part_json
from engine.ids import new_decision_id
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
TRACE_CACHE_SIZE = 4_096  # traces kept (a few MB at most); cleared when full
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


def _nothing(facts: Facts) -> tuple[()]:
    return ()


def request_facts(request: DecideRequest, names: Iterable[str] = FACT_READERS) -> Facts:
    """The facts rules may test, read from a request (only `names`, by default all)."""
    return {name: FACT_READERS[name](request) for name in names}


class _Prepared:
    """One policy version made ready: compiled ruleset, trace texts, facts it reads."""

    __slots__ = ("check", "compiled", "facts", "read", "ref", "whys")

    def __init__(self, policy: Policy) -> None:
        self.compiled: CompiledPolicy = compiled(policy)
        self.ref = PolicyRef(policy.name, policy.version, policy.sha256)
        # Trace texts: one compiled explainer per rule; and per matched rule, a reader
        # of the facts that the rules up to it read (all that their texts depend on
        # besides the parameters).
        self.whys: list[Why] = [compile_condition(r.when)[1] for r in policy.rules]
        self.read: list[Callable[[Facts], Any]] = []
        names: dict[str, None] = {}
        for rule in policy.rules:
            names.update(dict.fromkeys(facts_read(rule.when)))
            self.read.append(operator.itemgetter(*names) if names else _nothing)
        self.check: Callable[[str, Any], str | None] = partial(override_problem, policy)
        self.facts: tuple[str, ...] = tuple(n for n in FACT_READERS if n in facts_used(policy))


_serials = itertools.count()


class _Layered(msgspec.Struct):
    """The parameters of one merchant under one policy version and settings, built once.

    `serial` names this set of values in the trace cache (never reused)."""

    settings: Settings | None
    parameters: dict[str, EffectiveParam]
    values: Values
    json: msgspec.Raw  # of `parameters`, spliced into the decisions' JSON (engine.decision_json)
    serial: int = msgspec.field(default_factory=lambda: next(_serials))


class Engine:
    """Evaluates requests against one loaded PolicySet. Use from one thread only.

    The parameters of a merchant (policy defaults, override file, settings) are
    layered once per merchant and settings, and shared by its decisions
    (`Decision.parameters` is that shared dict), and a kept trace is shared by
    the decisions it explains (`Decision.trace` is that list): read them, never
    change them. `encode` gives a decision's JSON with those parts encoded once.
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
        # (layered serial, matched rule, values of the facts read up to it) -> its trace.
        self._trace_cache: dict[tuple[Any, ...], list[TraceEntry]] = {}
        # id of a kept trace -> (that trace, its JSON); cleared with the trace cache. The
        # entry keeps its list alive, so no other list can have that id meanwhile.
        self._trace_json: dict[int, tuple[list[TraceEntry], msgspec.Raw]] = {}
        self._new_id = new_id or new_decision_id  # ordered by time: engine.ids says why

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
        parameters, values, _ = self._layered(policy, request, settings)
        return parameters, values

    def _layered(
        self, policy: Policy, request: DecideRequest, settings: Settings | None
    ) -> tuple[dict[str, EffectiveParam], Values, int | None]:
        """`_params`, and the serial of the shared values (None for a request's own)."""
        key = (policy.sha256, request.merchant_id)
        layered = self._layers.get(key)
        if layered is None or not (layered.settings is settings or layered.settings == settings):
            if len(self._layers) >= BASE_CACHE_SIZE:
                self._layers.clear()  # bounded: cheap to rebuild, many merchants must not grow it
            base = self.policy_set.base_params(policy, request.merchant_id)
            parameters = layer_params(base, settings, {}, None)
            values = {n: p.value for n, p in parameters.items()}
            layered = _Layered(settings, parameters, values, part_json(parameters))
            self._layers[key] = layered
        if not request.overrides:
            return layered.parameters, layered.values, layered.serial
        parameters = layer_params(
            layered.parameters, None, request.overrides, self._prepared[policy.sha256].check
        )
        return parameters, {n: p.value for n, p in parameters.items()}, None

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

    def encode(self, decision: Decision) -> bytes:
        """The JSON of one of this engine's decisions (`msgspec.json.encode`'s bytes, made
        faster: the trace and parameters it shares with other decisions are encoded once)."""
        layered = self._layers.get((decision.policy.sha256, decision.merchant_id))
        parameters = decision.parameters
        kept = self._trace_json.get(id(decision.trace))
        return encode_spliced(
            decision,
            kept[1] if kept is not None else None,
            layered.json if layered is not None and layered.parameters is parameters else None,
        )

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
        effective, params, serial = self._layered(policy, request, settings)
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
            trace=self._trace(policy, prepared, index, facts, params, serial) if trace else [],
            parameters=effective if parameters else {},
        )

    def _trace(
        self,
        policy: Policy,
        prepared: _Prepared,
        index: int,
        facts: Facts,
        params: Values,
        serial: int | None,
    ) -> list[TraceEntry]:
        """Why each rule before the match failed, and why the match held, with actual values.

        The texts depend only on the parameters and the facts the rules up to the
        match read, so a trace is kept per set of shared parameters (`serial`; a
        request's own overrides are not kept), matched rule and those facts' values.
        """
        if serial is None:
            return self._entries(policy, prepared, index, facts, params)
        key = (serial, index, prepared.read[index](facts))
        cache = self._trace_cache
        entries = cache.get(key)
        if entries is None:
            if len(cache) >= TRACE_CACHE_SIZE:
                cache.clear()  # bounded: many merchants and values must not grow it
                self._trace_json.clear()
            entries = cache[key] = self._entries(policy, prepared, index, facts, params)
            self._trace_json[id(entries)] = (entries, part_json(entries))
        return entries

    def _entries(
        self, policy: Policy, prepared: _Prepared, index: int, facts: Facts, params: Values
    ) -> list[TraceEntry]:
        whys = prepared.whys
        return [
            self._entry(policy, whys[i], rule, i == index, facts, params)
            for i, rule in enumerate(policy.rules[: index + 1])
        ]

    @staticmethod
    def _entry(
        policy: Policy, why: Why, rule: Any, matched: bool, facts: Facts, params: Values
    ) -> TraceEntry:
        return TraceEntry(
            rule.id,
            matched,
            ("matched: " if matched else "failed: ") + why(facts, params),
            policy.source,
            rule.line,
        )
