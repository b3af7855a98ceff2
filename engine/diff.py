"""Impact of a policy change: the same requests decided by two policy sets.

`policy diff OLD NEW` and the shadow report (GET /v1/policies/{name}/shadow)
both tally pairs of decisions here. A decision counts as changed when what the
merchant gets changes: the rule, the external percentage that rule applies,
external priority, or the units per destination (store and each channel). A
change of `moderate_external_percent` therefore changes exactly the decisions
of rule `moderate-overstock`, whether or not the merchant has channels.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from engine.conditions import value_of
from engine.evaluate import Engine
from engine.model import Literal_, Operand, Param
from engine.policy_set import PolicySet
from engine.types import DecideRequest, Decision, DecisionError, Settings

REFUSED = "(refused)"
EXAMPLES_PER_TRANSITION = 3

Outcome = tuple[str, Any, bool, int, tuple[tuple[str, int], ...]]


class Example(msgspec.Struct, frozen=True):
    at: str  # where the request came from: `sample.jsonl:12`, `decision 4f3c...`
    request: dict[str, Any]


class Transition(msgspec.Struct):
    from_rule: str
    to_rule: str
    count: int
    examples: list[Example]


class DiffReport(msgspec.Struct):
    """What a reviewer needs: how many decisions change, how, and where units go."""

    decisions: int
    changed: int
    transitions: list[Transition]  # most frequent first
    # Units gained (+) or lost (-) per destination, summed over all decisions.
    units_moved: dict[str, int]
    refused: int = 0


_PERCENT_OPERANDS: dict[tuple[str, str], Operand | None] = {}


def applied_percent(policy_set: PolicySet, decision: Decision) -> Any:
    """The external percentage the decision's rule applies (0 for store only)."""
    key = (decision.policy.sha256, decision.rule_id)
    if key not in _PERCENT_OPERANDS:
        if len(_PERCENT_OPERANDS) > 100_000:
            _PERCENT_OPERANDS.clear()  # bounded; rebuilt on demand
        policy = policy_set.policies[decision.policy.name][decision.policy.version]
        rule = next(r for r in policy.rules if r.id == decision.rule_id)
        _PERCENT_OPERANDS[key] = rule.outcome.external_percent
    operand = _PERCENT_OPERANDS[key]
    if operand is None:
        return 0
    if isinstance(operand, Param):
        return decision.parameters[operand.name].value
    assert isinstance(operand, Literal_)
    return value_of(operand, {}, {})


def outcome_of(decision: Decision, percent: Any) -> Outcome:
    return (
        decision.rule_id,
        percent,
        decision.external_priority,
        decision.store_units,
        tuple((a.channel, a.allocated_units) for a in decision.external_channels),
    )


def units_of(outcome: Outcome | None) -> dict[str, int]:
    if outcome is None:
        return {}
    return {"store": outcome[3], **dict(outcome[4])}


class DiffTally:
    """Accumulates decision pairs; `report()` gives the DiffReport."""

    def __init__(self, examples_per_transition: int = EXAMPLES_PER_TRANSITION) -> None:
        self.decisions = 0
        self.changed = 0
        self.refused = 0
        self._examples = examples_per_transition
        self._transitions: dict[tuple[str, str], Transition] = {}
        self.units_moved: dict[str, int] = {}

    def add(
        self,
        old: Outcome | None,
        new: Outcome | None,
        example: Example | None = None,
        count: int = 1,
    ) -> None:
        """One pair of outcomes (None: that side refused the request)."""
        self.decisions += count
        if old == new:
            return
        self.changed += count
        if old is None or new is None:
            self.refused += count
        before, after = units_of(old), units_of(new)
        for where in before.keys() | after.keys():
            delta = after.get(where, 0) - before.get(where, 0)
            if delta:
                self.units_moved[where] = self.units_moved.get(where, 0) + delta * count
        key = (old[0] if old else REFUSED, new[0] if new else REFUSED)
        transition = self._transitions.get(key)
        if transition is None:
            transition = self._transitions[key] = Transition(key[0], key[1], 0, [])
        transition.count += count
        if example is not None and len(transition.examples) < self._examples:
            transition.examples.append(example)

    def report(self) -> DiffReport:
        return DiffReport(
            decisions=self.decisions,
            changed=self.changed,
            transitions=sorted(
                self._transitions.values(), key=lambda t: (-t.count, t.from_rule, t.to_rule)
            ),
            units_moved=dict(
                sorted(self.units_moved.items(), key=lambda kv: (kv[0] != "store", kv[0]))
            ),
            refused=self.refused,
        )


class Differ:
    """Decides each request with two engines (trace off) and tallies the pairs."""

    def __init__(self, old: Engine, new: Engine) -> None:
        self.old, self.new = old, new
        self.tally = DiffTally()

    def add(
        self,
        request: DecideRequest,
        settings: Settings | None,
        at: str,
        raw: Mapping[str, Any] | None = None,
    ) -> None:
        old = _outcome(self.old, request, settings)
        new = _outcome(self.new, request, settings)
        example = None
        if old != new:
            body = dict(raw) if raw is not None else msgspec.to_builtins(request)
            example = Example(at, body)
        self.tally.add(old, new, example)

    def run(self, items: Iterable[tuple[DecideRequest, Settings | None, str]]) -> DiffReport:
        for request, settings, at in items:
            self.add(request, settings, at)
        return self.tally.report()


def _outcome(engine: Engine, request: DecideRequest, settings: Settings | None) -> Outcome | None:
    try:
        decision = engine.decide(request, settings, trace=False)
    except DecisionError:
        return None
    return outcome_of(decision, applied_percent(engine.policy_set, decision))
