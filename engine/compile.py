"""Compile one policy version into one durable-rules ruleset (DESIGN §3).

- First match: rule k gets `pri(k)`; the event is consumed by the rule that fires.
- durable-rules decides which rule fires, through its C engine
  (`durable_rules_engine`) called directly: the rule expressions are written with
  `durable.lang` and turned into the ruleset definition it would register, but
  the ruleset handle is our own. `durable.lang.post` would cost five times as
  much (JSON dumps and loads, a Closure per call), and a ruleset registered with
  durable's Host is polled by the Host's 0.2 s dispatch timer, which calls
  `start_action` on it from another thread and can take our action first.
  A post is three C calls: assert the event, start the action (the rule that
  fired is the action's name) and complete it, which consumes the event.
  Written for durable-rules 2.0.28 (pinned in pyproject.toml).
- One ruleset per policy version, never per merchant: the merchant's effective
  parameters ride in each posted message. Rulesets cannot be deleted safely, so
  compiled rulesets are kept for the life of the process and shared by content
  hash (a reload of unchanged files reuses them).
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
- The binding is not thread-safe: call `first_match` from one thread.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping
from typing import Any

import msgspec

try:
    import durable_rules_engine
    from durable import lang
except ImportError as exc:  # an unpatched build on Python 3.13+: say how to get a working one
    if "PyEval_CallObject" not in str(exc):
        raise
    raise ImportError(
        f"{exc}\ndurable-rules 2.0.28 was built from its unpatched source, which this Python "
        f"cannot load; `{sys.executable} tools/durable_rules_wheel.py --install` (from the "
        "repository) installs the patched build (docs/configuration.md, Installing)"
    ) from exc

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
_PREFIXES_KEPT = 4096  # parameter sets whose encoded form is kept per policy version
_RESULT_CODES = {1: "no rule matched", 2: "the event was seen before", 3: "the event was deferred"}

_encode = msgspec.json.Encoder().encode


class RulesetError(RuntimeError):
    """durable-rules refused an event or fired no rule for it (a compiler bug, not input)."""


class CompiledPolicy:
    """A policy version bound to its own durable-rules ruleset handle."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.ruleset = f"channel-router:{policy.name}:{policy.version}:{policy.sha256[:16]}"
        self.facts: dict[str, str] = {}  # fact name -> message field
        self.params: dict[str, str] = {}  # param name -> message field
        self.members: list[tuple[str, Check]] = []  # flags computed in Python
        # The definition durable.lang would register: rule `r_k` has priority k.
        # Built from rules that belong to no `lang.ruleset`, so nothing reaches the Host.
        self.definition: dict[str, Any] = {
            f"r_{index}": lang.when_all(
                lang.pri(index), self._expression(rule.when, False)
            ).define()
            for index, rule in enumerate(policy.rules)
        }
        self._handle: int = durable_rules_engine.create_ruleset(
            self.ruleset, json.dumps(self.definition, ensure_ascii=False)
        )
        # Encoded `{"a":true,"p0":...` per parameter set, by identity (see `_prefix`).
        self._prefixes: dict[int, tuple[Mapping[str, Any], bytes]] = {}

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

    def encoded(self, facts: Mapping[str, Any], params: Mapping[str, Any]) -> str:
        """`message(facts, params)` as the JSON text durable-rules reads.

        The parameter part is encoded once per parameter set and spliced in front
        of the per-request part (facts and flags).
        """
        rest: dict[str, Any] = {}
        for name, field in self.facts.items():
            value = facts.get(name)
            if value is not None:
                rest[field] = value
        for flag, check in self.members:
            rest[flag] = check(facts, params)
        prefix = self._prefix(params)
        if not rest:
            return (prefix + b"}").decode()
        return (prefix + b"," + _encode(rest)[1:]).decode()

    def _prefix(self, params: Mapping[str, Any]) -> bytes:
        """`{"a":true,"p0":...` without its closing brace, cached by the identity of `params`.

        The Engine hands the same (never mutated) dict for the same merchant and
        settings; the entry keeps that dict alive, so its id cannot be reused by
        another while the entry exists.
        """
        found = self._prefixes.get(id(params))
        if found is not None and found[0] is params:
            return found[1]
        head = {_ALWAYS: True, **{field: params[name] for name, field in self.params.items()}}
        prefix = _encode(head)[:-1]
        if len(self._prefixes) >= _PREFIXES_KEPT:
            self._prefixes.clear()
        self._prefixes[id(params)] = (params, prefix)
        return prefix

    def first_match(self, facts: Mapping[str, Any], params: Mapping[str, Any]) -> int:
        """Index of the first rule whose condition holds, decided by durable-rules.

        Three calls into durable-rules' engine: assert the event; start the action
        for its state, whose message names the rule that fired (`{"r_3":{"m":...}}`);
        complete the action, which consumes the event (first match wins).
        """
        handle = self._handle
        code, state = durable_rules_engine.assert_event(handle, self.encoded(facts, params))
        if code:
            raise RulesetError(f"{self.ruleset}: {_RESULT_CODES.get(code, code)}")
        started = durable_rules_engine.start_action_for_state(handle, state)
        if started is None:
            raise RulesetError(f"{self.ruleset}: no rule fired")
        fired = started[1]
        if durable_rules_engine.complete_and_start_action(handle, state) is not None:
            raise RulesetError(f"{self.ruleset}: a second rule fired for one event")
        # The action's name is the rule's key: `{"r_<index>":`.
        return int(fired[4 : fired.index('"', 4)])


class PostReference:
    """The same ruleset registered with durable's Host and driven by `durable.lang.post`.

    Not used to decide: it is what the direct path is held to (tests require the
    same rule on every generated input) and measured against (bench/engine.py).
    The Host's dispatch timer may run an action on its own thread, so the fired
    rule is awaited until it is recorded.
    """

    _made: dict[str, PostReference] = {}

    def __init__(self, compiled_policy: CompiledPolicy) -> None:
        self.compiled = compiled_policy
        self.ruleset = compiled_policy.ruleset + ":lang.post"
        self.fired: list[int] = []
        definition = {
            key: {**rule, "run": self._recorder(int(key[2:]))}
            for key, rule in compiled_policy.definition.items()
        }
        lang.get_host().register_rulesets({self.ruleset: definition})

    @classmethod
    def of(cls, compiled_policy: CompiledPolicy) -> PostReference:
        """One per compiled policy (durable's Host refuses a name registered twice)."""
        found = cls._made.get(compiled_policy.ruleset)
        if found is None:
            found = cls._made[compiled_policy.ruleset] = cls(compiled_policy)
        return found

    def _recorder(self, index: int) -> Any:
        fired = self.fired

        def action(_context: Any) -> None:
            fired.append(index)

        return action

    def post(self, message: Mapping[str, Any]) -> None:
        """`lang.post` of a ready message (what the benchmark times)."""
        lang.post(self.ruleset, message)

    def first_match(self, facts: Mapping[str, Any], params: Mapping[str, Any]) -> int:
        """The rule `lang.post` fires for this message."""
        self.post(self.compiled.message(facts, params))
        deadline = time.monotonic() + 5
        while not self.fired and time.monotonic() < deadline:
            time.sleep(0.001)  # the Host's timer thread is running the action
        return self.fired.pop()


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
