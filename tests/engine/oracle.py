"""A plain reference interpreter of a loaded policy: the independent oracle for property tests.

It reads the loaded model (`engine.model`) and the request, and decides with the
simplest code that can be checked by eye: first match over `Policy.rules`, each
condition evaluated straight from the tree, and allocation done from the
contract's wording (docs/policies.md, "Allocation"). It deliberately imports nothing of the
engine's evaluation (`engine.conditions`, `engine.compile`, `engine.allocation`,
`engine.evaluate`), so a shared mistake cannot hide.

Condition semantics (engine/conditions.py's docstring):
- `not` is pushed down to the comparisons (De Morgan), so `not (a < b)` is `a >= b`;
- a comparison whose subject or operand is missing is false, also under `not`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Any

import msgspec

from engine.model import (
    All,
    Any_,
    Compare,
    Condition,
    Fact,
    Literal_,
    Member,
    Not,
    Operand,
    Param,
    Policy,
)
from engine.policy_set import PolicySet
from engine.types import DecideRequest, Settings

NEGATED_OP = {"eq": "ne", "ne": "eq", "lt": "ge", "ge": "lt", "le": "gt", "gt": "le"}


def facts_of(request: DecideRequest) -> dict[str, Any]:
    """The facts a rule may test; a product without a current price has no such fact."""
    product = request.product
    facts: dict[str, Any] = {
        "stock_quantity": product.stock_quantity,
        "days_since_last_sale": product.days_since_last_sale,
        "category": product.category,
        "title": product.title,
        "product_id": product.product_id,
        "proposed_price": _to_ten_thousandths(request.proposal.proposed_price),
        "duration_hours": request.proposal.duration_hours,
    }
    if product.current_price is not None:
        facts["current_price"] = _to_ten_thousandths(product.current_price)
    return facts


def _to_ten_thousandths(price: str) -> float:
    """Prices reach the rules to 0.0001 (half to even), as the contract's money allows."""
    return float(Decimal(price).quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN))


def params_of(
    policy_set: PolicySet, policy: Policy, request: DecideRequest, settings: Settings | None
) -> dict[str, Any]:
    """Effective parameters: defaults < override file < settings < request overrides."""
    params = {name: decl.default for name, decl in policy.params.items()}
    override = policy_set.overrides.get(request.merchant_id)
    if override is not None and override.policy == policy.name:
        params.update((k, v) for k, v in override.params.items() if k in params)
    if settings is not None:
        for name in settings.__struct_fields__:
            value = getattr(settings, name)
            if value is not msgspec.UNSET:
                params[name] = value
    params.update(request.overrides)
    return params


def operand_value(operand: Operand, facts: dict[str, Any], params: dict[str, Any]) -> Any:
    """The operand's value, or None when it is missing."""
    if isinstance(operand, Fact):
        return facts.get(operand.name)
    if isinstance(operand, Param):
        return params.get(operand.name)
    assert isinstance(operand, Literal_)
    return operand.value


def holds(
    condition: Condition | None,
    facts: dict[str, Any],
    params: dict[str, Any],
    negated: bool = False,
) -> bool:
    """Truth of `condition` (or of its De Morgan negation when `negated`)."""
    if condition is None:
        return not negated
    if isinstance(condition, Not):
        return holds(condition.child, facts, params, not negated)
    if isinstance(condition, All | Any_):
        results = [holds(c, facts, params, negated) for c in condition.children]
        # not(all) == any(not), not(any) == all(not)
        use_all = isinstance(condition, All) != negated
        return all(results) if use_all else any(results)
    left = operand_value(condition.subject, facts, params)
    right = operand_value(condition.operand, facts, params)
    if left is None or right is None:
        return False
    if isinstance(condition, Member):
        inside = any(left == item for item in right)
        want_inside = condition.negated == negated
        return inside if want_inside else not inside
    assert isinstance(condition, Compare)
    op = NEGATED_OP[condition.op] if negated else condition.op
    if op == "eq":
        return bool(left == right)
    if op == "ne":
        return bool(left != right)
    if op == "lt":
        return bool(left < right)
    if op == "le":
        return bool(left <= right)
    if op == "gt":
        return bool(left > right)
    return bool(left >= right)


