"""Malformed input never yields a 5xx: every 4xx is problem+json naming the fields."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.server.helpers import Api, decide_body


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def _with(path: tuple[str, ...], value: Any) -> bytes:
    body: Any = decide_body()
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return _json(body)


# (id, path, raw body, expected status, expected invalid field or None)
CASES: list[tuple[str, str, bytes, int, str | None]] = [
    ("truncated json", "/v1/decide", _json(decide_body())[:40], 400, None),
    ("empty body", "/v1/decide", b"", 400, None),
    ("json null", "/v1/decide", b"null", 422, None),
    ("json array", "/v1/decide", b"[1, 2]", 422, None),
    ("not json", "/v1/decide", b"merchant_id=acme", 400, None),
    (
        "wrong type int",
        "/v1/decide",
        _with(("product", "stock_quantity"), "sixty"),
        422,
        "product.stock_quantity",
    ),
    (
        "negative stock",
        "/v1/decide",
        _with(("product", "stock_quantity"), -1),
        422,
        "product.stock_quantity",
    ),
    (
        "float stock",
        "/v1/decide",
        _with(("product", "stock_quantity"), 1.5),
        422,
        "product.stock_quantity",
    ),
    (
        "huge int",
        "/v1/decide",
        _with(("product", "days_since_last_sale"), 10**30),
        422,
        "product.days_since_last_sale",
    ),
    (
        "huge price",
        "/v1/decide",
        _with(("proposal", "proposed_price"), 10**30),
        422,
        "proposal.proposed_price",
    ),
    (
        "bad decimal",
        "/v1/decide",
        _with(("proposal", "proposed_price"), "12,50"),
        422,
        "proposal.proposed_price",
    ),
    (
        "nan price",
        "/v1/decide",
        _with(("proposal", "proposed_price"), "NaN"),
        422,
        "proposal.proposed_price",
    ),
    (
        "zero duration",
        "/v1/decide",
        _with(("proposal", "duration_hours"), 0),
        422,
        "proposal.duration_hours",
    ),
    ("unknown field", "/v1/decide", _with(("surprise",), 1), 422, "surprise"),
    (
        "unknown nested field",
        "/v1/decide",
        _with(("product", "colour"), "red"),
        422,
        "product.colour",
    ),
    (
        "missing product",
        "/v1/decide",
        _json({"merchant_id": "acme", "proposal": {"proposed_price": "1"}}),
        422,
        None,
    ),
    ("bad merchant id", "/v1/decide", _with(("merchant_id",), "a/b c"), 422, "merchant_id"),
    ("long string", "/v1/decide", _with(("product", "title"), "x" * 100_000), 422, "product.title"),
    ("nested override", "/v1/decide", _with(("overrides",), {"a": {"b": 1}}), 422, None),
    ("deep nesting", "/v1/decide", b"[" * 10_000 + b"]" * 10_000, 400, None),
    (
        "deep nesting in field",
        "/v1/decide",
        _json(decide_body())[:-1]
        + b', "overrides": {"a": '
        + b"[" * 10_000
        + b"]" * 10_000
        + b"}}",
        400,
        None,
    ),
    ("invalid utf-8", "/v1/decide", b'{"merchant_id": "\xff\xfe", "product": {}}', 400, None),
    ("utf-16 body", "/v1/decide", json.dumps(decide_body()).encode("utf-16"), 400, None),
    ("lone surrogate escape", "/v1/decide", _with(("merchant_id",), "\ud800"), 400, None),
    ("batch not a list", "/v1/decide/batch", _json({"items": {"a": 1}}), 422, "items"),
    ("batch empty", "/v1/decide/batch", _json({"items": []}), 422, "items"),
    (
        "batch bad item",
        "/v1/decide/batch",
        _json({"items": [decide_body(), {"merchant_id": 1}]}),
        422,
        "items[1].merchant_id",
    ),
    (
        "merchant wrong type",
        "/v1/merchants",
        _json({"merchant_id": 5, "name": "x"}),
        422,
        "merchant_id",
    ),
    ("merchant empty name", "/v1/merchants", _json({"merchant_id": "m", "name": ""}), 422, "name"),
    (
        "settings unknown channel shape",
        "/v1/merchants",
        _json(
            {"merchant_id": "m", "name": "n", "settings": {"enabled_external_channels": ["EBAY!"]}}
        ),
        422,
        "settings.enabled_external_channels[0]",
    ),
]


@pytest.mark.parametrize(
    ("path", "body", "status", "field"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_malformed_body_is_a_client_problem(
    api: Api, path: str, body: bytes, status: int, field: str | None
) -> None:
    api.create_merchant("acme")
    r = api.http.post(path, content=body, headers={**api.admin, "Content-Type": "application/json"})
    assert r.status_code == status, r.text[:500]
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["status"] == status
    assert problem["title"] and problem["detail"]
    if field is not None:
        assert field in [p["name"] for p in problem["invalid_params"]], problem


def test_oversized_body_is_413_with_a_clear_message(api: Api) -> None:
    limit = api.config.max_body_bytes
    r = api.http.post(
        "/v1/decide/batch",
        content=b" " * (limit + 1),
        headers={**api.admin, "Content-Type": "application/json"},
    )
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == 413
    assert f"limit of {limit} bytes" in r.json()["detail"]


def test_oversized_chunked_body_is_413(api: Api) -> None:
    limit = api.config.max_body_bytes

    def chunks() -> Iterator[bytes]:
        sent = 0
        while sent <= limit:
            yield b" " * 65536
            sent += 65536

    r = api.http.post(
        "/v1/decide/batch",
        content=chunks(),
        headers={**api.admin, "Content-Type": "application/json"},
    )
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/no/such/path"),
        ("DELETE", "/v1/decide"),
        ("GET", "/v1/merchants/%00%ff/settings"),
        ("GET", "/v1/merchants/" + "x" * 5000 + "/settings"),
        ("PUT", "/v1/merchants/acme/channels/myspace/credentials"),
        ("POST", "/v1/decide/batch?trace=maybe"),
    ],
)
def test_odd_paths_and_methods_are_problems(api: Api, method: str, path: str) -> None:
    api.create_merchant("acme")
    r = api.http.request(method, path, json={"items": [decide_body()]}, headers=api.admin)
    assert 400 <= r.status_code < 500, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
