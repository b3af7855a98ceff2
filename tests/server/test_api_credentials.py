"""PUT /v1/merchants/{id}/channels/{channel}/credentials: body checks per channel,
and (when the connectors are present) the real exchange against the sandbox."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from server.app import create_app
from server.config import ServiceConfig
from server.db.connection import make_engine
from server.db.credentials import CredentialStore
from server.db.secrets_box import SecretBox
from server.db.tables import build_tables
from tests.server.helpers import Api, connector_env, live_server

PATH = "/v1/merchants/acme/channels/{channel}/credentials"


@pytest.mark.parametrize(
    ("channel", "body", "status", "field"),
    [
        ("ebay", {}, 422, "authorization_code"),
        ("ebay", {"authorization_code": "a", "refresh_token": "b"}, 422, "authorization_code"),
        ("ebay", {"authorization_code": "a", "shop_domain": "x"}, 422, "shop_domain"),
        ("amazon", {"authorization_code": "a"}, 422, "seller_id"),
        ("shopify", {"shop_domain": "x.myshopify.com"}, 422, "access_token"),
        ("shopify", {"access_token": "t", "shop_domain": "s", "seller_id": "q"}, 422, "seller_id"),
        ("ebay", {"authorization_code": "a", "colour": "red"}, 422, "colour"),
        ("myspace", {"authorization_code": "a"}, 404, None),
    ],
)
def test_credential_bodies_are_checked_per_channel(
    api: Api, channel: str, body: dict[str, Any], status: int, field: str | None
) -> None:
    api.create_merchant("acme")
    r = api.http.put(PATH.format(channel=channel), json=body, headers=api.admin)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    if field:
        assert field in [p["name"] for p in r.json()["invalid_params"]]
    for value in body.values():
        if len(value) > 2:
            assert value not in r.text


def test_credentials_for_an_unknown_merchant_are_not_found(api: Api) -> None:
    r = api.http.put(
        PATH.format(channel="shopify"),
        json={"shop_domain": "s.myshopify.com", "access_token": "good-token"},
        headers=api.admin,
    )
    assert r.status_code == 404


def test_an_unreachable_marketplace_is_a_502(api: Api) -> None:
    """The default test config points the connectors at a closed loopback port."""
    api.create_merchant("acme")
    r = api.http.put(
        PATH.format(channel="ebay"),
        json={"authorization_code": "good-code"},
        headers=api.admin,
    )
    assert r.status_code == 502, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "good-code" not in r.text and "client-secret-value" not in r.text


@pytest.fixture
def connected_api(config: ServiceConfig, sandbox_url: str) -> Iterator[Api]:
    config = dataclasses.replace(config, env=connector_env(sandbox_url))
    app = create_app(config)
    server = live_server(app)
    try:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            yield Api(url=server.url, config=config, http=http, app=app)
    finally:
        server.stop()


def _stored(api: Api, channel: str) -> tuple[bytes | None, str]:
    async def read() -> tuple[bytes | None, str]:
        tables = build_tables(make_engine(api.config.database_url))
        rows = await tables.channel_credential.select().run()
        store = CredentialStore(tables, SecretBox(str(api.config.secret_key)))
        return await store.load("acme", channel), " ".join(r["ciphertext"] for r in rows)

    return asyncio.run(read())


@pytest.mark.parametrize(
    ("channel", "body"),
    [
        ("ebay", {"authorization_code": "good-code-1", "redirect_uri": "https://example.test/cb"}),
        ("amazon", {"authorization_code": "good-code-2", "seller_id": "A1SELLER"}),
        ("shopify", {"shop_domain": "acme.myshopify.com", "access_token": "shpat_good_123"}),
    ],
)
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_connecting_an_account_stores_it_encrypted(
    connected_api: Api, channel: str, body: dict[str, str]
) -> None:
    key = connected_api.create_merchant("acme")
    r = connected_api.http.put(
        PATH.format(channel=channel), json=body, headers={"Authorization": f"Bearer {key}"}
    )
    assert r.status_code == 204, r.text
    assert r.content == b""
    plain, ciphertext = _stored(connected_api, channel)
    assert plain is not None and f'"channel":"{channel}"'.encode() in plain
    for value in body.values():
        assert value not in ciphertext


@pytest.mark.parametrize(
    ("channel", "body"),
    [
        ("ebay", {"authorization_code": "bad-code"}),
        ("amazon", {"authorization_code": "bad-code", "seller_id": "A1SELLER"}),
        ("shopify", {"shop_domain": "acme.myshopify.com", "access_token": "shpat_bad"}),
    ],
)
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_refused_exchange_is_422_and_stores_nothing(
    connected_api: Api, channel: str, body: dict[str, str]
) -> None:
    connected_api.create_merchant("acme")
    r = connected_api.http.put(PATH.format(channel=channel), json=body, headers=connected_api.admin)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "client-secret-value" not in r.text and "bad-code" not in r.text
    assert _stored(connected_api, channel) == (None, "")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_marketplace_that_keeps_failing_is_a_502_and_stores_nothing(
    connected_api: Api, sandbox_url: str
) -> None:
    connected_api.create_merchant("acme")
    fault = {"kind": "status", "api": "lwa", "status": 503, "times": 10}
    assert httpx.post(f"{sandbox_url}/_sandbox/faults", json=fault).status_code == 201
    r = connected_api.http.put(
        PATH.format(channel="amazon"),
        json={"authorization_code": "good-code", "seller_id": "A1SELLER"},
        headers=connected_api.admin,
    )
    assert r.status_code == 502, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "client-secret-value" not in r.text and "good-code" not in r.text
    assert _stored(connected_api, "amazon") == (None, "")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_connecting_spends_the_shared_rate_budget_shown_in_metrics(connected_api: Api) -> None:
    before = connected_api.http.get("/metrics").text
    assert (
        'channel_router_rate_budget_remaining{api="ebay",operation="account",scope="app"} 1000.0'
        in before
    )
    key = connected_api.create_merchant("acme")
    r = connected_api.http.put(
        PATH.format(channel="ebay"),
        json={"authorization_code": "good-code-metrics"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert r.status_code == 204, r.text
    text = connected_api.http.get("/metrics").text
    line = next(
        ln
        for ln in text.splitlines()
        if ln.startswith(
            'channel_router_rate_budget_remaining{api="ebay",operation="account",scope="app"}'
        )
    )
    # The connect listed three business policy kinds and created each (six Account API calls).
    assert float(line.rsplit(" ", 1)[1]) == 1000.0 - 6
