"""Validating a listing without publishing it: Amazon's VALIDATION_PREVIEW over real HTTP (the
marketplace judges, nothing is stored) and eBay's publish requirements checked on our side."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import msgspec
import pytest

from connectors.amazon import AmazonChannel
from connectors.base import ChannelAccount, ListingRequest, TokenSet
from connectors.config import ApiConfig
from connectors.ebay import EbayChannel, publish_problems
from connectors.http import ApiClient
from tests.connectors.conftest import Sandbox

SELLER = "A2SELLER0042"
LISTING = ListingRequest(
    sku="cr-camp-1-4410", title="Linen shirt", price=Decimal("19.99"), quantity=21
)


@pytest.fixture
def amazon(api: ApiClient, api_config: ApiConfig) -> AmazonChannel:
    return AmazonChannel(api, api_config)


@pytest.fixture
def ebay(api: ApiClient, api_config: ApiConfig) -> EbayChannel:
    return EbayChannel(api, api_config)


@pytest.fixture
async def amazon_account(amazon: AmazonChannel) -> ChannelAccount:
    return await amazon.authenticate({"authorization_code": "good-code-v1", "seller_id": SELLER})


@pytest.fixture
async def ebay_account(ebay: EbayChannel) -> ChannelAccount:
    return await ebay.authenticate({"authorization_code": "good-code-v2"})


async def test_amazon_preview_of_a_good_listing_is_valid_and_stores_nothing(
    amazon: AmazonChannel, amazon_account: ChannelAccount, sandbox: Sandbox
) -> None:
    result = await amazon.validate_listing(amazon_account, LISTING)
    assert (result.checked_by, result.problems) == ("marketplace", [])
    assert result.detail.startswith("VALIDATION_PREVIEW VALID")
    assert sandbox.control("GET", "/_sandbox/amazon/listings").json() == []
    puts = [r for r in sandbox.control("GET", "/_sandbox/requests").json() if r["method"] == "PUT"]
    assert [r["path"] for r in puts] == [f"/listings/2021-08-01/items/{SELLER}/cr-camp-1-4410"]


async def test_amazon_preview_reports_amazons_issues_by_attribute(
    amazon: AmazonChannel, amazon_account: ChannelAccount, sandbox: Sandbox
) -> None:
    amazon_account.extra["product_type"] = "SHIRT"
    broken = msgspec.structs.replace(LISTING, currency="DOLLARS")
    result = await amazon.validate_listing(amazon_account, broken)
    assert result.checked_by == "marketplace"
    assert [(p.channel, p.field, p.severity) for p in result.problems] == [
        ("amazon", "attributes.purchasable_offer", "error")
    ]
    assert "ISO 4217" in result.problems[0].message
    assert sandbox.control("GET", "/_sandbox/amazon/listings").json() == []


async def test_amazon_problems_we_can_see_are_reported_without_a_call(
    amazon: AmazonChannel, amazon_account: ChannelAccount, sandbox: Sandbox
) -> None:
    bad = msgspec.structs.replace(LISTING, title=" ", price=Decimal(0), condition="Shiny")
    result = await amazon.validate_listing(amazon_account, bad)
    assert result.checked_by == "local"
    assert {p.field for p in result.problems} == {
        "attributes.item_name",
        "attributes.purchasable_offer",
        "condition",
    }
    assert not [
        r for r in sandbox.control("GET", "/_sandbox/requests").json() if r["method"] == "PUT"
    ]


async def test_sandbox_preview_answers_identifiers_only_in_preview_mode(
    amazon_account: ChannelAccount, amazon: AmazonChannel, sandbox: Sandbox
) -> None:
    body = msgspec.json.decode(msgspec.json.encode(amazon.listing_body(amazon_account, LISTING)))
    url = f"{sandbox.base_url}/listings/2021-08-01/items/{SELLER}/sku-1"
    headers = {"x-amz-access-token": amazon_account.tokens.access_token}

    def put(query: str) -> httpx.Response:
        return httpx.put(f"{url}?{query}", json=body, headers=headers, timeout=10)

    market = "marketplaceIds=ATVPDKIKX0DER"
    preview = put(f"{market}&mode=VALIDATION_PREVIEW&includedData=identifiers,issues")
    assert preview.status_code == 200, preview.text
    assert preview.json()["status"] == "VALID"
    assert preview.json()["identifiers"] == []
    refused = put(f"{market}&includedData=identifiers")
    assert refused.status_code == 400
    assert "VALIDATION_PREVIEW" in refused.json()["errors"][0]["message"]
    wrong_mode = put(f"{market}&mode=DRY_RUN")
    assert wrong_mode.status_code == 400


async def test_ebay_validation_of_a_set_up_account_finds_nothing(
    ebay: EbayChannel, ebay_account: ChannelAccount, sandbox: Sandbox
) -> None:
    before = sandbox.control("GET", "/_sandbox/state").json()["ebay"]
    result = await ebay.validate_listing(ebay_account, LISTING)
    assert (result.checked_by, result.problems) == ("local", [])
    after = sandbox.control("GET", "/_sandbox/state").json()["ebay"]
    assert after == before


async def test_ebay_validation_notices_a_policy_or_location_gone_on_ebay(
    ebay: EbayChannel, ebay_account: ChannelAccount, sandbox: Sandbox
) -> None:
    sandbox.state.ebay.policies["payment"].clear()
    sandbox.state.ebay.locations.clear()
    result = await ebay.validate_listing(ebay_account, LISTING)
    assert [(p.field, p.code) for p in result.problems] == [
        ("listingPolicies.paymentPolicyId", "25035"),
        ("merchantLocationKey", "25012"),
    ]


def _ebay_account(**extra: str) -> ChannelAccount:
    base = {
        "fulfillment_policy_id": "1",
        "payment_policy_id": "2",
        "return_policy_id": "3",
        "merchant_location_key": "loc",
    }
    tokens = TokenSet(access_token="t", expires_at=datetime.now(UTC))
    return ChannelAccount("ebay", tokens, "EBAY_US", extra={**base, **extra})


@pytest.mark.parametrize(
    ("extra", "change", "field", "severity"),
    [
        ({"payment_policy_id": ""}, {}, "listingPolicies.paymentPolicyId", "error"),
        ({"fulfillment_policy_id": ""}, {}, "listingPolicies.fulfillmentPolicyId", "error"),
        ({"return_policy_id": ""}, {}, "listingPolicies.returnPolicyId", "error"),
        ({"merchant_location_key": ""}, {}, "merchantLocationKey", "error"),
        ({"category_id": "shoes"}, {}, "categoryId", "error"),
        ({}, {"category": "Apparel"}, "categoryId", "warning"),
        ({}, {"quantity": 0}, "availableQuantity", "error"),
        ({}, {"price": Decimal(0)}, "pricingSummary.price.value", "error"),
        ({}, {"price": Decimal("1.999")}, "pricingSummary.price.value", "error"),
        ({}, {"currency": "EUR"}, "pricingSummary.price.currency", "error"),
        ({}, {"title": ""}, "product.title", "error"),
        ({}, {"title": "x" * 81}, "product.title", "warning"),
        ({}, {"condition": "MINT"}, "condition", "error"),
    ],
)
def test_each_ebay_publish_rule_names_its_field(
    extra: dict[str, str], change: dict[str, Any], field: str, severity: str
) -> None:
    assert publish_problems(_ebay_account(), LISTING) == []
    found = publish_problems(_ebay_account(**extra), msgspec.structs.replace(LISTING, **change))
    assert [(p.channel, p.field, p.severity) for p in found] == [("ebay", field, severity)]


def test_ebay_reports_every_problem_at_once() -> None:
    account = _ebay_account(payment_policy_id="", merchant_location_key="")
    listing = msgspec.structs.replace(LISTING, quantity=0, price=Decimal(-1))
    assert {p.field for p in publish_problems(account, listing)} == {
        "listingPolicies.paymentPolicyId",
        "merchantLocationKey",
        "availableQuantity",
        "pricingSummary.price.value",
    }
