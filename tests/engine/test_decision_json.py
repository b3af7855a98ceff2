"""A decision's JSON from `Engine.encode` is byte for byte msgspec's encoding of it.

`Engine.encode` splices in the JSON it keeps beside the shared parts of a
decision (the trace kept for its rules and facts, the parameters of its
merchant's settings: engine.decision_json). Whatever order requests, settings,
overrides and cache clears come in, the bytes must be those of the decision
itself: JSON kept for another trace or other parameters would show here.
"""

from __future__ import annotations

import msgspec
import pytest
import strategies as gen
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_properties import policy_folder

from engine import DecideRequest, Engine, Settings, evaluate, load_policy_dir

SMALL = gen.product_dicts(stock=st.sampled_from([0, 20, 21, 60]), days=st.sampled_from([0, 14, 45]))
CASES = st.lists(
    st.tuples(
        gen.requests(overrides=gen.default_policy_overrides(), products=SMALL),
        gen.settings(),
        st.booleans(),  # with a trace
    ),
    min_size=2,
    max_size=30,
)


def check_all(engine: Engine, cases: list[tuple[DecideRequest, Settings | None, bool]]) -> None:
    for request, settings_, trace in [*cases, *reversed(cases)]:  # each twice: kept, then reused
        decision = engine.decide(request, settings_, trace=trace)
        assert engine.encode(decision) == msgspec.json.encode(decision)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases=CASES)
def test_encode_gives_msgspec_bytes_for_any_sequence_of_decisions(
    cases: list[tuple[DecideRequest, Settings | None, bool]],
) -> None:
    with policy_folder(merchant_params={"acme": {"dead_min_stock": 10}}) as root:
        engine = Engine(load_policy_dir(root))
    check_all(engine, cases)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases=CASES)
def test_encode_stays_exact_when_the_caches_are_cleared_often(
    cases: list[tuple[DecideRequest, Settings | None, bool]],
) -> None:
    with (
        pytest.MonkeyPatch.context() as patch,
        policy_folder(merchant_params={"acme": {"dead_min_stock": 10}}) as root,
    ):
        patch.setattr(evaluate, "TRACE_CACHE_SIZE", 2)
        patch.setattr(evaluate, "BASE_CACHE_SIZE", 2)
        engine = Engine(load_policy_dir(root))
        check_all(engine, cases)


def test_decisions_of_the_same_merchant_and_facts_share_their_trace_and_parameters() -> None:
    """What makes the spliced JSON worth it; and why the shared parts must never change."""
    with policy_folder() as root:
        engine = Engine(load_policy_dir(root))
    raw = {
        "merchant_id": "acme",
        "product": {"product_id": "1", "stock_quantity": 60, "days_since_last_sale": 45},
        "proposal": {"proposed_price": "9.99"},
    }
    first, second = (engine.decide(msgspec.convert(raw, DecideRequest)) for _ in range(2))
    assert first.decision_id != second.decision_id
    assert first.trace is second.trace and first.parameters is second.parameters
    assert engine.encode(second) == msgspec.json.encode(second)
