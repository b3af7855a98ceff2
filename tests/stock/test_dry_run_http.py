"""`POST /v1/execute?dry_run=true` over HTTP on both backends, the marketplaces in the sandbox:
200 with the plan; a missing account and an Amazon-refused listing named by channel and field;
the Idempotency-Key required and not spent; nothing changed in the sandbox or our tables."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from server.config import ServiceConfig
from tests.connectors.conftest import Sandbox
from tests.server.helpers import Api, connector_env, decide_body, serving_api
from tests.stock.conftest import CREDENTIALS
from tests.stock.test_dry_run import SANDBOX_VIEWS, seed_variant


@pytest.fixture
def live(config: ServiceConfig, sandbox: Sandbox) -> Iterator[Api]:
    with serving_api(dataclasses.replace(config, env=connector_env(sandbox.base_url))) as api:
        yield api


def connect(api: Api, key: str, *channels: str) -> None:
    for channel in channels:
        response = api.http.put(
            f"/v1/merchants/acme/channels/{channel}/credentials",
            json=CREDENTIALS[channel],
            headers={"Authorization": f"Bearer {key}"},
        )
        assert response.status_code == 204, response.text


def body(**proposal: Any) -> dict[str, Any]:
    found = decide_body("acme")
    found["product"]["category"] = "11450"
    found["proposal"].update(proposal)
    return found


def state(sandbox: Sandbox) -> dict[str, Any]:
    return {path: sandbox.control("GET", path).json() for path in SANDBOX_VIEWS}


def test_a_dry_run_over_http_plans_and_changes_nothing(live: Api, sandbox: Sandbox) -> None:
    seed_variant(sandbox)
    key = live.create_merchant("acme", enabled_external_channels=["ebay", "amazon"])
    connect(live, key, "shopify", "ebay", "amazon")
    before = state(sandbox)
    auth = {"Authorization": f"Bearer {key}"}

    response = live.http.post(
        "/v1/execute?dry_run=true", json=body(), headers={**auth, "Idempotency-Key": "k-1"}
    )

    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["dry_run"], answer["ok"], answer["problems"]) == (True, True, [])
    assert answer["plan"]["store"]["units_to_hold"] == 42
    assert [c["channel"] for c in answer["plan"]["channels"]] == ["ebay", "amazon"]
    assert state(sandbox) == before
    listed = live.http.get("/v1/campaigns", headers=auth).json()
    assert listed["campaigns"] == []  # no campaign was made
    other = live.create_merchant("zeta")
    refused = live.http.post(
        "/v1/execute?dry_run=true",
        json=body(),
        headers={"Authorization": f"Bearer {other}", "Idempotency-Key": "k-1"},
    )
    assert refused.status_code == 403
    keyless = live.http.post("/v1/execute?dry_run=true", json=body(), headers=auth)
    assert keyless.status_code == 422  # the key is required, as for execute


def test_a_missing_account_and_an_amazon_refusal_over_http(live: Api, sandbox: Sandbox) -> None:
    seed_variant(sandbox)
    key = live.create_merchant("acme", enabled_external_channels=["ebay", "amazon"])
    connect(live, key, "shopify", "amazon")  # eBay not connected
    before = state(sandbox)

    response = live.http.post(
        "/v1/execute?dry_run=true",
        json=body(proposed_price="0"),  # Amazon's VALIDATION_PREVIEW refuses a 0 offer
        headers={"Authorization": f"Bearer {key}", "Idempotency-Key": "later-1"},
    )

    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["ok"] is False
    errors = {(p["channel"], p["field"]) for p in answer["problems"] if p["severity"] == "error"}
    assert {("ebay", "credentials"), ("amazon", "attributes.purchasable_offer")} <= errors
    assert answer["campaign_id"].startswith("cmp-")  # the id that key would make
    assert state(sandbox) == before
    # The key was not spent: executing with it later makes the campaign.
    assert (
        live.http.get(
            f"/v1/campaigns/{answer['campaign_id']}", headers={"Authorization": f"Bearer {key}"}
        ).status_code
        == 404
    )
