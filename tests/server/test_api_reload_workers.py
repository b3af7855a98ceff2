"""A reload through one worker reaches every worker sharing the Redis (`serve --workers N`)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from server.app import create_app
from server.config import ServiceConfig
from tests.server.helpers import decide_body, live_server


@pytest.fixture
def two_workers(config: ServiceConfig) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    first, second = live_server(create_app(config)), live_server(create_app(config))
    try:
        with (
            httpx.Client(base_url=first.url, timeout=30) as a,
            httpx.Client(base_url=second.url, timeout=30) as b,
        ):
            yield a, b
    finally:
        first.stop()
        second.stop()


def _dead_stock_store_units(client: httpx.Client, admin: dict[str, str]) -> int:
    response = client.post("/v1/decide", json=decide_body(), headers=admin)
    assert response.status_code == 200, response.text
    units: int = response.json()["store_units"]
    return units


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_reload_in_one_worker_reaches_the_others(
    two_workers: tuple[httpx.Client, httpx.Client], config: ServiceConfig, policy_dir: Path
) -> None:
    a, b = two_workers
    admin = {"Authorization": f"Bearer {config.admin_token}"}
    created = a.post(
        "/v1/merchants",
        json={"merchant_id": "acme", "name": "Acme",
              "settings": {"enabled_external_channels": ["ebay"]}},
        headers=admin,
    )  # fmt: skip
    assert created.status_code == 201
    assert _dead_stock_store_units(b, admin) == 18  # 70 % of 60 goes external

    policy = policy_dir / "channel-routing" / "v1.yaml"
    policy.write_text(policy.read_text().replace("default: 70", "default: 50", 1))
    reloaded = a.post("/v1/policies/reload", headers=admin)
    assert reloaded.status_code == 200
    new_sha = reloaded.json()["policies"][0]["versions"][0]["sha256"]

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # polling the other worker for the announced reload
        seen = b.get("/v1/policies", headers=admin).json()["policies"][0]["versions"][0]
        if seen["sha256"] == new_sha:
            break
    assert seen["sha256"] == new_sha
    assert _dead_stock_store_units(b, admin) == 30  # now 50 % goes external
