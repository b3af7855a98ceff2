"""Condition semantics shared by the durable-rules compiler and the trace.

Semantics (both paths follow them, and the tests hold them to it):
- `not` is pushed down to the comparisons (De Morgan; `<` becomes `>=`, ...),
  because durable-rules cannot negate an expression.
- A comparison with a missing value (a product without `current_price`) is
  false, also under `not`: nothing is concluded from a value we do not have.

`compile_condition` turns a condition into two Python closures, built once per
policy version: one says whether it holds, the other tells a merchant, with the
actual values, which comparisons decided that. The trace of every decision
uses them, so they avoid walking the tree or formatting what is not shown.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from engine.model import (
    All,
    Any_,
    Compare,
    CompareOp,
    Condition,
    Fact,
    Literal_,
    Member,
    Not,
    Operand,
    Param,
    Policy,
)

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


Values = Mapping[str, Any]
_UNSEEN = object()
Check = Callable[[Values, Values], bool]
Why = Callable[[Values, Values], str]


def value_of(operand: Operand, facts: Values, params: Values) -> Any:
    if isinstance(operand, Fact):
        return facts.get(operand.name)
    if isinstance(operand, Param):
        return params.get(operand.name)
    return operand.value


def facts_used(policy: Policy) -> set[str]:
    """The names of the facts a policy's conditions and outcomes read."""
    found: set[str] = set()
    for rule in policy.rules:
        found.update(facts_read(rule.when))
        found.update(facts_read(rule.outcome.external_percent))
    return found


def facts_read(node: Condition | Operand | None) -> tuple[str, ...]:
    """The names of the facts a condition (or operand) reads, each once, in reading order:
    everything its `why` text can depend on besides the parameters."""
    found: dict[str, None] = {}

    def visit(node: Condition | Operand | None) -> None:
        if isinstance(node, Fact):
            found[node.name] = None
        elif isinstance(node, Compare | Member):
            visit(node.subject)
            visit(node.operand)
        elif isinstance(node, Not):
            visit(node.child)
        elif isinstance(node, All | Any_):
            for child in node.children:
                visit(child)

    visit(node)
    return tuple(found)


def leaf_truth(leaf: Compare | Member, negate: bool, facts: Values, params: Values) -> bool:
    """Truth of one comparison, negated if asked; False whenever a value is missing."""
    return compile_condition(leaf, negate)[0](facts, params)


def explain(
    condition: Condition | None, facts: Values, params: Values, negate: bool = False
) -> tuple[bool, str]:
    """(truth, why) of a condition for these values; see `compile_condition`."""
    check, why = compile_condition(condition, negate)
    return check(facts, params), why(facts, params)


def compile_condition(condition: Condition | None, negate: bool = False) -> tuple[Check, Why]:
    """(holds, why) closures for a condition, under `negate` (pushed down by De Morgan)."""
    if condition is None:
        return (lambda f, p: not negate), (lambda f, p: "no condition: matches everything")
    if isinstance(condition, Compare | Member):
        return _leaf(condition, negate)
    if isinstance(condition, Not):
        check, inner = compile_condition(condition.child, not negate)
        return check, lambda f, p: f"not ({inner(f, p)})"
    return _group(condition, negate)


def _getter(operand: Operand) -> Callable[[Values, Values], Any]:
    if isinstance(operand, Fact):
        fact = operand.name
        return lambda f, p: f.get(fact)
    if isinstance(operand, Param):
        param = operand.name
        return lambda f, p: p.get(param)
    value = operand.value
    return lambda f, p: value


def _shower(operand: Operand) -> Callable[[Values, Values], str]:
    """How an operand appears in a trace: `name (value)`, or the literal itself.

    Called for every rule of every traced decision, so each form is prepared
    once: literals at compile time, and a parameter's text is kept while its
    value is the same object (parameter values are shared per merchant).
    """
    if isinstance(operand, Literal_):
        text = _fmt(operand.value)
        return lambda f, p: text
    name = operand.name
    opening = name + " ("
    if isinstance(operand, Fact):

        def show_fact(f: Values, p: Values) -> str:
            value = f.get(name)
            kind = type(value)
            return opening + (str(value) if kind is int or kind is str else _fmt(value)) + ")"

        return show_fact
    kept: list[Any] = [_UNSEEN, ""]  # (value, text)

    def show_param(f: Values, p: Values) -> str:
        value = p.get(name)
        if value is not kept[0]:
            kept[0], kept[1] = value, opening + _fmt(value) + ")"
        text: str = kept[1]
        return text

    return show_param


def _fmt(value: Any) -> str:
    if value is None:
        return "missing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


def _leaf(leaf: Compare | Member, negate: bool) -> tuple[Check, Why]:
    left, right = _getter(leaf.subject), _getter(leaf.operand)
    if isinstance(leaf, Member):
        inside = leaf.negated == negate
        symbol = "not in" if leaf.negated else "in"

        def check(f: Values, p: Values) -> bool:
            a, b = left(f, p), right(f, p)
            return a is not None and b is not None and (a in b) == inside

    else:
        compare = PYTHON_OP[FLIP[leaf.op] if negate else leaf.op]
        symbol = SYMBOL[leaf.op]

        def check(f: Values, p: Values) -> bool:
            a, b = left(f, p), right(f, p)
            return a is not None and b is not None and compare(a, b)

    show_left, show_right = _shower(leaf.subject), _shower(leaf.operand)
    return check, lambda f, p: f"{show_left(f, p)} {symbol} {show_right(f, p)}"


def _group(condition: All | Any_, negate: bool) -> tuple[Check, Why]:
    compiled = [compile_condition(child, negate) for child in condition.children]
    checks: Sequence[Check] = [c for c, _ in compiled]
    whys: Sequence[Why] = [w for _, w in compiled]
    joiner = " and " if isinstance(condition, All) else " or "
    if not compiled:
        truth = isinstance(condition, All) != negate
        word = "all" if isinstance(condition, All) else "any"
        return (lambda f, p: truth), (lambda f, p: f"empty '{word}'")
    # Under negation an `all` behaves as an `any` and vice versa (De Morgan).
    conjunctive = isinstance(condition, All) != negate

    def check(f: Values, p: Values) -> bool:
        for one in checks:
            if one(f, p) != conjunctive:
                return not conjunctive
        return conjunctive

    def why(f: Values, p: Values) -> str:
        # Only the decisive children are described: the first that settles the
        # group, or all of them when none does.
        for one, say in zip(checks, whys, strict=True):
            if one(f, p) != conjunctive:
                return say(f, p)
        return joiner.join(say(f, p) for say in whys)

    return check, why
