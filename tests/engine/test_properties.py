"""Property tests: the durable-rules path agrees with a plain reference interpreter.

`tests/engine/oracle.py` decides from the loaded model with the simplest code
that can be checked by eye; these tests post random facts, random parameters
and randomly generated policies (written as YAML and loaded by the real loader)
through `Engine.decide` and require the same rule, allocation and trace.

Each generated policy compiles a durable-rules ruleset that lives as long as the
process, so the number of distinct policies is kept small and each one gets
many random requests.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec
import oracle
import pytest
import strategies as gen
import yaml
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

from engine import (
    DecideRequest,
    Decision,
    DecisionError,
    Engine,
    PolicyProblems,
    Settings,
    load_policy_dir,
)
from engine.allocation import allocate
from engine.conditions import explain
from engine.evaluate import request_facts
from engine.policy_set import PolicySet

REPO_POLICIES = Path(__file__).resolve().parents[2] / "policies"
DEFAULT_POLICY_FILE = REPO_POLICIES / "channel-routing" / "v1.yaml"

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@contextmanager
def policy_folder(
    policy_text: str | None = None, merchant_params: dict[str, dict[str, Any]] | None = None
) -> Iterator[Path]:
    """A temporary policy folder: one policy file and optional merchant override files."""
    with tempfile.TemporaryDirectory(prefix="cr-prop-") as tmp:
        root = Path(tmp)
        (root / "channel-routing").mkdir()
        target = root / "channel-routing" / "v1.yaml"
        if policy_text is None:
            shutil.copyfile(DEFAULT_POLICY_FILE, target)
        else:
            target.write_text(policy_text, encoding="utf-8")
        if merchant_params:
            (root / "merchants").mkdir()
            for merchant, params in merchant_params.items():
                body = {"merchant_id": merchant, "params": params}
                (root / "merchants" / f"{merchant}.yaml").write_text(
                    yaml.safe_dump(body, allow_unicode=True), encoding="utf-8"
                )
        yield root


def check_agrees(
    engine: Engine,
    policy_set: PolicySet,
    request: DecideRequest,
    settings_: Settings | None,
    trace: bool = True,
) -> Decision:
    """Decide through durable-rules and require the oracle's answer, field by field."""
    expected = oracle.expect(policy_set, request, settings_)
    decision = engine.decide(request, settings_, trace=trace)
    got = [
        (a.channel, a.allocated_units, a.price, a.duration_days) for a in decision.external_channels
    ]
    if decision.rule_id != expected.rule_id:
        used = policy_set.resolve(request.merchant_id, request.policy_version)
        rules = msgspec.json.encode([(r.id, r.when) for r in used.rules]).decode()
        params = oracle.params_of(policy_set, used, request, settings_)
        raise AssertionError(
            f"rule {decision.rule_id} != oracle {expected.rule_id}\nrules={rules}\n"
            f"params={params}\nfacts={oracle.facts_of(request)}"
        )
    context = f"request={msgspec.json.encode(request).decode()} settings={settings_!r}"
    assert decision.rule_id == expected.rule_id, context
    assert got == expected.external, context
    assert decision.store_units == expected.store_units, context
    assert decision.external_priority == expected.external_priority, context
    assert decision.store is True
    stock = request.product.stock_quantity
    assert decision.store_units >= 0
    assert decision.store_units + sum(u for _, u, _, _ in got) == stock
    if trace:
        policy = oracle.resolve(policy_set, request)
        assert policy is not None
        ids = [r.id for r in policy.rules[: expected.rule_index + 1]]
        assert [t.rule_id for t in decision.trace] == ids, context
        assert [t.matched for t in decision.trace] == expected.trace_matched, context
        assert all(
            t.detail.startswith("matched: " if t.matched else "failed: ") for t in decision.trace
        )
        # The trace's explanations are computed in Python: their truth must be the oracle's.
        facts = request_facts(request)
        params = {k: p.value for k, p in decision.parameters.items()}
        truths = [explain(r.when, facts, params)[0] for r in policy.rules[: len(ids)]]
        assert truths == expected.trace_matched, context
    else:
        assert decision.trace == []
    return decision


