"""Strict body decoding as rules over all inputs (no HTTP): text, money, every problem."""

from __future__ import annotations

import copy
import json
import re
import unicodedata
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine import Engine, load_policy_dir
from engine.types import DecideRequest, Settings
from server.api import validation
from server.api.decoding import BodyDecoder, BodyInvalid
from server.api.types import DecideBatch
from server.config import REPO_POLICY_DIR
from tests.server.helpers import decide_body

validation.install()
DECIDE = BodyDecoder(DecideRequest)
BATCH = BodyDecoder(DecideBatch)
ENGINE = Engine(load_policy_dir(REPO_POLICY_DIR))


def _body(**product: Any) -> bytes:
    return json.dumps(decide_body(**product)).encode()


def _names(exc: BodyInvalid) -> list[str]:
    return [p.name for p in exc.params]


@given(st.text(max_size=60))
def test_text_is_accepted_exactly_when_it_has_no_control_character(title: str) -> None:
    has_control = any(unicodedata.category(c) == "Cc" for c in title)
    try:
        request = DECIDE.decode(_body(title=title))
    except BodyInvalid as exc:
        assert has_control, exc.params
        assert _names(exc) == ["product.title"]
        assert "control characters" in exc.params[0].reason
    else:
        assert not has_control
        assert request.product.title == title


def _spellings(value: Decimal) -> set[str]:
    """Ways a client could write `value` that are not its canonical form."""
    plain = format(value, "f")
    return {
        f"{value:E}",  # 1.999000E+1
        "0" + plain,  # leading zero
        "+" + plain,
        plain + " ",
        plain + "\n",
    } - {plain}


@given(
    st.decimals(
        min_value=Decimal(0), max_value=Decimal("999999999.9999"), places=4, allow_nan=False
    ).map(lambda d: d.normalize() if d == d.to_integral() else d)
)
def test_money_has_one_spelling_and_comes_back_as_given(value: Decimal) -> None:
    canonical = format(value, "f")
    if "." in canonical:
        canonical = canonical.rstrip("0").rstrip(".") if value != 0 else "0"
    canonical = canonical or "0"
    body = decide_body()
    body["proposal"]["proposed_price"] = canonical
    request = DECIDE.decode(json.dumps(body).encode())
    decision = ENGINE.decide(request, Settings(enabled_external_channels=["ebay"]))
    for channel in decision.external_channels:
        assert channel.price == canonical  # exactly as sent
    for spelling in _spellings(Decimal(canonical)):
        body["proposal"]["proposed_price"] = spelling
        with pytest.raises(BodyInvalid) as refused:
            DECIDE.decode(json.dumps(body).encode())
        assert _names(refused.value) == ["proposal.proposed_price"]
    body["proposal"]["proposed_price"] = float(value)  # a JSON number is never money
    with pytest.raises(BodyInvalid):
        DECIDE.decode(json.dumps(body).encode())


@pytest.mark.parametrize(
    "price", ["-0", "-1.00", "1e3", "1E+3", "019.99", "19.", ".5", "19.99999", "1000000000", "NaN"]
)
def test_non_canonical_money_is_refused(price: str) -> None:
    body = decide_body()
    body["proposal"]["proposed_price"] = price
    with pytest.raises(BodyInvalid) as refused:
        DECIDE.decode(json.dumps(body).encode())
    assert _names(refused.value) == ["proposal.proposed_price"]


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("product", "stock_quantity"), "60", "product.stock_quantity"),
        (("product", "stock_quantity"), "6e1", "product.stock_quantity"),
        (("product", "days_since_last_sale"), True, "product.days_since_last_sale"),
        (("proposal", "duration_hours"), "168", "proposal.duration_hours"),
        (
            ("overrides",),
            {"external_channels_enabled": "false"},
            "overrides.external_channels_enabled",
        ),
        (("overrides",), {"external_channels_enabled": 0}, "overrides.external_channels_enabled"),
        (("product", "current_price"), 49.99, "product.current_price"),
    ],
)
def test_nothing_is_coerced(path: tuple[str, ...], value: Any, field: str) -> None:
    body: Any = decide_body()
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(BodyInvalid) as refused:
        DECIDE.decode(json.dumps(body).encode())
    assert _names(refused.value) == [field]


def test_whole_numbers_written_as_floats_are_integers() -> None:
    """JSON Schema (and so the OpenAPI document) counts 60.0 as the integer 60."""
    request = DECIDE.decode(_body(stock_quantity=60.0, days_since_last_sale=4.5e1))
    assert request.product.stock_quantity == 60 and type(request.product.stock_quantity) is int
    assert request.product.days_since_last_sale == 45
    with pytest.raises(BodyInvalid) as refused:
        DECIDE.decode(_body(stock_quantity=60.5))
    assert _names(refused.value) == ["product.stock_quantity"]


def test_every_bad_field_of_a_body_is_named() -> None:
    body: Any = decide_body(stock_quantity="60", title="a\x00b")
    body["proposal"]["proposed_price"] = 19.99
    body["merchant_id"] = "no spaces allowed"
    body["surprise"] = 1
    del body["product"]["product_id"]
    with pytest.raises(BodyInvalid) as refused:
        DECIDE.decode(json.dumps(body).encode())
    assert sorted(_names(refused.value)) == [
        "merchant_id",
        "product.product_id",
        "product.stock_quantity",
        "product.title",
        "proposal.proposed_price",
        "surprise",
    ]


def test_every_bad_item_of_a_batch_is_named() -> None:
    items = [decide_body() for _ in range(10_000)]
    items[5]["product"]["stock_quantity"] = "60"
    items[777]["proposal"]["proposed_price"] = 5
    items[9999]["overrides"] = {"enabled_external_channels": ["../etc", "<script>"]}
    with pytest.raises(BodyInvalid) as refused:
        BATCH.decode(json.dumps({"items": items}).encode())
    assert _names(refused.value) == [
        "items[5].product.stock_quantity",
        "items[777].proposal.proposed_price",
        "items[9999].overrides.enabled_external_channels[0]",
        "items[9999].overrides.enabled_external_channels[1]",
    ]


def test_a_good_body_decodes_to_the_engine_struct() -> None:
    body = copy.deepcopy(decide_body())
    request = DECIDE.decode(json.dumps(body).encode())
    assert request == msgspec.convert(body, DecideRequest)
    assert re.fullmatch(r"\d+(\.\d+)?", request.proposal.proposed_price)
