"""Input regions of policy conditions, exactly: intervals over numbers, sets over strings.

`policy lint` reasons over what a condition can match, not over samples. An
input is a point: every fact (engine.model.FACT_TYPES) plus the merchant
settings, which vary per merchant and campaign. A region is a union of boxes;
a box constrains each variable independently:

- a numeric fact to a union of integer intervals (prices in units of 0.0001,
  the precision the rules see), plus "missing" for the optional `current_price`;
- a string fact to a finite set of strings, or to every string but a finite set;
- a boolean setting (`external_channels_enabled`) to true, false or both;
- a comparison that involves a list setting (`category in
  external_excluded_categories`) is an atom: a variable that is true or false.

Parameters other than the settings are constants (policy default, then the
merchant override file). The semantics are those of engine.conditions: `not`
is pushed down by De Morgan, and a comparison on a missing value is false,
also under `not`. Atoms are treated as independent, so a region may include
combinations no merchant can set up; an empty region is always truly empty,
which is what "masked" and "never holds" claim.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Union

from engine.conditions import FLIP, compile_condition
from engine.model import (
    SETTINGS_PARAMS,
    All,
    Compare,
    CompareOp,
    Condition,
    Fact,
    Member,
    Not,
    Operand,
    Param,
)
from engine.types import MAX_PRICE

PRICE_SCALE = 10_000  # the rules see prices to 0.0001 (engine.evaluate._price)
MAX_COUNT = 1_000_000_000  # engine.types.NonNegInt
MAX_HOURS = 24 * 366  # engine.types.Proposal.duration_hours


@dataclass(frozen=True)
class NumberFact:
    """A numeric fact's domain: integers lo..hi, values scaled by `scale`."""

    lo: int
    hi: int
    scale: int = 1
    optional: bool = False


NUMBER_FACTS: dict[str, NumberFact] = {
    "stock_quantity": NumberFact(0, MAX_COUNT),
    "days_since_last_sale": NumberFact(0, MAX_COUNT),
    "duration_hours": NumberFact(1, MAX_HOURS),
    "proposed_price": NumberFact(0, int(MAX_PRICE * PRICE_SCALE), PRICE_SCALE),
    "current_price": NumberFact(0, int(MAX_PRICE * PRICE_SCALE), PRICE_SCALE, optional=True),
}
STRING_FACTS = ("category", "title", "product_id")
FREE_BOOL = "external_channels_enabled"
MAX_BOXES = 20_000


class TooComplex(Exception):
    """The region grew past MAX_BOXES boxes: the policy is analysed no further."""


# ---------------------------------------------------------------- one variable


@dataclass(frozen=True)
class Numbers:
    """Integer intervals (inclusive, sorted, disjoint) and whether "missing" is in."""

    spans: tuple[tuple[int, int], ...]
    missing: bool = False

    def meet(self, other: Numbers) -> Numbers:
        out: list[tuple[int, int]] = []
        i = j = 0
        a, b = self.spans, other.spans
        while i < len(a) and j < len(b):
            lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
            if lo <= hi:
                out.append((lo, hi))
            if a[i][1] < b[j][1]:
                i += 1
            else:
                j += 1
        return Numbers(tuple(out), self.missing and other.missing)

    def join(self, other: Numbers) -> Numbers:
        spans = sorted(self.spans + other.spans)
        out: list[tuple[int, int]] = []
        for lo, hi in spans:
            if out and lo <= out[-1][1] + 1:
                out[-1] = (out[-1][0], max(out[-1][1], hi))
            else:
                out.append((lo, hi))
        return Numbers(tuple(out), self.missing or other.missing)

    def empty(self) -> bool:
        return not self.spans and not self.missing


@dataclass(frozen=True)
class Strings:
    """`members` (finite), or every string except `members` when `cofinite`."""

    members: frozenset[str]
    cofinite: bool = False

    def meet(self, other: Strings) -> Strings:
        if self.cofinite and other.cofinite:
            return Strings(self.members | other.members, True)
        if self.cofinite:
            return Strings(other.members - self.members)
        if other.cofinite:
            return Strings(self.members - other.members)
        return Strings(self.members & other.members)

    def join(self, other: Strings) -> Strings:
        if self.cofinite and other.cofinite:
            return Strings(self.members & other.members, True)
        if self.cofinite:
            return Strings(self.members - other.members, True)
        if other.cofinite:
            return Strings(other.members - self.members, True)
        return Strings(self.members | other.members)

    def empty(self) -> bool:
        return not self.cofinite and not self.members


