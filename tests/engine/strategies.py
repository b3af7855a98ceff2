"""Hypothesis strategies: requests, settings, overrides and whole random policies.

Numbers are drawn near the thresholds that matter (each policy's own literals and
parameter defaults, +-1) so that boundaries are hit often, not by luck.

Floats stay in the range durable-rules' JSON parser reads: it rejects numbers
written with an exponent and no decimal point (`1e-05`, `1e+16`), which is what
Python's `json.dumps` writes for such floats. That is a known engine limit with
its own tests (test_properties.py::test_known_durable_number_limits), kept out
of the random tests so they check the logic, not that one limit, every run.
"""

from __future__ import annotations

import copy
import re
from decimal import Decimal
from typing import Any

import msgspec
from hypothesis import strategies as st

from engine.types import MONEY_PATTERN, DecideRequest, Settings

CATEGORIES = [
    "Apparel", "Jewelry", "Watches", "Luxury", "Home", "", "jewelry", "Jewelry ",
    'Q"uote\\back', "Ünïcødé ✓", "1", "true",
]  # fmt: skip
CHANNELS = ["ebay", "amazon", "etsy", "walmart", "x"]
MERCHANTS = ["acme", "demo-outlet", "m-1"]

# Thresholds of the default policy, with their neighbours.
STOCK_EDGES = [0, 1, 19, 20, 21, 49, 50, 51, 100, 101, 1_000_000_000]
DAYS_EDGES = [0, 1, 13, 14, 15, 29, 30, 31, 365, 1_000_000_000]

# Floats durable-rules can read (see the module docstring): hundredths.
nice_floats = st.integers(-100_000, 100_000).map(lambda k: k / 100)
percent_ints = st.integers(0, 100)
# Quarter percents: stock * percent is exact in binary floating point, so any correct
# floor agrees. Hundredths such as 8.29 are not (see test_properties.py: allocation).
percent_floats = st.integers(0, 400).map(lambda k: k / 4)
decimal_percents = st.integers(0, 10_000).map(lambda k: k / 100)


def near(values: list[int], low: int = 0, high: int = 1_000_000_000) -> st.SearchStrategy[int]:
    """An integer at, just below or just above one of `values`, within [low, high]."""
    around = sorted({min(high, max(low, v + d)) for v in values for d in (-1, 0, 1)})
    return st.one_of(st.sampled_from(around), st.integers(low, min(high, 400)))


def prices(pool: list[float] | None = None) -> st.SearchStrategy[str]:
    """Decimal price strings, some equal to a number the policy compares with."""
    cents = st.integers(0, 100_000_000).map(lambda c: str(Decimal(c) / 100))
    if not pool:
        return cents
    exact = [money for p in pool if (money := _as_money(p)) is not None]
    return st.one_of(cents, st.sampled_from(exact)) if exact else cents


def _as_money(value: float) -> str | None:
    """`value` as a canonical money string (engine.types.MONEY_PATTERN), if it is one."""
    text = format(Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text if re.fullmatch(MONEY_PATTERN, text) else None


def product_dicts(
    stock: st.SearchStrategy[int] | None = None,
    days: st.SearchStrategy[int] | None = None,
    strings: list[str] = CATEGORIES,
    price_pool: list[float] | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "product_id": st.sampled_from(strings),
            "stock_quantity": stock if stock is not None else near(STOCK_EDGES),
            "days_since_last_sale": days if days is not None else near(DAYS_EDGES),
            "category": st.sampled_from(strings),
            "title": st.sampled_from(strings),
        },
        optional={
            "variant_id": st.just("4410"),
            "current_price": prices(price_pool),
        },
    )


def proposal_dicts(price_pool: list[float] | None = None) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"proposed_price": prices(price_pool)},
        optional={"duration_hours": st.sampled_from([1, 23, 24, 25, 47, 48, 168, 8784])},
    )


def request_dicts(
    overrides: st.SearchStrategy[dict[str, Any]] | None = None,
    products: st.SearchStrategy[dict[str, Any]] | None = None,
    proposals: st.SearchStrategy[dict[str, Any]] | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "merchant_id": st.sampled_from(MERCHANTS),
            "product": products if products is not None else product_dicts(),
            "proposal": proposals if proposals is not None else proposal_dicts(),
        },
        optional={"overrides": overrides if overrides is not None else st.just({})},
    )


def requests(**kwargs: Any) -> st.SearchStrategy[DecideRequest]:
    return request_dicts(**kwargs).map(lambda raw: msgspec.convert(raw, DecideRequest))


channel_lists = st.lists(st.sampled_from(CHANNELS), max_size=6)  # duplicates on purpose
category_lists = st.lists(st.sampled_from(CATEGORIES), max_size=5)


