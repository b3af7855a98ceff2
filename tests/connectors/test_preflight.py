"""The pre-flight check against the sandbox over real HTTP: the plan of a campaign, every problem
by channel and field, and nothing changed anywhere (sandbox state identical before and after)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
import pytest

from connectors.amazon import AmazonChannel
from connectors.base import ChannelAccount, ExternalChannel
from connectors.config import ApiConfig
from connectors.ebay import EbayChannel
from connectors.http import ApiClient
from connectors.preflight import PreflightReport, preflight
from connectors.shopify import ShopifyStore
from engine.types import Decision, Product, Proposal
from tests.connectors.conftest import Sandbox

PRODUCT = Product(
    product_id="8812",
    variant_id="4410",
    title="Linen shirt",
    category="11450",
    stock_quantity=60,
    days_since_last_sale=45,
    current_price=Decimal("49.99"),
)
PROPOSAL = Proposal(proposed_price=Decimal("19.99"))


def decision(ebay: int = 21, amazon: int = 21, store_units: int = 18) -> Decision:
    channels = [
        {"channel": name, "allocated_units": units, "price": "19.99", "duration_days": 7}
        for name, units in (("ebay", ebay), ("amazon", amazon))
        if units
    ]
    return msgspec.convert(
        {
            "decision_id": "d-1",
            "merchant_id": "acme",
            "policy": {"name": "channel-routing", "version": "1", "sha256": "0" * 64},
            "rule_id": "dead-stock",
            "store": True,
            "store_units": store_units,
            "external_priority": True,
            "external_channels": channels,
            "reasoning": "Dead stock.",
            "trace": [],
            "parameters": {},
        },
        Decision,
    )


def snapshot(sandbox: Sandbox) -> dict[str, Any]:
    """Everything a campaign could change: store prices and stock, eBay and Amazon listings."""
    return {
        path: sandbox.control("GET", path).json()
        for path in (
            "/_sandbox/shopify/variants",
            "/_sandbox/shopify/inventory",
            "/_sandbox/shopify/price-updates",
            "/_sandbox/shopify/inventory-adjustments",
            "/_sandbox/ebay/offers",
            "/_sandbox/ebay/inventory_items",
            "/_sandbox/amazon/listings",
        )
    }


class Setup(msgspec.Struct):
    store: ShopifyStore
    store_account: ChannelAccount
    channels: dict[str, ExternalChannel]
    accounts: dict[str, ChannelAccount]


@pytest.fixture
async def setup(api: ApiClient, api_config: ApiConfig, sandbox: Sandbox) -> Setup:
    seed = {"product_id": "8812", "variant_id": "4410", "price": "49.99", "available": 60}
    assert sandbox.control("POST", "/_sandbox/shopify/variants", seed).status_code == 201
    store = ShopifyStore(api, api_config)
    store_account = await store.connect(
        {"shop_domain": "acme.myshopify.com", "access_token": "good-shpat-pf"}
    )
    ebay = EbayChannel(api, api_config)
    amazon = AmazonChannel(api, api_config)
    accounts = {
        "ebay": await ebay.authenticate({"authorization_code": "good-pf-1"}),
        "amazon": await amazon.authenticate(
            {"authorization_code": "good-pf-2", "seller_id": "APF1"}
        ),
    }
    return Setup(store, store_account, {"ebay": ebay, "amazon": amazon}, accounts)


async def run(setup: Setup, the_decision: Decision, **changes: Any) -> PreflightReport:
    arguments: dict[str, Any] = {
        "decision": the_decision,
        "product": PRODUCT,
        "proposal": PROPOSAL,
        "store": setup.store,
        "store_account": setup.store_account,
        "channels": setup.channels,
        "accounts": setup.accounts,
        "sku": "cr-camp-1-4410",
    }
    arguments.update(changes)
    return await preflight(**arguments)


async def test_a_sound_campaign_gets_its_plan_and_changes_nothing(
    setup: Setup, sandbox: Sandbox
) -> None:
    before = snapshot(sandbox)
    report = await run(setup, decision())
    assert report.problems == []
    assert report.ok is True
    store = report.plan.store
    assert (store.price_before, store.price_after, store.available, store.units_to_hold) == (
        "49.99",
        "19.99",
        60,
        42,
    )
    assert store.location_id == "gid://shopify/Location/1"
    assert [(c.channel, c.units, c.price, c.checked_by) for c in report.plan.channels] == [
        ("ebay", 21, "19.99", "local"),
        ("amazon", 21, "19.99", "marketplace"),
    ]
    assert report.plan.store_units == 18
    assert [(c.channel, c.call) for c in report.plan.calls] == [
        ("shopify", "productVariantsBulkUpdate"),
        ("shopify", "inventoryMoveQuantities"),
        ("ebay", "createOrReplaceInventoryItem"),
        ("ebay", "createOffer or updateOffer"),
        ("ebay", "publishOffer"),
        ("amazon", "putListingsItem"),
    ]
    assert snapshot(sandbox) == before


async def test_missing_connections_and_invalid_listings_are_named_by_channel_and_field(
    setup: Setup, sandbox: Sandbox
) -> None:
    setup.accounts["ebay"].extra.pop("payment_policy_id")
    before = snapshot(sandbox)
    report = await run(setup, decision(), accounts={"ebay": setup.accounts["ebay"]})
    assert report.ok is False
    assert [(p.channel, p.field, p.severity) for p in report.problems] == [
        ("ebay", "listingPolicies.paymentPolicyId", "error"),
        ("amazon", "credentials", "error"),
    ]
    assert snapshot(sandbox) == before


async def test_amazon_refusing_the_listing_is_a_problem_of_its_attribute(
    setup: Setup, sandbox: Sandbox
) -> None:
    bad = msgspec.structs.replace(
        decision(),
        external_channels=[msgspec.structs.replace(decision().external_channels[1], price="0")],
    )
    report = await run(setup, bad)
    assert [(p.channel, p.field) for p in report.problems] == [
        ("amazon", "attributes.purchasable_offer")
    ]


async def test_stock_short_on_the_store_is_a_warning_with_both_numbers(
    setup: Setup, sandbox: Sandbox
) -> None:
    sold = sandbox.control("POST", "/_sandbox/shopify/inventory/4410/sell", {"quantity": 30})
    assert sold.status_code == 200
    report = await run(setup, decision())
    assert report.ok is True
    [short] = report.problems
    assert (short.channel, short.field, short.code, short.severity) == (
        "shopify",
        "product.stock_quantity",
        "STOCK_SHORT",
        "warning",
    )
    assert "30 units available" in short.message and "42" in short.message


async def test_store_problems_missing_store_variant_or_price_change_by_hand(
    setup: Setup, sandbox: Sandbox
) -> None:
    no_store = await run(setup, decision(), store_account=None)
    assert [(p.channel, p.field) for p in no_store.problems] == [("shopify", "credentials")]
    assert no_store.plan.store.price_before is None
    missing = await run(setup, decision(), product=msgspec.structs.replace(PRODUCT, variant_id="9"))
    assert [(p.channel, p.field) for p in missing.problems] == [("shopify", "product.variant_id")]
    assert "does not exist" in missing.problems[0].message
    sandbox.control("POST", "/_sandbox/shopify/variants/4410/price", {"price": "45.00"})
    repriced = await run(setup, decision())
    assert [(p.field, p.code) for p in repriced.problems] == [
        ("product.current_price", "PRICE_DIFFERS")
    ]
    assert repriced.plan.store.price_before == "45.00"


async def test_a_token_that_no_longer_refreshes_is_a_credentials_problem(
    setup: Setup, sandbox: Sandbox
) -> None:
    account = setup.accounts["amazon"]
    account.tokens = msgspec.structs.replace(account.tokens, refresh_token="Atzr|revoked")
    report = await run(setup, decision())
    [problem] = report.problems
    assert (problem.channel, problem.field) == ("amazon", "credentials")
    assert "Atzr|revoked" not in problem.message


async def test_store_only_decisions_plan_just_the_price(setup: Setup, sandbox: Sandbox) -> None:
    report = await run(setup, decision(ebay=0, amazon=0, store_units=60))
    assert report.ok is True
    assert report.plan.channels == []
    assert [c.call for c in report.plan.calls] == ["productVariantsBulkUpdate"]