@dataclass(frozen=True)
class Truth:
    """A boolean variable's allowed values."""

    values: frozenset[bool]

    def meet(self, other: Truth) -> Truth:
        return Truth(self.values & other.values)

    def join(self, other: Truth) -> Truth:
        return Truth(self.values | other.values)

    def empty(self) -> bool:
        return not self.values


Constraint = Union[Numbers, Strings, Truth]  # noqa: UP007  (a runtime alias)
Box = dict[str, Constraint]  # variable -> constraint; absent = anything
Region = list[Box]
BOTH = frozenset((True, False))


def full(var: str) -> Constraint:
    """Everything a variable can be."""
    fact = NUMBER_FACTS.get(var)
    if fact is not None:
        return Numbers(((fact.lo, fact.hi),), fact.optional)
    if var in STRING_FACTS:
        return Strings(frozenset(), True)
    return Truth(BOTH)


def complement(var: str, c: Constraint) -> Constraint:
    """Everything `var` can be that `c` does not allow."""
    if isinstance(c, Numbers):
        fact = NUMBER_FACTS[var]
        out: list[tuple[int, int]] = []
        at = fact.lo
        for lo, hi in c.spans:
            if lo > at:
                out.append((at, lo - 1))
            at = max(at, hi + 1)
        if at <= fact.hi:
            out.append((at, fact.hi))
        return Numbers(tuple(out), fact.optional and not c.missing)
    if isinstance(c, Strings):
        return Strings(c.members, not c.cofinite)
    return Truth(BOTH - c.values)


def is_full(var: str, c: Constraint) -> bool:
    return complement(var, c).empty()


# ---------------------------------------------------------------- boxes and regions


def meet_boxes(a: Box, b: Box) -> Box | None:
    """a ∩ b, or None when empty."""
    out = dict(a)
    for var, c in b.items():
        mine = out.get(var)
        both = c if mine is None else mine.meet(c)  # type: ignore[arg-type]
        if both.empty():
            return None
        out[var] = both
    return out


def meet(a: Region, b: Region) -> Region:
    out = [box for x in a for y in b if (box := meet_boxes(x, y)) is not None]
    _guard(out)
    return out


def minus_box(a: Box, b: Box) -> Region:
    """a minus b as disjoint boxes: for each variable b constrains, the part of `a`
    that agrees with b on the variables before it and disagrees on this one."""
    if meet_boxes(a, b) is None:
        return [a]
    out: Region = []
    prefix = dict(a)
    for var, c in b.items():
        mine = prefix.get(var, full(var))
        outside = mine.meet(complement(var, c))  # type: ignore[arg-type]
        if not outside.empty():
            out.append({**prefix, var: outside})
        inside = mine.meet(c)  # type: ignore[arg-type]
        prefix[var] = inside
    return out


def minus(a: Region, b: Iterable[Box]) -> Region:
    out = list(a)
    for cut in b:
        out = [piece for box in out for piece in minus_box(box, cut)]
        _guard(out)
        if not out:
            break
    return out


def _guard(region: Region) -> None:
    if len(region) > MAX_BOXES:
        raise TooComplex(f"more than {MAX_BOXES} regions")


def simplify(region: Region) -> Region:
    """Merge boxes that differ in one variable, until none do (for readable findings)."""
    boxes = [_normal(b) for b in region]
    changed = True
    while changed and len(boxes) > 1:
        changed = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                merged = _merge(boxes[i], boxes[j])
                if merged is not None:
                    boxes[i] = merged
                    del boxes[j]
                    changed = True
                    break
            if changed:
                break
    return boxes


def _normal(box: Box) -> Box:
    return {v: c for v, c in sorted(box.items()) if not is_full(v, c)}


def _merge(a: Box, b: Box) -> Box | None:
    keys = set(a) | set(b)
    differ = [v for v in keys if a.get(v, full(v)) != b.get(v, full(v))]
    if len(differ) > 1:
        return None
    if not differ:
        return a
    var = differ[0]
    joined = a.get(var, full(var)).join(b.get(var, full(var)))  # type: ignore[arg-type]
    return _normal({**a, var: joined})


