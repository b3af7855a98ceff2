"""A campaign from `POST /v1/execute` to its verified end, on SQLite and PostgreSQL: the API
app (over loopback HTTP) and `channel-router worker` (a subprocess) on one database and
one Redis, the marketplaces the sandbox. Every effect is checked in the sandbox's own state:
the store price, both listings with the allocated units at the clearance price, a sale
counted once however often sales are pulled, and at the end the price back and nothing
left live."""

from __future__ import annotations

import dataclasses
import secrets
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from server.config import REPO_POLICY_DIR, ServiceConfig
from tests.execution.conftest import (
    ACCOUNTS,
    CLEARANCE_PRICE,
    MERCHANT,
    ORIGINAL_PRICE,
    Deployment,
)
from tests.server.helpers import Api, serving_api


@pytest.fixture
def api(deployment: Deployment, tmp_path: Path) -> Iterator[Api]:
    """The API app on the deployment's database, Redis, prefix and credentials key."""
    policies = tmp_path / "policies"
    shutil.copytree(REPO_POLICY_DIR, policies)
    env = deployment.env
    config = ServiceConfig(
        database_url=deployment.database_url,
        policy_dir=policies,
        redis_url=deployment.redis_url,
        admin_token="admin-" + secrets.token_urlsafe(24),
        secret_key=deployment.secret_key,
        env=env,
        redis_prefix=deployment.redis_prefix,
    )
    with serving_api(dataclasses.replace(config)) as running:
        yield running


def _live_ebay(deployment: Deployment, sku: str) -> list[dict[str, Any]]:
    return [o for o in deployment.ebay_offers() if o["sku"] == sku and o["status"] == "PUBLISHED"]


def _pulls_after_sale(deployment: Deployment) -> int:
    """How many sales pulls finished after the one that counted the sale (the worker's log)."""
    text = deployment.worker_log(tail=None)
    marker = text.find("'1 new order line(s)'")
    return text[marker + 1 :].count("new order line(s)") if marker >= 0 else 0


def test_a_campaign_lists_sells_and_ends_verified(deployment: Deployment, api: Api) -> None:
    key = api.create_merchant(MERCHANT, enabled_external_channels=["ebay", "amazon"])
    merchant = {"Authorization": f"Bearer {key}"}
    for channel, account in ACCOUNTS.items():
        # Codes are single-use: the deployment spent these; a merchant would get new ones.
        body = {k: v + "-api" if k == "authorization_code" else v for k, v in account.items()}
        put = api.http.put(
            f"/v1/merchants/{MERCHANT}/channels/{channel}/credentials", json=body, headers=merchant
        )
        assert put.status_code == 204, put.text
    deployment.start_worker()

    body = {
        "merchant_id": MERCHANT,
        "product": {
            "product_id": "8812", "variant_id": "4410", "title": "Linen shirt",
            "category": "Apparel", "stock_quantity": 60, "days_since_last_sale": 45,
            "current_price": ORIGINAL_PRICE,
        },
        "proposal": {"proposed_price": CLEARANCE_PRICE, "duration_hours": 168},
    }  # fmt: skip
    headers = {**merchant, "Idempotency-Key": "e2e-1"}
    executed = api.http.post("/v1/execute", json=body, headers=headers)
    assert executed.status_code == 202, executed.text
    campaign_id = executed.json()["campaign_id"]
    assert [(x["channel"], x["allocated_units"]) for x in executed.json()["listings"]] == [
        ("ebay", 21),
        ("amazon", 21),
    ]

    record = deployment.wait_for(
        campaign_id,
        lambda r: (
            r.state.status == "active" and all(item.status == "active" for item in r.state.listings)
        ),
        "active on both marketplaces",
    )
    assert record.state.store.price_before == ORIGINAL_PRICE
    assert deployment.store_price() == CLEARANCE_PRICE
    ebay_sku, amazon_sku = record.skus["ebay"], record.skus["amazon"]
    (offer,) = _live_ebay(deployment, ebay_sku)
    assert offer["availableQuantity"] == 21
    assert Decimal(offer["pricingSummary"]["price"]["value"]) == Decimal(CLEARANCE_PRICE)
    (listing,) = [x for x in deployment.amazon_listings() if x["sku"] == amazon_sku]
    assert Decimal(listing["price"]) == Decimal(CLEARANCE_PRICE) and listing["quantity"] == 21

    # The same request again: the same campaign, nothing listed twice.
    again = api.http.post("/v1/execute", json=body, headers=headers)
    assert again.json()["campaign_id"] == campaign_id
    assert len([o for o in deployment.ebay_offers() if o["sku"] == ebay_sku]) == 1

    # A sale on eBay: counted once, however many pulls see it.
    made = deployment.sandbox.control(
        "POST", "/_sandbox/ebay/orders", {"sku": ebay_sku, "quantity": 3, "price": CLEARANCE_PRICE}
    )
    assert made.status_code == 201, made.text
    deployment.wait_for(
        campaign_id, lambda r: r.state.listing("ebay").units_sold == 3, "3 units sold on eBay"
    )
    deployment.wait_for(
        campaign_id, lambda r: _pulls_after_sale(deployment) >= 2, "two more sales pulls"
    )
    shown = api.http.get(f"/v1/campaigns/{campaign_id}", headers=merchant).json()
    assert {x["channel"]: x["units_sold"] for x in shown["listings"]} == {"ebay": 3, "amazon": 0}

    cancel = api.http.post(f"/v1/campaigns/{campaign_id}/cancel", headers=merchant)
    assert cancel.status_code == 202, cancel.text
    record = deployment.wait_for(campaign_id, lambda r: r.state.final, "the verified end")
    assert record.state.status == "cancelled" and record.state.store.status == "reverted"
    assert deployment.store_price() == ORIGINAL_PRICE
    assert _live_ebay(deployment, ebay_sku) == []
    assert [x for x in deployment.amazon_listings() if x["sku"] == amazon_sku] == []

    shown = api.http.get(f"/v1/campaigns/{campaign_id}", headers=merchant).json()
    assert shown["status"] == "cancelled" and shown["end"]["outstanding"] == []
    assert [x["status"] for x in shown["listings"]] == ["ended", "ended"]
    steps = {(e["step"], e["outcome"]) for e in shown["events"]}
    assert {("store-price", "ok"), ("list", "ok"), ("revert-price", "ok"), ("end", "ok")} <= steps
    assert all(secrets_free(e.get("detail") or "") for e in shown["events"])


def secrets_free(text: str) -> bool:
    """No token the sandbox issues or we were given appears in a timeline row."""
    return "shpat_" not in text and "v^1.1#" not in text and "Atza|" not in text
