"""The direct calls into durable-rules' engine fire the rule `durable.lang.post` fires.

`CompiledPolicy.first_match` drives durable-rules' C engine on a ruleset handle of
its own; `PostReference` registers the same definition with durable's Host and
posts through `durable.lang.post`. Both are given the same facts and parameters
(random requests on the default policy, and random policies) and must fire the
same rule, every time. The oracle tests (test_properties.py) hold both to the
contract; these hold the direct path to the library's own.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import strategies as gen
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from test_properties import policy_folder

from engine import DecideRequest, DecisionError, Engine, Settings, load_policy_dir
from engine.compile import PostReference, compiled
from engine.evaluate import request_facts
from engine.policy_set import PolicySet


def agree(engine: Engine, policy_set: PolicySet, request: DecideRequest, s: Settings | None) -> int:
    """The index both paths fire for this request (-1 when the request is refused)."""
    try:
        policy = policy_set.resolve(request.merchant_id, request.policy_version)
        params = {k: p.value for k, p in engine.effective_params(policy, request, s).items()}
    except DecisionError:
        return -1
    facts = request_facts(request)
    direct = compiled(policy)
    by_post = PostReference.of(direct).first_match(facts, params)
    assert direct.first_match(facts, params) == by_post, (
        f"direct path and lang.post disagree\nmessage={direct.encoded(facts, params)}"
    )
    return by_post


@pytest.fixture(scope="module")
def default_set() -> PolicySet:
    with policy_folder() as root:
        return load_policy_dir(root)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cases=st.lists(
        st.tuples(gen.requests(overrides=gen.default_policy_overrides()), gen.settings()),
        min_size=1,
        max_size=10,
    )
)
def test_default_policy_direct_path_agrees_with_lang_post(
    default_set: PolicySet, cases: list[tuple[DecideRequest, Settings | None]]
) -> None:
    engine = Engine(default_set)
    for request, settings_ in cases:
        agree(engine, default_set, request, settings_)


# No shrinking: every shrink step would compile two more rulesets that live for the rest
# of the process; a failure prints the message both paths were given.
@settings(
    max_examples=30,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(document=gen.policy_documents(), data=st.data())
def test_random_policies_direct_path_agrees_with_lang_post(
    document: dict[str, Any], data: st.DataObject
) -> None:
    text = yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
    with policy_folder(text) as root:
        policy_set = load_policy_dir(root)
    engine = Engine(policy_set)
    pool = gen.numbers_in(document)
    ints = sorted({math.floor(n) for n in pool} | {math.ceil(n) for n in pool})
    products = gen.product_dicts(
        stock=gen.near(ints or [0]),
        days=gen.near(ints or [0]),
        strings=gen.CATEGORIES,
        price_pool=pool,
    )
    requests = gen.requests(
        overrides=gen.generated_overrides(), products=products, proposals=gen.proposal_dicts(pool)
    )
    cases = data.draw(st.lists(st.tuples(requests, gen.settings()), min_size=30, max_size=60))
    fired = {agree(engine, policy_set, request, settings_) for request, settings_ in cases}
    assert fired - {-1}, "every request was refused: the test compared nothing"


def test_ruleset_is_not_registered_with_durable_host() -> None:
    """The Host's dispatch timer polls only what is registered with it: ours is not there,
    so no other thread can take an action that `first_match` is about to start."""
    from durable import lang

    with policy_folder() as root:
        policy = load_policy_dir(root).resolve("acme")
    ours = compiled(policy)
    assert ours.ruleset not in lang.get_host()._ruleset_directory
    assert ours.ruleset not in lang._rulesets