def first_match(policy: Policy, facts: dict[str, Any], params: dict[str, Any]) -> int:
    """Index of the first rule whose condition holds (a policy always ends with a catch-all)."""
    for index, rule in enumerate(policy.rules):
        if holds(rule.when, facts, params):
            return index
    raise AssertionError(f"no rule of {policy.name} v{policy.version} matched")


def reference_allocation(stock: int, percent: float, channels: list[str]) -> list[tuple[str, int]]:
    """docs/policies.md's allocation read literally, with exact rational arithmetic for the floor.

    A float percentage means the decimal its author wrote (`12.5`), so it is read
    from its shortest repr, never from its binary approximation.
    """
    unique: list[str] = []
    for channel in channels:
        if channel not in unique:
            unique.append(channel)
    if not unique:
        return []
    exact = Fraction(percent) if isinstance(percent, int) else Fraction(repr(percent))
    external = (stock * exact) // 100  # floor of an exact rational
    n = len(unique)
    result = []
    for i, channel in enumerate(unique):
        units = external // n
        if i < external % n:
            units += 1
        if units > 0:
            result.append((channel, int(units)))
    return result


@dataclass(frozen=True)
class Expected:
    """What a correct engine must answer."""

    rule_index: int
    rule_id: str
    store_units: int
    external: list[tuple[str, int, str, int]]  # channel, units, price, duration_days
    external_priority: bool
    trace_matched: list[bool]


def expect(
    policy_set: PolicySet, request: DecideRequest, settings: Settings | None = None
) -> Expected:
    """The decision the contract requires for this request under the set's resolved policy."""
    policy = resolve(policy_set, request)
    assert policy is not None, "the request pins a version that is not loaded"
    facts = facts_of(request)
    params = params_of(policy_set, policy, request, settings)
    index = first_match(policy, facts, params)
    rule = policy.rules[index]
    allocated: list[tuple[str, int]] = []
    if rule.outcome.external and params["external_channels_enabled"]:
        assert rule.outcome.external_percent is not None
        percent = operand_value(rule.outcome.external_percent, facts, params)
        allocated = reference_allocation(
            request.product.stock_quantity, percent, list(params["enabled_external_channels"])
        )
    price = str(request.proposal.proposed_price)
    days = max(1, request.proposal.duration_hours // 24)
    return Expected(
        rule_index=index,
        rule_id=rule.id,
        store_units=request.product.stock_quantity - sum(units for _, units in allocated),
        external=[(channel, units, price, days) for channel, units in allocated],
        external_priority=rule.outcome.external_priority and bool(allocated),
        trace_matched=[False] * index + [True],
    )


def _fits(ptype: str, value: Any) -> bool:
    if ptype == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if ptype == "integer":
        return isinstance(value, int)
    if ptype == "number":
        return isinstance(value, int | float)
    if ptype == "string":
        return isinstance(value, str)
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def resolve(policy_set: PolicySet, request: DecideRequest) -> Policy | None:
    """The policy version for this request: request pin > override-file pin > staged > active."""
    override = policy_set.overrides.get(request.merchant_id)
    name = override.policy if override else "channel-routing"
    versions = policy_set.policies.get(name, {})
    version = (
        request.policy_version
        or (override.policy_version if override else None)
        or policy_set.staged.get(name, {}).get(request.merchant_id)
        or policy_set.active.get(name)
    )
    return versions.get(version) if version is not None else None


def request_problem(policy_set: PolicySet, request: DecideRequest) -> str | None:
    """The request field a correct engine must refuse (a bad pin or override), or None."""
    policy = resolve(policy_set, request)
    if policy is None:
        return "policy_version"
    percents = {
        r.outcome.external_percent.name
        for r in policy.rules
        if isinstance(r.outcome.external_percent, Param)
    }
    for key, given in request.overrides.items():
        value: Any = given
        decl = policy.params.get(key)
        bad = decl is None or not _fits(decl.type, value)
        if not bad and decl is not None and decl.type in ("integer", "number"):
            bad = (decl.minimum is not None and value < decl.minimum) or (
                decl.maximum is not None and value > decl.maximum
            )
            bad = bad or (key in percents and not 0 <= value <= 100)
            # The engine's number domain: 0, or 0.0001 to 1e15 in size.
            bad = bad or not (value == 0 or 0.0001 <= abs(value) <= 10**15)
        if bad:
            return f"overrides.{key}"
    return None
