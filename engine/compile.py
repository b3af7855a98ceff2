"""Compile one policy version into one durable-rules ruleset (DESIGN §3).

- First match: rule k gets `pri(k)`; the event is consumed by the rule that fires.
- One ruleset per policy version, never per merchant: the merchant's effective
  parameters ride in each posted message. Rulesets are global in durable-rules
  and cannot be deleted, so compiled rulesets are kept for the life of the
  process and shared by content hash (a reload of unchanged files reuses them).
- Messages use generated field names (`f0`, `p1`, `b2`, ...): no field is ever
  named `id` (durable-rules' de-duplication key) and no policy name can collide
  with an attribute of durable's expression objects.
- `in`/`not_in` against a parameter list, and eq/ne between list parameters, are
  computed in Python before posting (a boolean field); everything else is
  evaluated by durable-rules.
- Numbers stay where durable-rules reads them exactly (it caps integers at
  int64 and cannot parse `1e-05` or `1e+16`): the loader keeps parameters and
  literals to 0 or 0.0001..1e15 in size, and prices reach the rules rounded
  to 0.0001.
- Actions only record which rule fired (exceptions inside actions are
  swallowed by durable-rules); the Decision is built outside.
- The binding is not thread-safe: call `first_match` from one thread.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from durable import lang

from engine.conditions import FLIP, Check, compile_condition
from engine.model import (
    All,
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

_ALWAYS = "a"  # a field every message carries, for rules with no condition
_COMPILED: dict[str, CompiledPolicy] = {}


class CompiledPolicy:
    """A policy version bound to its durable-rules ruleset."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.ruleset = f"channel-router:{policy.name}:{policy.version}:{policy.sha256[:16]}"
        self.facts: dict[str, str] = {}  # fact name -> message field
        self.params: dict[str, str] = {}  # param name -> message field
        self.members: list[tuple[str, Check]] = []  # flags computed in Python
        self._fired: list[int] = []
        with lang.ruleset(self.ruleset):
            for index, rule in enumerate(policy.rules):
                expression = self._expression(rule.when, negate=False)
                lang.when_all(lang.pri(index), expression)(self._recorder(index))

    def _recorder(self, index: int) -> Any:
        fired = self._fired

        def action(_context: Any) -> None:
            fired.append(index)

        action.__name__ = f"rule_{index}"
        return action

    def _field(self, operand: Operand) -> Any:
        if isinstance(operand, Fact):
            return getattr(lang.m, self.facts.setdefault(operand.name, f"f{len(self.facts)}"))
        if isinstance(operand, Param):
            return getattr(lang.m, self.params.setdefault(operand.name, f"p{len(self.params)}"))
        return operand.value

    def _expression(self, condition: Condition | None, negate: bool) -> Any:
        if condition is None:
            return getattr(lang.m, _ALWAYS) == (not negate)
        if isinstance(condition, Not):
            return self._expression(condition.child, not negate)
        if isinstance(condition, Compare) and not self._is_list(condition.subject):
            # The subject is always a fact or a parameter (the schema says so).
            op = FLIP[condition.op] if negate else condition.op
            return _OPS[op](self._field(condition.subject), self._field(condition.operand))
        if isinstance(condition, Member) and isinstance(condition.operand, Literal_):
            # A literal list is spelled out as == comparisons (or != when negated).
            # The subject is a string, which never equals a number or boolean item;
            # durable-rules would say "true" == true, so such items are left out.
            inside = condition.negated == negate
            parts = [
                _OPS["eq" if inside else "ne"](self._field(condition.subject), value)
                for value in condition.operand.value  # type: ignore[union-attr]
                if isinstance(value, str)
            ]
            if not parts:
                return getattr(lang.m, _ALWAYS) == (not inside)
            return _combine(parts, conjunctive=not inside)
        if isinstance(condition, Compare | Member):
            # Membership in a parameter list, and eq/ne between two lists (durable-rules
            # finds two lists neither equal nor unequal), are computed before posting.
            flag = f"b{len(self.members)}"
            self.members.append((flag, compile_condition(condition, negate)[0]))
            return getattr(lang.m, flag) == True  # noqa: E712  (a durable expression)
        children = [self._expression(c, negate) for c in condition.children]
        conjunctive = isinstance(condition, All) != negate
        if not children:
            return getattr(lang.m, _ALWAYS) == conjunctive
        return _combine(children, conjunctive)

    def _is_list(self, operand: Operand) -> bool:
        decl = self.policy.params.get(operand.name) if isinstance(operand, Param) else None
        return decl is not None and decl.type == "string_list"

    def message(self, facts: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
        """The message to post: only the values the rules test, under generated names."""
        msg: dict[str, Any] = {_ALWAYS: True}
        for name, field in self.facts.items():
            value = facts.get(name)
            if value is not None:
                msg[field] = value
        for name, field in self.params.items():
            msg[field] = params[name]
        for flag, check in self.members:
            msg[flag] = check(facts, params)
        return msg

    def first_match(self, facts: Mapping[str, Any], params: Mapping[str, Any]) -> int:
        """Index of the first rule whose condition holds, decided by durable-rules."""
        lang.post(self.ruleset, self.message(facts, params))
        return self._fired.pop()


_OPS: dict[str, Any] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
}


def _combine(parts: list[Any], conjunctive: bool) -> Any:
    expression = parts[0]
    for part in parts[1:]:
        expression = (expression & part) if conjunctive else (expression | part)
    return expression


def compiled(policy: Policy) -> CompiledPolicy:
    """The process-wide compiled form of a policy version (built on first use)."""
    # Same bytes, same rules: a reload or a copy of a file reuses the ruleset.
    found = _COMPILED.get(policy.sha256)
    if found is None:
        found = _COMPILED[policy.sha256] = CompiledPolicy(policy)
    return found