def settings() -> st.SearchStrategy[Settings | None]:
    given = st.fixed_dictionaries(
        {},
        optional={
            "external_channels_enabled": st.booleans(),
            "enabled_external_channels": st.lists(
                st.sampled_from(CHANNELS), max_size=5, unique=True
            ),
            "external_excluded_categories": category_lists,
        },
    )
    return st.one_of(st.none(), given.map(lambda raw: msgspec.convert(raw, Settings)))


def default_policy_overrides() -> st.SearchStrategy[dict[str, Any]]:
    """Valid request overrides of the default policy's parameters."""
    stock = near(STOCK_EDGES)
    days = near(DAYS_EDGES)
    return st.fixed_dictionaries(
        {},
        optional={
            "external_channels_enabled": st.booleans(),
            "enabled_external_channels": channel_lists,
            "external_excluded_categories": category_lists,
            "high_margin_categories": category_lists,
            "store_only_max_stock": stock,
            "store_only_max_staleness_days": days,
            "moderate_min_stock": stock,
            "moderate_min_staleness_days": days,
            "moderate_max_staleness_days": days,
            "moderate_external_percent": percent_ints,
            "dead_min_stock": stock,
            "dead_min_staleness_days": days,
            "dead_external_percent": percent_ints,
        },
    )


# ---------------------------------------------------------------- random policies

NUM_FACTS = [
    "stock_quantity", "days_since_last_sale", "current_price", "proposed_price", "duration_hours",
]  # fmt: skip
STR_FACTS = ["category", "title", "product_id"]

# The parameters every generated policy declares (name -> type, default strategy).
GEN_PARAMS: dict[str, tuple[str, st.SearchStrategy[Any]]] = {
    "i0": ("integer", st.integers(-5, 120)),
    "i1": ("integer", st.integers(0, 60)),
    "n0": ("number", st.one_of(nice_floats, st.integers(-5, 200))),
    "b0": ("boolean", st.booleans()),
    "s0": ("string", st.sampled_from(CATEGORIES)),
    "l0": ("string_list", category_lists),
    "l1": ("string_list", category_lists),
    "pct": ("integer", percent_ints),
    "pctf": ("number", percent_floats),
}
NUM_PARAMS = ["i0", "i1", "n0", "pct", "pctf"]
LIST_PARAMS = ["l0", "l1", "external_excluded_categories", "enabled_external_channels"]
BOOL_PARAMS = ["b0", "external_channels_enabled"]

small_numbers = st.one_of(st.integers(-5, 120), nice_floats.filter(lambda f: -5 <= f <= 120))


def _subject(names: list[str], facts: list[str]) -> st.SearchStrategy[dict[str, str]]:
    return st.one_of(
        st.sampled_from(facts).map(lambda f: {"fact": f}),
        st.sampled_from(names).map(lambda p: {"param": p}),
    )


def _param_or(names: list[str], literal: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(literal, st.sampled_from(names).map(lambda p: {"param": p}))


@st.composite
def _numeric_leaf(draw: st.DrawFn) -> dict[str, Any]:
    leaf: dict[str, Any] = dict(draw(_subject(NUM_PARAMS, NUM_FACTS)))
    operand = _param_or(NUM_PARAMS, small_numbers)
    op = draw(st.sampled_from(["eq", "ne", "lt", "le", "gt", "ge", "between"]))
    leaf[op] = [draw(operand), draw(operand)] if op == "between" else draw(operand)
    return leaf


@st.composite
def _string_leaf(draw: st.DrawFn) -> dict[str, Any]:
    leaf: dict[str, Any] = dict(draw(_subject(["s0"], STR_FACTS)))
    leaf[draw(st.sampled_from(["eq", "ne"]))] = draw(_param_or(["s0"], st.sampled_from(CATEGORIES)))
    return leaf


@st.composite
def _bool_leaf(draw: st.DrawFn) -> dict[str, Any]:
    leaf: dict[str, Any] = {"param": draw(st.sampled_from(BOOL_PARAMS))}
    leaf[draw(st.sampled_from(["eq", "ne"]))] = draw(_param_or(BOOL_PARAMS, st.booleans()))
    return leaf


@st.composite
def _member_leaf(draw: st.DrawFn) -> dict[str, Any]:
    leaf: dict[str, Any] = dict(draw(_subject(["s0"], STR_FACTS)))
    # Literal lists may hold numbers and booleans (the schema allows it); they never
    # equal a string, in either path.
    items = st.one_of(st.sampled_from(CATEGORIES), st.integers(0, 2), st.booleans())
    literal = st.lists(items, max_size=4)
    leaf[draw(st.sampled_from(["in", "not_in"]))] = draw(_param_or(LIST_PARAMS, literal))
    return leaf


@st.composite
def _list_leaf(draw: st.DrawFn) -> dict[str, Any]:
    """eq/ne between two list parameters (a list literal is not an operand in the schema)."""
    leaf: dict[str, Any] = {"param": draw(st.sampled_from(LIST_PARAMS))}
    leaf[draw(st.sampled_from(["eq", "ne"]))] = {"param": draw(st.sampled_from(LIST_PARAMS))}
    return leaf


leaves = st.one_of(
    _numeric_leaf(), _numeric_leaf(), _string_leaf(), _bool_leaf(), _member_leaf(), _list_leaf()
)

conditions = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=3).map(lambda c: {"all": c}),
        st.lists(children, max_size=3).map(lambda c: {"any": c}),
        children.map(lambda c: {"not": c}),
    ),
    max_leaves=7,
)

