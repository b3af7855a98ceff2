"""Settings may enable only channels that have a connector, each once; and connecting
the same account twice at once stores one row."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from server.app import create_app
from server.config import ServiceConfig
from tests.server.helpers import Api, connector_env, live_server


@pytest.mark.parametrize(
    ("channels", "field", "reason"),
    [
        (["ebay", "wholesale"], "enabled_external_channels[1]", "unknown external channel"),
        (["amazon", "amazon"], "enabled_external_channels[1]", "listed twice"),
    ],
)
def test_settings_refuse_channels_without_a_connector(
    api: Api, channels: list[str], field: str, reason: str
) -> None:
    created = api.http.post(
        "/v1/merchants",
        json={"merchant_id": "acme", "name": "Acme",
              "settings": {"enabled_external_channels": channels}},
        headers=api.admin,
    )  # fmt: skip
    assert created.status_code == 422
    [param] = created.json()["invalid_params"]
    assert param["name"] == f"settings.{field}" and reason in param["reason"]

    api.create_merchant("acme")
    put = api.http.put(
        "/v1/merchants/acme/settings",
        json={"enabled_external_channels": channels},
        headers=api.admin,
    )
    assert put.status_code == 422
    assert put.headers["content-type"].startswith("application/problem+json")
    assert put.json()["invalid_params"][0]["name"] == field
    kept = api.http.get("/v1/merchants/acme/settings", headers=api.admin).json()
    assert kept["enabled_external_channels"] == []


@pytest.fixture
def connected_api(config: ServiceConfig, sandbox_url: str) -> Iterator[Api]:
    config = dataclasses.replace(config, env=connector_env(sandbox_url))
    server = live_server(create_app(config))
    try:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            yield Api(url=server.url, config=config, http=http, app=None)
    finally:
        server.stop()


def test_concurrent_connects_of_one_account_both_succeed(connected_api: Api) -> None:
    key = connected_api.create_merchant("acme")
    body = {"shop_domain": "acme.myshopify.com", "access_token": "shpat_good_1"}

    def connect(_: int) -> int:
        with httpx.Client(base_url=connected_api.url, timeout=60) as http:
            return http.put(
                "/v1/merchants/acme/channels/shopify/credentials",
                json=body,
                headers={"Authorization": f"Bearer {key}"},
            ).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        assert sorted(pool.map(connect, range(12))) == [204] * 12
