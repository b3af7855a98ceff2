"""Kept traces are the traces: the engine's trace cache never changes a word of a trace.

`Engine` keeps each trace per merchant parameters, matched rule and the values of
the facts those rules read (engine.evaluate). Whatever order requests, settings
and overrides come in, every trace must read exactly as the condition
explainer (`engine.conditions.explain`) words it for that decision's own
parameters and facts: a kept trace of other parameters or other facts would
show here as a different text.
"""

from __future__ import annotations

from typing import Any

import msgspec
import strategies as gen
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_properties import policy_folder

from engine import DecideRequest, Decision, Engine, Settings, load_policy_dir
from engine.conditions import explain
from engine.evaluate import TRACE_CACHE_SIZE, request_facts
from engine.policy_set import PolicySet


def expected_trace(policy_set: PolicySet, request: DecideRequest, decision: Decision) -> list[Any]:
    """(rule, matched, detail) of each traced rule, worded afresh by the explainer."""
    policy = policy_set.resolve(request.merchant_id, request.policy_version)
    facts = request_facts(request)
    params = {name: p.value for name, p in decision.parameters.items()}
    rules = policy.rules[: len(decision.trace)]
    last = len(rules) - 1
    return [
        (
            r.id,
            i == last,
            ("matched: " if i == last else "failed: ") + explain(r.when, facts, params)[1],
        )
        for i, r in enumerate(rules)
    ]


def seen(decision: Decision) -> list[Any]:
    return [(t.rule_id, t.matched, t.detail) for t in decision.trace]


# Few stock and staleness values, so that the same facts come back under other settings.
SMALL = gen.product_dicts(stock=st.sampled_from([0, 20, 21, 60]), days=st.sampled_from([0, 14, 45]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cases=st.lists(
        st.tuples(
            gen.requests(overrides=gen.default_policy_overrides(), products=SMALL),
            gen.settings(),
        ),
        min_size=2,
        max_size=30,
    )
)
def test_every_trace_reads_as_the_explainer_words_it(
    cases: list[tuple[DecideRequest, Settings | None]],
) -> None:
    with policy_folder(merchant_params={"acme": {"dead_min_stock": 10}}) as root:
        policy_set = load_policy_dir(root)
    engine = Engine(policy_set)
    for request, settings_ in [*cases, *reversed(cases)]:  # each one twice: kept, then reused
        decision = engine.decide(request, settings_)
        assert seen(decision) == expected_trace(policy_set, request, decision)


def test_a_settings_change_is_worded_with_the_new_settings() -> None:
    with policy_folder() as root:
        engine = Engine(load_policy_dir(root))
    raw = {
        "merchant_id": "acme",
        "product": {"product_id": "1", "category": "Toys", "stock_quantity": 5,
                    "days_since_last_sale": 3},
        "proposal": {"proposed_price": "9.99"},
    }  # fmt: skip
    request = msgspec.convert(raw, DecideRequest)
    before = engine.decide(request, Settings(external_excluded_categories=["Home"]))
    after = engine.decide(request, Settings(external_excluded_categories=["Toys"]))
    assert (
        before.trace[1].detail == "failed: category (Toys) in external_excluded_categories ([Home])"
    )
    assert (
        after.trace[1].detail == "matched: category (Toys) in external_excluded_categories ([Toys])"
    )


def test_the_kept_traces_are_bounded() -> None:
    with policy_folder() as root:
        engine = Engine(load_policy_dir(root))
    for stock in range(TRACE_CACHE_SIZE + 500):
        raw = {
            "merchant_id": "acme",
            "product": {"product_id": "1", "stock_quantity": stock, "days_since_last_sale": 45},
            "proposal": {"proposed_price": "9.99"},
        }
        engine.decide(msgspec.convert(raw, DecideRequest))
        assert len(engine._trace_cache) <= TRACE_CACHE_SIZE
