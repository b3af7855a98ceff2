"""Drift made in the sandbox outside channel-router, seen through the connectors over real HTTP:
a listing's quantity or price changed by hand, a listing ended, an Amazon listing suppressed."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import quote

import pytest

from connectors.amazon import AmazonChannel
from connectors.base import ListingRequest
from connectors.config import ApiConfig
from connectors.ebay import EbayChannel
from connectors.http import ApiClient
from tests.connectors.conftest import Sandbox

LISTING = ListingRequest(sku="cr-drift-1", title="Linen shirt", price=Decimal("19.99"), quantity=21)
SELLER = "ADRIFT1"


@pytest.fixture
def ebay(api: ApiClient, api_config: ApiConfig) -> EbayChannel:
    return EbayChannel(api, api_config)


@pytest.fixture
def amazon(api: ApiClient, api_config: ApiConfig) -> AmazonChannel:
    return AmazonChannel(api, api_config)


async def test_ebay_listing_edited_and_ended_by_hand(ebay: EbayChannel, sandbox: Sandbox) -> None:
    account = await ebay.authenticate({"authorization_code": "good-drift"})
    listed = await ebay.create_listing(account, LISTING)
    offer = listed.external_listing_id
    edited = sandbox.control(
        "POST", f"/_sandbox/ebay/offers/{offer}/edit", {"quantity": 30, "price": "24.50"}
    )
    assert edited.status_code == 200, edited.text
    seen = await ebay.monitor_listing(account, LISTING.sku, offer)
    assert (seen.status, seen.quantity_available, seen.price) == ("active", 30, Decimal("24.50"))
    assert sandbox.control("POST", f"/_sandbox/ebay/offers/{offer}/end").status_code == 200
    assert (await ebay.monitor_listing(account, LISTING.sku, offer)).status == "ended"
    assert sandbox.control("POST", f"/_sandbox/ebay/offers/{offer}/end").status_code == 409
    bad = sandbox.control("POST", f"/_sandbox/ebay/offers/{offer}/edit", {"quantity": -1})
    assert bad.status_code == 400
    assert sandbox.control("POST", "/_sandbox/ebay/offers/nope/end").status_code == 404


async def test_amazon_listing_edited_suppressed_and_deleted_by_hand(
    amazon: AmazonChannel, sandbox: Sandbox
) -> None:
    account = await amazon.authenticate({"authorization_code": "good-drift", "seller_id": SELLER})
    await amazon.create_listing(account, LISTING)
    assert (await amazon.monitor_listing(account, LISTING.sku, LISTING.sku)).status in (
        "pending",
        "active",
    )
    path = f"/_sandbox/amazon/listings/{SELLER}/{quote(LISTING.sku)}"
    edited = sandbox.control("POST", path + "/edit", {"quantity": 5, "price": "17.00"})
    assert edited.status_code == 200, edited.text
    seen = await amazon.monitor_listing(account, LISTING.sku, LISTING.sku)
    assert (seen.status, seen.quantity_available, seen.price) == ("active", 5, Decimal("17.00"))
    suppressed = sandbox.control("POST", path + "/end", {"suppress": "Brand approval required"})
    assert suppressed.status_code == 200
    seen = await amazon.monitor_listing(account, LISTING.sku, LISTING.sku)
    assert (seen.status, "Brand approval required" in seen.detail) == ("rejected", True)
    assert sandbox.control("POST", path + "/end", {}).status_code == 200
    assert (await amazon.monitor_listing(account, LISTING.sku, LISTING.sku)).status == "ended"
    assert sandbox.control("POST", path + "/end", {}).status_code == 404
