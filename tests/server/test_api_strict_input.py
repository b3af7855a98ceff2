"""The request boundary over HTTP: a token before any body, JSON only, strict
fields, no control characters stored anywhere, every problem named."""

from __future__ import annotations

import json
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.server.helpers import Api, decide_body


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _refused(response: Any, *fields: str) -> list[str]:
    assert response.status_code == 422, response.text[:500]
    assert response.headers["content-type"].startswith("application/problem+json")
    names = [p["name"] for p in response.json()["invalid_params"]]
    for field in fields:
        assert field in names, (field, names)
    return names


def test_control_characters_are_refused_in_every_text_field(api: Api) -> None:
    """PostgreSQL cannot store NUL (it answered 500); both backends now refuse it, and
    every other control character, with a 422 naming the field, storing nothing."""
    key = api.create_merchant("acme", enabled_external_channels=["ebay", "amazon"])
    merchant = _bearer(key)
    cases: list[tuple[str, str, dict[str, Any], dict[str, str], str]] = [
        ("POST", "/v1/merchants", {"merchant_id": "m1", "name": "Ac\x00me"}, api.admin, "name"),
        (
            "POST",
            "/v1/merchants",
            {"merchant_id": "m1\n", "name": "Acme"},
            api.admin,
            "merchant_id",
        ),
        (
            "POST",
            "/v1/merchants",
            {
                "merchant_id": "m1",
                "name": "A",
                "settings": {"external_excluded_categories": ["\x85"]},
            },
            api.admin,
            "settings.external_excluded_categories[0]",
        ),
        (
            "PUT",
            "/v1/merchants/acme/settings",
            {"external_excluded_categories": ["Shoes", "Bags\x7f"]},
            merchant,
            "external_excluded_categories[1]",
        ),
        (
            "PUT",
            "/v1/merchants/acme/channels/ebay/credentials",
            {"authorization_code": "good\x00code"},
            merchant,
            "authorization_code",
        ),
        (
            "PUT",
            "/v1/merchants/acme/channels/shopify/credentials",
            {"shop_domain": "acme.myshopify.com\x00", "access_token": "shpat_x"},
            merchant,
            "shop_domain",
        ),
    ]
    for field in ("title", "category", "product_id", "variant_id"):
        cases.append(
            ("POST", "/v1/decide", decide_body(**{field: "x\x00y"}), merchant, f"product.{field}")
        )
    cases.append(
        (
            "POST",
            "/v1/decide",
            {**decide_body(), "overrides": {"high_margin_categories": ["Rings\x07"]}},
            merchant,
            "overrides.high_margin_categories[0]",
        )
    )
    for method, path, body, headers, field in cases:
        _refused(api.http.request(method, path, json=body, headers=headers), field)
    # Nothing of it was stored: m1 does not exist, acme's settings are untouched.
    assert (
        api.http.post(
            "/v1/merchants", json={"merchant_id": "m1", "name": "Acme"}, headers=api.admin
        ).status_code
        == 201
    )
    assert (
        api.http.get("/v1/merchants/acme/settings", headers=merchant).json()[
            "external_excluded_categories"
        ]
        == []
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_fields_are_decoded_strictly_and_money_comes_back_as_given(api: Api) -> None:
    key = api.create_merchant("acme", enabled_external_channels=["ebay", "amazon"])
    merchant = _bearer(key)
    for value in ("60", "6e1"):
        _refused(
            api.http.post("/v1/decide", json=decide_body(stock_quantity=value), headers=merchant),
            "product.stock_quantity",
        )
    for value in ("false", 0):
        _refused(
            api.http.put(
                "/v1/merchants/acme/settings",
                json={"external_channels_enabled": value},
                headers=merchant,
            ),
            "external_channels_enabled",
        )
    for price in (19.99, "1.999e1", "-0", "019.99"):
        body = decide_body()
        body["proposal"]["proposed_price"] = price
        _refused(
            api.http.post("/v1/decide", json=body, headers=merchant), "proposal.proposed_price"
        )
    body = decide_body(stock_quantity=60.0)  # a whole number is an integer, as JSON Schema says
    body["proposal"]["proposed_price"] = "19.90"
    decision = api.http.post("/v1/decide", json=body, headers=merchant).json()
    assert decision["rule_id"] == "dead-stock"
    assert [c["price"] for c in decision["external_channels"]] == ["19.90", "19.90"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_bodies_that_are_not_json_get_415(api: Api) -> None:
    key = api.create_merchant("acme")
    body = json.dumps(decide_body()).encode()
    for content_type in (
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "application/json; charset=latin-1",
    ):
        r = api.http.post(
            "/v1/decide", content=body, headers={**_bearer(key), "Content-Type": content_type}
        )
        assert r.status_code == 415, (content_type, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    r = api.http.post(
        "/v1/decide",
        content=body,
        headers={**_bearer(key), "Content-Type": "application/json; charset=UTF-8"},
    )
    assert r.status_code == 200, r.text
    # Without a token the answer is 401, whatever the body is.
    r = api.http.post("/v1/decide", content=b"a=b", headers={"Content-Type": "text/plain"})
    assert r.status_code == 401


def _status_before_body(api: Api, head: str) -> int:
    """Send only the head of a request announcing 16 MiB of body; the status line that
    comes back before any body byte is sent (the server did not wait to read it)."""
    parts = urlsplit(api.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(head.encode() + b"\r\n")
        deadline = time.monotonic() + 10
        received = b""
        while b"\r\n" not in received and time.monotonic() < deadline:
            chunk = sock.recv(4096)
            if not chunk:
                break
            received += chunk
    return int(received.split(b" ", 2)[1])


def test_the_token_is_checked_before_the_body_is_read(api: Api) -> None:
    key = api.create_merchant("acme")
    api.create_merchant("other")
    head = (
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 16777216\r\n{auth}"
    )
    no_token = ""
    bad_token = "Authorization: Bearer cr_not-a-key\r\n"
    merchant = f"Authorization: Bearer {key}\r\n"
    for method, path, auth, status in [
        ("POST", "/v1/decide/batch", no_token, 401),
        ("POST", "/v1/decide", bad_token, 401),
        ("PUT", "/v1/merchants/other/settings", merchant, 403),
        ("POST", "/v1/merchants", merchant, 403),
        ("POST", "/v1/policies/reload", merchant, 403),
    ]:
        assert _status_before_body(api, head.format(method=method, path=path, auth=auth)) == status
    # A malformed or invalid body without a valid token says nothing about the body.
    r = api.http.post(
        "/v1/decide",
        content=b'{"merchant_id": 5, "product": {"stock_quantity": "x"}',
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 401 and "invalid_params" not in r.json()
    assert r.headers["www-authenticate"] == "Bearer"


def test_a_batch_names_every_refused_item(api: Api) -> None:
    key = api.create_merchant("acme", enabled_external_channels=["ebay"])
    items = [decide_body() for _ in range(10_000)]
    items[5]["product"]["stock_quantity"] = -1
    items[777]["product"]["title"] = "\x00"
    items[9999]["proposal"]["proposed_price"] = "1e3"
    r = api.http.post("/v1/decide/batch", json={"items": items}, headers=_bearer(key))
    assert _refused(r) == [
        "items[5].product.stock_quantity",
        "items[777].product.title",
        "items[9999].proposal.proposed_price",
    ]
    # Items the policy refuses (unknown parameters) are all named too.
    items = [decide_body() for _ in range(10)]
    items[3]["overrides"] = {"no_such_param": 1}
    items[8]["overrides"] = {"also_unknown": True}
    r = api.http.post("/v1/decide/batch", json={"items": items}, headers=_bearer(key))
    assert _refused(r) == ["items[3].overrides.no_such_param", "items[8].overrides.also_unknown"]
