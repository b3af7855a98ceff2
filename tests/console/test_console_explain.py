"""The explorer's arithmetic, for all inputs: the picture accounts for every unit, and an
override typed into the form keeps the type of the parameter it replaces."""

from __future__ import annotations

from decimal import Decimal
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.allocation import allocate
from engine.types import Decision, EffectiveParam, PolicyRef
from server.console import explain

CHANNELS = st.lists(st.sampled_from(["ebay", "amazon", "other"]), unique=True, max_size=3)


def _decision(stock: int, percent: int, channels: list[str]) -> Decision:
    store_units, allocations = allocate(stock, percent, channels, "9.99", 168)
    return Decision(
        decision_id="d",
        merchant_id="m",
        policy=PolicyRef("p", "1", "0" * 64),
        rule_id="r",
        store=True,
        store_units=store_units,
        external_priority=False,
        external_channels=allocations,
        reasoning="",
        trace=[],
        parameters={},
    )


@given(st.integers(0, 1_000_000), st.integers(0, 100), CHANNELS)
def test_the_picture_accounts_for_every_unit(stock: int, percent: int, channels: list[str]) -> None:
    parts = explain.segments(_decision(stock, percent, channels), stock, {})
    assert parts[0].name == "store"
    assert sum(p.units for p in parts) == stock
    if stock:
        assert sum(p.width for p in parts) == pytest.approx(100, abs=0.01)
        assert abs(sum(p.share for p in parts) - 100) <= Decimal("0.1") * len(parts)
        assert all(a.x + a.width == pytest.approx(b.x, abs=0.01) for a, b in pairwise(parts))
    else:
        assert all(p.width == 0 for p in parts)


@given(st.integers(-(10**12), 10**12))
def test_a_number_override_stays_a_whole_number(value: int) -> None:
    assert explain.typed_value(f" {value} ", 40) == value


@given(st.booleans(), st.sampled_from(["{}", "{} ", "{}".upper()]))
def test_a_yes_no_override_stays_a_boolean(value: bool, shape: str) -> None:
    word = shape.format("true" if value else "off")
    assert explain.typed_value(word, True) is value


def test_a_list_override_is_split_on_commas() -> None:
    assert explain.typed_value(" Jewelry, Watches ,,", ["Luxury"]) == ["Jewelry", "Watches"]


def test_a_bad_override_names_its_row() -> None:
    parameters = {"dead_external_percent": EffectiveParam(value=70, source="policy")}
    form = {"override_2_name": "dead_external_percent", "override_2_value": "lots"}
    with pytest.raises(explain.FormProblems) as raised:
        explain.overrides_from(form, parameters)
    assert raised.value.problems == {"override_2_value": "Enter a whole number."}


def test_a_missing_product_field_is_named() -> None:
    with pytest.raises(explain.FormProblems) as raised:
        explain.request_from({"product_id": "1", "stock_quantity": "5"}, "acme")
    assert raised.value.problems == {"days_since_last_sale": "This field is required."}