# ---------------------------------------------------------------- conditions


class Env:
    """What a region is computed against: constant parameter values; settings are free."""

    def __init__(self, params: Mapping[str, Any]) -> None:
        self.params = params

    def free(self, operand: Operand) -> bool:
        return isinstance(operand, Param) and operand.name in SETTINGS_PARAMS

    def const(self, operand: Operand) -> Any:
        if isinstance(operand, Param):
            return self.params.get(operand.name)
        return operand.value  # type: ignore[union-attr]


def region_of(condition: Condition | None, env: Env, negate: bool = False) -> Region:
    """The inputs for which `condition` holds (or, with `negate`, its pushed-down negation)."""
    if condition is None:
        return [] if negate else [{}]
    if isinstance(condition, Not):
        return region_of(condition.child, env, not negate)
    if isinstance(condition, Compare | Member):
        return _leaf(condition, env, negate)
    conjunctive = isinstance(condition, All) != negate
    parts = [region_of(child, env, negate) for child in condition.children]
    if conjunctive:
        out: Region = [{}]
        for part in parts:
            out = meet(out, part)
            if not out:
                break
        return out
    union = [box for part in parts for box in part]
    _guard(union)
    return union


def _leaf(leaf: Compare | Member, env: Env, negate: bool) -> Region:
    subject, operand = leaf.subject, leaf.operand
    if isinstance(subject, Fact) and not env.free(operand):
        value = env.const(operand)
        if subject.name in NUMBER_FACTS and isinstance(leaf, Compare):
            op = FLIP[leaf.op] if negate else leaf.op
            return _box(subject.name, _numbers(subject.name, op, value))
        if subject.name in STRING_FACTS:
            return _box(subject.name, _strings(leaf, value, negate))
    if not isinstance(subject, Fact) and not env.free(subject) and not env.free(operand):
        # Parameters and literals only: the comparison is true or false outright.
        holds = compile_condition(leaf, negate)[0]({}, env.params)
        return [{}] if holds else []
    if isinstance(leaf, Compare) and leaf.op in ("eq", "ne"):
        sides = (subject, operand)
        if all(isinstance(s, Param) and s.name == FREE_BOOL for s in sides):
            return [{}] if (leaf.op == "eq") != negate else []
        names = {s.name for s in sides if isinstance(s, Param) and env.free(s)}
        if names == {FREE_BOOL}:
            other = operand if env.free(subject) else subject
            value = env.const(other)
            if isinstance(value, bool):
                wanted = value if (leaf.op == "eq") != negate else not value
                return _box(f"param:{FREE_BOOL}", Truth(frozenset((wanted,))))
            return [] if (leaf.op == "eq") != negate else [{}]
        if len(names) == 1 and all(isinstance(s, Param) and s.name in names for s in sides):
            return [{}] if (leaf.op == "eq") != negate else []
    # A comparison with a list setting: true or false, as the merchant sets it up.
    truth = _atom_truth(leaf, negate)
    return _box(atom_name(leaf, env), Truth(frozenset((truth,))))


def _box(var: str, c: Constraint) -> Region:
    return [] if c.empty() else [{var: c}]


def _atom_truth(leaf: Compare | Member, negate: bool) -> bool:
    if isinstance(leaf, Member):
        return leaf.negated == negate
    return (leaf.op == "eq") != negate


def atom_name(leaf: Compare | Member, env: Env) -> str:
    """`atom:category in external_excluded_categories` (the positive form, sides sorted for ==)."""

    def side(operand: Operand) -> str:
        if isinstance(operand, Fact):
            return operand.name
        if env.free(operand):
            return operand.name  # type: ignore[union-attr]
        return repr(env.const(operand))

    if isinstance(leaf, Member):
        return f"atom:{side(leaf.subject)} in {side(leaf.operand)}"
    left, right = sorted((side(leaf.subject), side(leaf.operand)))
    return f"atom:{left} == {right}"