# ---------------------------------------------------------------- allocation


def check_allocation(
    stock: int, percent: float, channels: list[str], price: str, hours: int
) -> None:
    store_units, allocations = allocate(stock, percent, channels, price, hours)
    expected = oracle.reference_allocation(stock, percent, channels)
    assert store_units + sum(a.allocated_units for a in allocations) == stock
    assert store_units >= 0 and all(a.allocated_units > 0 for a in allocations)
    assert all(a.price == price and a.duration_days == max(1, hours // 24) for a in allocations)
    # order kept (duplicates collapse to their first place), zero-unit channels left out
    order = [c for c in dict.fromkeys(channels) if c in {a.channel for a in allocations}]
    assert [a.channel for a in allocations] == order
    assert [(a.channel, a.allocated_units) for a in allocations] == expected


stocks = st.one_of(st.integers(0, 1_000), st.integers(0, 1_000_000_000))
prices_ = st.sampled_from(["19.99", "0", "1000000000"])
hours_ = st.sampled_from([1, 23, 24, 47, 48, 168, 8784])


@FAST
@given(
    stock=stocks,
    percent=st.one_of(gen.percent_ints, gen.percent_floats),
    channels=gen.channel_lists,
    price=prices_,
    hours=hours_,
)
def test_allocation_conserves_units_and_follows_the_rule(
    stock: int, percent: float, channels: list[str], price: str, hours: int
) -> None:
    """Integer and quarter percentages, any stock and channel list (duplicates included)."""
    check_allocation(stock, percent, channels, price, hours)


@FAST
@given(
    stock=stocks,
    percent=st.one_of(gen.decimal_percents, st.floats(0, 100)),
    channels=gen.channel_lists,
    price=prices_,
    hours=hours_,
)
def test_allocation_with_decimal_percentages(
    stock: int, percent: float, channels: list[str], price: str, hours: int
) -> None:
    """Any float percentage, read as the decimal its author wrote (rarely fails, so not strict)."""
    check_allocation(stock, percent, channels, price, hours)


@pytest.mark.parametrize(
    "stock, percent, units", [(10_000, 8.29, 829), (1_000_000_000, 8.28, 82_800_000)]
)
def test_decimal_percentage_floor_is_exact(stock: int, percent: float, units: int) -> None:
    """Minimal examples found by the property above."""
    assert oracle.reference_allocation(stock, percent, ["a"]) == [("a", units)]
    assert allocate(stock, percent, ["a"], "1", 24)[1][0].allocated_units == units


def test_allocation_examples() -> None:
    """Hand-checked numbers, so the oracle itself is anchored to the contract."""
    assert oracle.reference_allocation(60, 70, ["ebay", "amazon"]) == [("ebay", 21), ("amazon", 21)]
    assert oracle.reference_allocation(63, 50, ["ebay", "amazon"]) == [("ebay", 16), ("amazon", 15)]
    assert oracle.reference_allocation(10, 25, ["a", "b", "c"]) == [("a", 1), ("b", 1)]
    assert oracle.reference_allocation(3, 40, ["a", "b"]) == [("a", 1)]
    assert oracle.reference_allocation(100, 12.5, ["a"]) == [("a", 12)]
    assert oracle.reference_allocation(7, 100, []) == []
    assert oracle.reference_allocation(7, 0, ["a"]) == []


# ---------------------------------------------------------------- the default policy


@pytest.fixture(scope="module")
def default_set() -> PolicySet:
    with policy_folder() as root:
        return load_policy_dir(root)


@pytest.fixture(scope="module")
def default_engine(default_set: PolicySet) -> Engine:
    return Engine(default_set)


@FAST
@given(
    request=gen.requests(overrides=gen.default_policy_overrides()),
    settings_=gen.settings(),
    trace=st.booleans(),
)
def test_default_policy_agrees_with_oracle(
    default_engine: Engine,
    default_set: PolicySet,
    request: DecideRequest,
    settings_: Settings | None,
    trace: bool,
) -> None:
    check_agrees(default_engine, default_set, request, settings_, trace)


@FEW
@given(
    file_params=gen.default_policy_overrides(),
    cases=st.lists(
        st.tuples(gen.requests(overrides=gen.default_policy_overrides()), gen.settings()),
        min_size=5,
        max_size=25,
    ),
)
def test_default_policy_with_merchant_files_agrees_with_oracle(
    file_params: dict[str, Any], cases: list[tuple[DecideRequest, Settings | None]]
) -> None:
    """Override files for two merchants; the third has none (same ruleset: same policy bytes)."""
    merchant_files = {"acme": file_params, "m-1": {"dead_external_percent": 100}}
    with policy_folder(merchant_params=merchant_files) as root:
        policy_set = load_policy_dir(root)
    engine = Engine(policy_set)
    for i, (request, settings_) in enumerate(cases):
        check_agrees(engine, policy_set, request, settings_, trace=i % 2 == 0)


def test_default_policy_table_boundaries(default_engine: Engine, default_set: PolicySet) -> None:
    """Every stock and staleness edge of the table, exhaustively, with two channels."""
    two = Settings(enabled_external_channels=["ebay", "amazon"])
    seen = set()
    for stock in gen.STOCK_EDGES[:-1]:
        for days in gen.DAYS_EDGES[:-1]:
            for category in ("Apparel", "Jewelry"):
                raw = {
                    "merchant_id": "acme",
                    "product": {
                        "product_id": "1",
                        "stock_quantity": stock,
                        "days_since_last_sale": days,
                        "category": category,
                    },
                    "proposal": {"proposed_price": "19.99"},
                }
                request = msgspec.convert(raw, DecideRequest)
                seen.add(check_agrees(default_engine, default_set, request, two).rule_id)
    assert seen == {
        "high-margin-category",
        "low-stock-fresh",
        "moderate-overstock",
        "dead-stock",
        "default-store",
    }


# ---------------------------------------------------------------- random policies


# No shrinking: every shrink step would compile one more durable-rules ruleset that lives
# for the rest of the process; a failure already prints the rules, params and facts.
@settings(
    max_examples=40,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(document=gen.policy_documents(), data=st.data())
def test_random_policies_agree_with_oracle(document: dict[str, Any], data: st.DataObject) -> None:
    """Random params and nested all/any/not conditions: loader + durable-rules vs the oracle."""
    file_params = data.draw(
        st.one_of(st.just({}), gen.generated_overrides()), label="acme override file"
    )
    text = yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
    with policy_folder(text, {"acme": file_params} if file_params else None) as root:
        policy_set = load_policy_dir(root)
    engine = Engine(policy_set)

    pool = gen.numbers_in(document) + gen.numbers_in(file_params)
    ints = sorted({math.floor(n) for n in pool} | {math.ceil(n) for n in pool})
    strings = gen.CATEGORIES
    products = gen.product_dicts(
        stock=gen.near(ints or [0]), days=gen.near(ints or [0]), strings=strings, price_pool=pool
    )
    requests = gen.requests(
        overrides=gen.generated_overrides(),
        products=products,
        proposals=gen.proposal_dicts(pool),
    )
    cases = data.draw(st.lists(st.tuples(requests, gen.settings()), min_size=30, max_size=60))
    for i, (request, settings_) in enumerate(cases):
        check_agrees(engine, policy_set, request, settings_, trace=i % 3 != 0)


def test_first_match_is_first() -> None:
    """Several rules hold at once: the lowest index wins, and the trace stops there."""
    document = {
        "policy": "channel-routing",
        "version": "fm",
        "active": True,
        "params": {"limit": {"type": "integer", "default": 10}},
        "rules": [
            {"id": "never", "reason": "x", "when": {"all": [{"fact": "stock_quantity", "lt": 0}]},
             "outcome": {"route": "store_only"}},
            {"id": "big", "reason": "x",
             "when": {"fact": "stock_quantity", "gt": {"param": "limit"}},
             "outcome": {"route": "store_and_external", "external_percent": 50}},
            {"id": "bigger", "reason": "x", "when": {"fact": "stock_quantity", "gt": 20},
             "outcome": {"route": "store_and_external", "external_percent": 90}},
            {"id": "last", "reason": "x", "outcome": {"route": "store_only"}},
        ],
    }  # fmt: skip
    with policy_folder(yaml.safe_dump(document, sort_keys=False)) as root:
        policy_set = load_policy_dir(root)
    engine = Engine(policy_set)
    for stock, rule_id in ((5, "last"), (11, "big"), (30, "big"), (0, "last")):
        raw = {
            "merchant_id": "acme",
            "product": {"product_id": "1", "stock_quantity": stock, "days_since_last_sale": 0},
            "proposal": {"proposed_price": "1"},
        }
        request = msgspec.convert(raw, DecideRequest)
        decision = check_agrees(
            engine, policy_set, request, Settings(enabled_external_channels=["x"])
        )
        assert decision.rule_id == rule_id
    raw["product"]["stock_quantity"] = 30  # type: ignore[index]
    raw["overrides"] = {"limit": 40}
    decision = engine.decide(msgspec.convert(raw, DecideRequest))
    assert decision.rule_id == "bigger"
    assert [(t.rule_id, t.matched) for t in decision.trace] == [
        ("never", False),
        ("big", False),
        ("bigger", True),
    ]


def _one_rule_policy(when: dict[str, Any], params: dict[str, Any]) -> tuple[PolicySet, Engine]:
    document = {
        "policy": "channel-routing",
        "version": "one",
        "active": True,
        "params": params,
        "rules": [
            {"id": "hit", "reason": "x", "when": when, "outcome": {"route": "store_only"}},
            {"id": "last", "reason": "x", "outcome": {"route": "store_only"}},
        ],
    }
    with policy_folder(yaml.safe_dump(document, sort_keys=False)) as root:
        policy_set = load_policy_dir(root)
    return policy_set, Engine(policy_set)


def _simple_request(category: str, overrides: dict[str, Any] | None = None) -> DecideRequest:
    raw = {
        "merchant_id": "acme",
        "product": {
            "product_id": "1",
            "stock_quantity": 1,
            "days_since_last_sale": 0,
            "category": category,
        },
        "proposal": {"proposed_price": "1"},
        "overrides": overrides or {},
    }
    return msgspec.convert(raw, DecideRequest)


def test_literal_list_with_booleans_never_matches_a_string() -> None:
    """Found by the random policies: durable-rules says "true" == true, Python does not."""
    policy_set, engine = _one_rule_policy({"fact": "category", "in": [True, 0, "Shoes"]}, {})
    for category, rule_id in (("true", "last"), ("0", "last"), ("Shoes", "hit")):
        request = _simple_request(category)
        assert check_agrees(engine, policy_set, request, None).rule_id == rule_id


def test_list_parameters_compare_equal_and_unequal() -> None:
    """Found by the random policies: durable-rules finds two lists neither == nor !=."""
    params = {
        "a": {"type": "string_list", "default": ["x", "y"]},
        "b": {"type": "string_list", "default": ["x", "y"]},
    }
    for op, same, differ in (("eq", "hit", "last"), ("ne", "last", "hit")):
        policy_set, engine = _one_rule_policy({"param": "a", op: {"param": "b"}}, params)
        assert check_agrees(engine, policy_set, _simple_request("c"), None).rule_id == same
        request = _simple_request("c", {"b": ["y", "x"]})
        assert check_agrees(engine, policy_set, request, None).rule_id == differ


# ---------------------------------------------------------------- arbitrary input


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    raw=gen.mangled(
        gen.request_dicts(overrides=st.one_of(gen.default_policy_overrides(), gen.wild_overrides()))
        .map(lambda d: d)
        .flatmap(
            lambda d: st.one_of(st.just(d), st.just({**d, "policy_version": "1"}),
                                st.just({**d, "policy_version": "9"}))
        )
    ),
    raw_settings=st.one_of(st.none(), st.dictionaries(
        st.sampled_from(["external_channels_enabled", "enabled_external_channels",
                         "external_excluded_categories", "other"]),
        gen.json_values, max_size=3)),
    trace=st.booleans(),
)  # fmt: skip
def test_no_input_makes_decide_raise(
    default_engine: Engine,
    default_set: PolicySet,
    raw: dict[str, Any],
    raw_settings: dict[str, Any] | None,
    trace: bool,
) -> None:
    """Invalid input is a msgspec.ValidationError at decode; a bad pin or override a
    DecisionError; everything else decides like the oracle."""
    try:
        request = msgspec.convert(raw, DecideRequest)
        settings_ = None if raw_settings is None else msgspec.convert(raw_settings, Settings)
    except msgspec.ValidationError:
        event("invalid input")
        return
    problem = oracle.request_problem(default_set, request)
    event("refused" if problem else "decided")
    if problem is not None:
        with pytest.raises(DecisionError) as raised:
            default_engine.decide(request, settings_, trace=trace)
        assert raised.value.field == problem
        return
    check_agrees(default_engine, default_set, request, settings_, trace)


# ---------------------------------------------------------------- numbers durable-rules reads


def _number_policy(threshold: Any) -> tuple[PolicySet, Engine]:
    return _one_rule_policy(
        {
            "all": [
                {"fact": "proposed_price", "lt": {"param": "n"}},
                {"param": "n", "le": threshold},
            ]
        },
        {"n": {"type": "number", "default": 1.5}},
    )


def _priced(price: str, n: float) -> DecideRequest:
    raw = {
        "merchant_id": "acme",
        "product": {"product_id": "1", "stock_quantity": 1, "days_since_last_sale": 0},
        "proposal": {"proposed_price": price},
        "overrides": {"n": n},
    }
    return msgspec.convert(raw, DecideRequest)


@pytest.mark.parametrize("threshold", [1e15, 2.5e14, 10**15, 0.0001, 0])
@pytest.mark.parametrize("n", [1.5, 1e15, 123456789012345.0, 0.0001, 0])
def test_numbers_at_the_edges_of_the_domain_decide(threshold: float, n: float) -> None:
    """Parameters and literals from 0.0001 to 1e15 in size reach durable-rules exactly."""
    policy_set, engine = _number_policy(threshold)
    for price in ("0.5", "999999999.9999", "0.0001", "0.0015", "0"):
        check_agrees(engine, policy_set, _priced(price, n), None)


@pytest.mark.parametrize("threshold", [1e16, 10**20, 1e-05, float("inf")])
def test_numbers_durable_rules_cannot_read_are_refused_at_load(threshold: float) -> None:
    """durable-rules caps integers at int64 and cannot parse 1e-05 or 1e+16."""
    with pytest.raises(PolicyProblems, match=r"out of range|not a finite number"):
        _number_policy(threshold)


@pytest.mark.parametrize("n", [1e16, 10**20, 1e-05])
def test_overrides_durable_rules_cannot_read_are_refused(n: float) -> None:
    _, engine = _number_policy(100)
    with pytest.raises(DecisionError) as raised:
        engine.decide(_priced("0.5", n))
    assert raised.value.field == "overrides.n"


def test_prices_finer_than_the_rules_see_are_refused() -> None:
    """Money has at most 4 decimals, the precision the rules compare at."""
    _, engine = _number_policy(100)
    assert engine.decide(_priced("0.0001", 1.5)).rule_id == "hit"
    with pytest.raises(msgspec.ValidationError, match="proposed_price"):
        _priced("0.00001", 1.5)