outcomes = st.one_of(
    st.just({"route": "store_only"}),
    st.fixed_dictionaries(
        {
            "route": st.just("store_and_external"),
            "external_percent": st.one_of(
                percent_ints,
                percent_floats,
                st.sampled_from([{"param": "pct"}, {"param": "pctf"}]),
            ),
        },
        optional={"external_priority": st.booleans()},
    ),
)


@st.composite
def policy_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A valid policy document (as YAML data) with random params and rules."""
    params: dict[str, Any] = {}
    for name, (ptype, default) in GEN_PARAMS.items():
        params[name] = {"type": ptype, "default": draw(default)}
        if name in ("pct", "pctf"):
            params[name].update(minimum=0, maximum=100)
    whens = draw(st.lists(conditions, min_size=1, max_size=6))
    rules = [
        {"id": f"r{i}", "reason": f"rule {i}", "when": when, "outcome": draw(outcomes)}
        for i, when in enumerate(whens)
    ]
    rules.append({"id": "last", "reason": "catch-all", "outcome": draw(outcomes)})
    return {
        "policy": "channel-routing",
        "version": "g1",
        "active": True,
        "params": params,
        "rules": rules,
    }


def param_values(ptype: str, name: str) -> st.SearchStrategy[Any]:
    """Valid values for a generated policy's parameter, for overrides."""
    if name in ("pct",):
        return percent_ints
    if name in ("pctf",):
        return st.one_of(percent_ints, percent_floats)
    if ptype == "integer":
        return st.integers(-5, 120)
    if ptype == "number":
        return st.one_of(st.integers(-5, 120), nice_floats)
    if ptype == "boolean":
        return st.booleans()
    if ptype == "string":
        return st.sampled_from(CATEGORIES)
    if name == "enabled_external_channels":
        return channel_lists
    return category_lists


def generated_overrides() -> st.SearchStrategy[dict[str, Any]]:
    """Valid request overrides of a generated policy's parameters."""
    optional = {name: param_values(ptype, name) for name, (ptype, _) in GEN_PARAMS.items()}
    optional["external_channels_enabled"] = st.booleans()
    optional["enabled_external_channels"] = channel_lists
    optional["external_excluded_categories"] = category_lists
    return st.fixed_dictionaries({}, optional=optional)


def numbers_in(document: Any) -> list[float]:
    """Every number in a policy document: facts drawn near them hit its boundaries."""
    if isinstance(document, bool):
        return []
    if isinstance(document, int | float):
        return [document]
    if isinstance(document, dict):
        return [n for v in document.values() for n in numbers_in(v)]
    if isinstance(document, list):
        return [n for v in document for n in numbers_in(v)]
    return []


# ---------------------------------------------------------------- arbitrary input

json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=8),
        st.sampled_from(["NaN", "-1", "1e400", "0.00001", "12.50", "", "x" * 300]),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def mangled(draw: st.DrawFn, base: st.SearchStrategy[dict[str, Any]]) -> dict[str, Any]:
    """A valid-looking request dict with a few fields dropped, replaced or added."""
    raw = copy.deepcopy(draw(base))
    for _ in range(draw(st.integers(0, 3))):
        holder = raw
        if draw(st.booleans()):
            key = draw(st.sampled_from(["product", "proposal", "overrides"]))
            inner = raw.get(key)
            if isinstance(inner, dict):
                holder = inner
        action = draw(st.sampled_from(["drop", "replace", "add"]))
        if action == "add":
            holder[draw(st.text(max_size=6))] = draw(json_values)
        elif holder:
            key = draw(st.sampled_from(sorted(holder)))
            if action == "drop":
                del holder[key]
            else:
                holder[key] = draw(json_values)
    return raw


def wild_overrides() -> st.SearchStrategy[dict[str, Any]]:
    """Overrides of known and unknown names with values of any type."""
    names = st.sampled_from([*GEN_PARAMS, "store_only_max_stock", "dead_external_percent",
                             "moderate_external_percent", "external_channels_enabled",
                             "enabled_external_channels", "nope"])  # fmt: skip
    values = st.one_of(
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.integers(-200, 200),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=5),
        st.lists(st.text(max_size=5), max_size=3),
        channel_lists,
    )
    return st.dictionaries(names, values, max_size=4)