def _numbers(fact: str, op: CompareOp, value: Any) -> Numbers:
    """The scaled integers x of `fact` with `x OP value` (never "missing")."""
    domain = NUMBER_FACTS[fact]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return Numbers(())  # the loader refuses this; nothing matches
    # A float is read as the decimal its author wrote, as prices are (engine.allocation).
    c = (Fraction(repr(value)) if isinstance(value, float) else Fraction(value)) * domain.scale
    lo, hi = domain.lo, domain.hi
    if op == "lt":
        hi = min(hi, math.ceil(c) - 1)
    elif op == "le":
        hi = min(hi, math.floor(c))
    elif op == "gt":
        lo = max(lo, math.floor(c) + 1)
    elif op == "ge":
        lo = max(lo, math.ceil(c))
    elif op == "eq":
        if c.denominator != 1:
            return Numbers(())
        lo, hi = max(lo, int(c)), min(hi, int(c))
    else:  # ne
        whole = Numbers(((domain.lo, domain.hi),))
        if c.denominator != 1:
            return whole
        return whole.meet(complement(fact, Numbers(((int(c), int(c)),))))  # type: ignore[arg-type]
    return Numbers(((lo, hi),) if lo <= hi else ())


def _strings(leaf: Compare | Member, value: Any, negate: bool) -> Strings:
    if isinstance(leaf, Member):
        items = frozenset(v for v in value if isinstance(v, str)) if isinstance(value, list) else []
        inside = leaf.negated == negate
        return Strings(frozenset(items), cofinite=not inside)
    equal = (leaf.op == "eq") != negate
    if not isinstance(value, str):
        return Strings(frozenset(), cofinite=not equal)
    return Strings(frozenset((value,)), cofinite=not equal)


# ---------------------------------------------------------------- describing and sampling


def describe(box: Box) -> str:
    """`stock_quantity 0..20, days_since_last_sale >= 14, category not in [Jewelry]`."""
    parts = [_describe(var, c) for var, c in sorted(_normal(box).items())]
    return ", ".join(parts) or "any input"


def _describe(var: str, c: Constraint) -> str:
    if isinstance(c, Numbers):
        fact = NUMBER_FACTS[var]
        spans = []
        for lo, hi in c.spans:
            a, b = _unscale(lo, fact.scale), _unscale(hi, fact.scale)
            if lo == hi:
                spans.append(a)
            elif hi == fact.hi:
                spans.append(f">= {a}")
            elif lo == fact.lo:
                spans.append(f"<= {b}")
            else:
                spans.append(f"{a}..{b}")
        if c.missing:
            spans.append("missing")
        return f"{var} " + " or ".join(spans) if spans else f"{var} impossible"
    if isinstance(c, Strings):
        listed = ", ".join(sorted(c.members))
        if c.cofinite:
            return f"{var} not in [{listed}]"
        return f"{var} = {listed}" if len(c.members) == 1 else f"{var} in [{listed}]"
    name = var.split(":", 1)[1]
    if var.startswith("param:"):
        return f"{name} = {'true' if True in c.values else 'false'}"
    return name if True in c.values else f"not ({name})"


def _unscale(value: int, scale: int) -> str:
    if scale == 1:
        return str(value)
    return str(Fraction(value, scale).limit_denominator(scale).__float__())


STRING_CANDIDATES = ("Apparel", "Home", "Toys", "other")


def sample(box: Box) -> dict[str, Any]:
    """One point of a box: variable -> value (prices as decimal strings, None = missing)."""
    point: dict[str, Any] = {}
    for var, c in box.items():
        if isinstance(c, Numbers):
            fact = NUMBER_FACTS[var]
            if c.spans:
                value = c.spans[0][0]
                point[var] = value if fact.scale == 1 else price_text(value)
            else:
                point[var] = None
        elif isinstance(c, Strings):
            if not c.cofinite:
                point[var] = sorted(c.members)[0]
            else:
                point[var] = next(
                    (s for s in STRING_CANDIDATES if s not in c.members),
                    _fresh(c.members),
                )
        else:
            # Either value will do: true for the on/off setting, false (an empty list) for atoms.
            point[var] = True in c.values and (len(c.values) == 1 or var.startswith("param:"))
    return point


def _fresh(taken: frozenset[str]) -> str:
    n = 0
    while f"x{n}" in taken:
        n += 1
    return f"x{n}"


def price_text(scaled: int) -> str:
    """A scaled price as the decimal string a request carries (`19.99`)."""
    whole, frac = divmod(scaled, PRICE_SCALE)
    return f"{whole}.{frac:04d}".rstrip("0").rstrip(".") if frac else str(whole)
