"""Condition semantics shared by the durable-rules compiler and the trace.

Semantics (both paths follow them, and the tests hold them to it):
- `not` is pushed down to the comparisons (De Morgan; `<` becomes `>=`, ...),
  because durable-rules cannot negate an expression.
- A comparison with a missing value (a product without `current_price`) is
  false, also under `not`: nothing is concluded from a value we do not have.

`explain` evaluates a condition in Python to tell a merchant, with the actual
values, which comparison decided the outcome of a rule.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from engine.model import All, Compare, CompareOp, Condition, Fact, Member, Not, Operand, Param

FLIP: dict[CompareOp, CompareOp] = {
    "eq": "ne", "ne": "eq", "lt": "ge", "ge": "lt", "le": "gt", "gt": "le",
}  # fmt: skip
SYMBOL: dict[CompareOp, str] = {
    "eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">=",
}  # fmt: skip
PYTHON_OP: dict[CompareOp, Callable[[Any, Any], bool]] = {
    "eq": operator.eq, "ne": operator.ne, "lt": operator.lt,
    "le": operator.le, "gt": operator.gt, "ge": operator.ge,
}  # fmt: skip


def value_of(operand: Operand, facts: Mapping[str, Any], params: Mapping[str, Any]) -> Any:
    if isinstance(operand, Fact):
        return facts.get(operand.name)
    if isinstance(operand, Param):
        return params.get(operand.name)
    return operand.value


def leaf_truth(
    leaf: Compare | Member, negate: bool, facts: Mapping[str, Any], params: Mapping[str, Any]
) -> bool:
    """Truth of one comparison, negated if asked; False whenever a value is missing."""
    left = value_of(leaf.subject, facts, params)
    right = value_of(leaf.operand, facts, params)
    if left is None or right is None:
        return False
    if isinstance(leaf, Member):
        return (left in right) != (leaf.negated != negate)
    op = FLIP[leaf.op] if negate else leaf.op
    return PYTHON_OP[op](left, right)


def _show(operand: Operand, facts: Mapping[str, Any], params: Mapping[str, Any]) -> str:
    value = value_of(operand, facts, params)
    shown = "missing" if value is None else _fmt(value)
    if isinstance(operand, Fact | Param):
        return f"{operand.name} ({shown})"
    return shown


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


def describe(leaf: Compare | Member, facts: Mapping[str, Any], params: Mapping[str, Any]) -> str:
    symbol = ("not in" if leaf.negated else "in") if isinstance(leaf, Member) else SYMBOL[leaf.op]
    return f"{_show(leaf.subject, facts, params)} {symbol} {_show(leaf.operand, facts, params)}"


def explain(
    condition: Condition | None,
    facts: Mapping[str, Any],
    params: Mapping[str, Any],
    negate: bool = False,
) -> tuple[bool, str]:
    """(truth, why): `why` names the comparisons that settle the truth, with values."""
    if condition is None:
        return (not negate, "no condition: matches everything")
    if isinstance(condition, Compare | Member):
        return leaf_truth(condition, negate, facts, params), describe(condition, facts, params)
    if isinstance(condition, Not):
        truth, why = explain(condition.child, facts, params, not negate)
        return truth, f"not ({why})"
    results = [explain(child, facts, params, negate) for child in condition.children]
    if not results:
        truth = isinstance(condition, All) != negate
        return truth, f"empty '{'all' if isinstance(condition, All) else 'any'}'"
    # Under negation an `all` behaves as an `any` and vice versa (De Morgan).
    if isinstance(condition, All) != negate:
        truth = all(t for t, _ in results)
        decisive = [w for _, w in results] if truth else [next(w for t, w in results if not t)]
    else:
        truth = any(t for t, _ in results)
        decisive = [next(w for t, w in results if t)] if truth else [w for _, w in results]
    joiner = " and " if isinstance(condition, All) else " or "
    return truth, joiner.join(decisive)
