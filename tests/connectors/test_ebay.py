"""eBay connector against the sandbox over real HTTP on loopback, and the sandbox's own refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import msgspec
import pytest

from connectors.base import ChannelAccount, ListingRequest
from connectors.config import ApiConfig
from connectors.ebay import (
    IDENTITY_USER_PATH,
    EbayChannel,
    ebay_error_message,
    identity_base_url,
)
from connectors.errors import (
    AuthenticationError,
    PermanentChannelError,
    TransientChannelError,
)
from connectors.http import ApiClient
from tests.connectors.conftest import inject, tokens_for_an_hour

INVENTORY = "/sell/inventory/v1"


def _listing(sku: str = "cr-acme-8812-4410", **changes: Any) -> ListingRequest:
    fields: dict[str, Any] = {
        "sku": sku,
        "title": "Linen shirt",
        "price": Decimal("19.99"),
        "quantity": 21,
        "description": "A linen shirt, clearance",
        "category": "Apparel",
    }
    fields.update(changes)
    return ListingRequest(**fields)


@pytest.fixture
def ebay(api: ApiClient, api_config: ApiConfig) -> EbayChannel:
    return EbayChannel(api, api_config)


@pytest.fixture
def slow_config(api_config: ApiConfig) -> ApiConfig:
    """A short timeout, so an injected delay outlasts it quickly."""
    return msgspec.structs.replace(api_config, timeout_seconds=0.5)


@pytest.fixture
async def slow_api(slow_config: ApiConfig, sleeps: list[float]) -> AsyncIterator[ApiClient]:
    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    async with httpx.AsyncClient() as client:
        yield ApiClient(client, slow_config, sleep=record)


@pytest.fixture
async def account(ebay: EbayChannel) -> ChannelAccount:
    return await ebay.authenticate({"authorization_code": "good-code", "marketplace_id": "EBAY_US"})


async def _get(sandbox: Any, path: str) -> Any:
    async with httpx.AsyncClient(base_url=sandbox.base_url) as client:
        response = await client.get(path)
        response.raise_for_status()
        return response.json()


async def _post(sandbox: Any, path: str, body: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=sandbox.base_url) as client:
        return await client.post(path, json=body)


async def _requests(sandbox: Any, path: str, method: str | None = None) -> list[dict[str, Any]]:
    """The sandbox's request log for one path (oldest first)."""
    log = await _get(sandbox, "/_sandbox/requests")
    return [r for r in log if r["path"] == path and (method is None or r["method"] == method)]


def _no_secret_in(error: BaseException, account: ChannelAccount | None, config: ApiConfig) -> None:
    text = str(error) + repr(error)
    assert config.ebay_client_secret not in text
    if account is not None:
        assert account.tokens.access_token not in text
        assert (account.tokens.refresh_token or "unset-token") not in text


# --- OAuth ---


async def test_authorization_code_gives_tokens_policies_and_location(
    ebay: EbayChannel, sandbox: Any
) -> None:
    before = datetime.now(UTC)
    account = await ebay.authenticate({"authorization_code": "good-code"})

    assert account.channel == "ebay"
    assert account.marketplace_id == "EBAY_US"
    assert account.tokens.access_token
    assert account.tokens.refresh_token
    # eBay access tokens live 7200 s (the sandbox default).
    assert before + timedelta(seconds=7100) < account.tokens.expires_at
    assert account.tokens.expires_at < before + timedelta(seconds=7300)
    assert account.tokens.access_token not in repr(account.tokens)
    policies = await _get(sandbox, "/_sandbox/ebay/policies")
    assert (
        account.extra["fulfillment_policy_id"] == policies["fulfillment"][0]["fulfillmentPolicyId"]
    )
    assert account.extra["payment_policy_id"] == policies["payment"][0]["paymentPolicyId"]
    assert account.extra["return_policy_id"] == policies["return"][0]["returnPolicyId"]
    assert account.extra["merchant_location_key"] == "channel-router-default"
    locations = await _get(sandbox, "/_sandbox/ebay/locations")
    assert locations["channel-router-default"]["location"]["address"]["country"] == "US"
    assert await _get(sandbox, "/_sandbox/ebay/token_grants") == ["authorization_code"]


async def test_bad_code_is_an_authentication_error_with_ebays_description(
    ebay: EbayChannel, api_config: ApiConfig
) -> None:
    with pytest.raises(AuthenticationError) as caught:
        await ebay.authenticate({"authorization_code": "bad-code"})
    assert "authorization grant code is invalid" in str(caught.value)
    assert caught.value.status == 400
    _no_secret_in(caught.value, None, api_config)


async def test_refresh_token_credentials_are_accepted(ebay: EbayChannel, sandbox: Any) -> None:
    account = await ebay.authenticate(
        {"refresh_token": "good-refresh", "marketplace_id": "EBAY_US"}
    )
    assert account.tokens.refresh_token == "good-refresh"
    assert account.tokens.access_token
    assert await _get(sandbox, "/_sandbox/ebay/token_grants") == ["refresh_token"]


async def test_a_code_exchange_learns_the_sellers_user_name(
    ebay: EbayChannel, sandbox: Any
) -> None:
    account = await ebay.authenticate({"authorization_code": "good-code"})
    assert account.seller_id == "sandbox_seller"  # Commerce Identity getUser's username
    # (the sandbox's log shows paths as Litestar routes them, without the trailing slash)
    asked = await _requests(sandbox, IDENTITY_USER_PATH.rstrip("/"), "GET")
    assert len(asked) == 1


async def test_a_refresh_token_connect_does_not_ask_for_the_user_name(
    ebay: EbayChannel, sandbox: Any
) -> None:
    # Refreshes ask for the sell scopes only, so the token could not read the identity.
    account = await ebay.authenticate({"refresh_token": "good-refresh"})
    assert account.seller_id is None
    assert await _requests(sandbox, IDENTITY_USER_PATH.rstrip("/")) == []


@pytest.mark.parametrize("status", [403, 500])
async def test_a_failed_user_name_lookup_still_connects(
    ebay: EbayChannel, sandbox: Any, status: int
) -> None:
    inject(sandbox, api="ebay", path_prefix="/commerce/", kind="status", status=status, times=10)
    account = await ebay.authenticate({"authorization_code": "good-code"})
    assert account.seller_id is None
    assert account.extra["merchant_location_key"] == "channel-router-default"


def test_the_identity_api_is_on_ebays_apiz_host() -> None:
    assert identity_base_url("https://api.ebay.com") == "https://apiz.ebay.com"
    assert identity_base_url("https://api.sandbox.ebay.com/") == "https://apiz.sandbox.ebay.com"
    assert identity_base_url("http://127.0.0.1:8100/") == "http://127.0.0.1:8100"


async def test_credentials_without_code_or_refresh_token_are_refused(ebay: EbayChannel) -> None:
    with pytest.raises(AuthenticationError, match="authorization_code or a refresh_token"):
        await ebay.authenticate({"marketplace_id": "EBAY_US"})


async def test_policies_and_location_are_created_once_and_reused(
    ebay: EbayChannel, sandbox: Any
) -> None:
    first = await ebay.authenticate({"authorization_code": "good-1"})
    second = await ebay.authenticate({"authorization_code": "good-2"})

    assert first.extra == second.extra
    policies = await _get(sandbox, "/_sandbox/ebay/policies")
    assert {kind: len(items) for kind, items in policies.items()} == {
        "fulfillment": 1,
        "payment": 1,
        "return": 1,
    }
    assert list(await _get(sandbox, "/_sandbox/ebay/locations")) == ["channel-router-default"]


async def test_token_is_refreshed_before_it_expires(ebay: EbayChannel, sandbox: Any) -> None:
    # Tokens that live 30 s are inside the 60 s refresh margin, so each call refreshes first.
    response = await _post(sandbox, "/_sandbox/token-ttl", {"seconds": 30})
    assert response.status_code < 300
    account = await ebay.authenticate({"authorization_code": "good-code"})
    grants_after_auth = await _get(sandbox, "/_sandbox/ebay/token_grants")
    old_token = account.tokens.access_token

    state = await ebay.create_listing(account, _listing())

    assert state.status == "active"
    assert account.tokens.access_token != old_token
    assert account.tokens.expires_at < datetime.now(UTC) + timedelta(seconds=31)
    # No call was refused: the token was renewed before it was used, not after a 401.
    puts = await _requests(sandbox, f"{INVENTORY}/inventory_item/cr-acme-8812-4410", "PUT")
    assert len(puts) == 1
    grants = await _get(sandbox, "/_sandbox/ebay/token_grants")
    assert grants[: len(grants_after_auth)] == grants_after_auth
    assert "refresh_token" in grants[len(grants_after_auth) :]


async def test_a_401_refreshes_once_and_retries(
    ebay: EbayChannel, account: ChannelAccount, sandbox: Any
) -> None:
    # The sandbox no longer knows this token (as after a revocation), though it has not "expired".
    account.tokens = tokens_for_an_hour("v^1.1#i^1#revoked", account.tokens.refresh_token)
    state = await ebay.create_listing(account, _listing())

    assert state.status == "active"
    assert account.tokens.access_token != "v^1.1#i^1#revoked"
    grants = await _get(sandbox, "/_sandbox/ebay/token_grants")
    assert grants.count("refresh_token") == 1
    # The refused call was made twice: once with the stale token, once after the refresh.
    puts = await _requests(sandbox, f"{INVENTORY}/inventory_item/cr-acme-8812-4410", "PUT")
    assert len(puts) == 2


async def test_refused_refresh_is_an_authentication_error_without_tokens(
    ebay: EbayChannel, account: ChannelAccount, api_config: ApiConfig
) -> None:
    account.tokens = tokens_for_an_hour(
        "v^1.1#i^1#revoked-access-token", "v^1.1#i^1#r^1#revoked-refresh-token"
    )
    with pytest.raises(AuthenticationError) as caught:
        await ebay.monitor_listing(account, "cr-x", "5000000001")
    assert "refresh token is invalid" in str(caught.value)
    _no_secret_in(caught.value, account, api_config)


# --- listings ---


async def test_create_monitor_cancel(
    ebay: EbayChannel, account: ChannelAccount, sandbox: Any
) -> None:
    created = await ebay.create_listing(account, _listing())

    assert created.status == "active"
    assert created.quantity_available == 21
    assert created.price == Decimal("19.99")
    offers = await _get(sandbox, "/_sandbox/ebay/offers")
    assert len(offers) == 1
    offer = offers[0]
    assert created.external_listing_id == offer["offerId"]
    assert offer["status"] == "PUBLISHED"
    assert offer["format"] == "FIXED_PRICE"
    assert offer["marketplaceId"] == "EBAY_US"
    assert offer["availableQuantity"] == 21
    assert offer["pricingSummary"]["price"] == {"value": "19.99", "currency": "USD"}
    assert offer["merchantLocationKey"] == "channel-router-default"
    assert offer["listingPolicies"] == {
        "fulfillmentPolicyId": account.extra["fulfillment_policy_id"],
        "paymentPolicyId": account.extra["payment_policy_id"],
        "returnPolicyId": account.extra["return_policy_id"],
    }
    assert f"listingId={offer['listing']['listingId']}" in created.detail
    items = await _get(sandbox, "/_sandbox/ebay/inventory_items")
    item = items["cr-acme-8812-4410"]
    assert item["availability"] == {"shipToLocationAvailability": {"quantity": 21}}
    assert item["product"]["title"] == "Linen shirt"
    assert item["condition"] == "NEW"
    assert item["locale"] == "en-US"
    real = await _raw(sandbox, account, "GET", f"{INVENTORY}/inventory_item/cr-acme-8812-4410")
    assert real.status_code == 200
    assert real.json()["product"] == item["product"]

    sold = await _post(
        sandbox,
        "/_sandbox/ebay/orders",
        {"sku": "cr-acme-8812-4410", "quantity": 3, "price": "19.99"},
    )
    assert sold.status_code == 201
    monitored = await ebay.monitor_listing(
        account, "cr-acme-8812-4410", created.external_listing_id
    )
    assert monitored.status == "active"
    assert monitored.units_sold == 3
    assert monitored.quantity_available == 18
    assert monitored.price == Decimal("19.99")

    cancelled = await ebay.cancel_listing(account, "cr-acme-8812-4410", created.external_listing_id)
    assert cancelled.status == "ended"
    offer = (await _get(sandbox, "/_sandbox/ebay/offers"))[0]
    assert offer["status"] == "UNPUBLISHED"
    assert offer["listing"]["listingStatus"] == "ENDED"
    after = await ebay.monitor_listing(account, "cr-acme-8812-4410", created.external_listing_id)
    assert after.status == "ended"
    assert after.units_sold == 3

    again = await ebay.cancel_listing(account, "cr-acme-8812-4410", created.external_listing_id)
    assert again.status == "ended"
    assert again.detail == "already withdrawn"


async def test_cancel_of_an_unknown_offer_is_ended_not_an_error(
    ebay: EbayChannel, account: ChannelAccount
) -> None:
    state = await ebay.cancel_listing(account, "cr-gone", "999")
    assert state.status == "ended"
    assert state.detail == "offer not found on eBay"


async def test_retried_create_updates_the_one_offer(
    ebay: EbayChannel, account: ChannelAccount, sandbox: Any
) -> None:
    first = await ebay.create_listing(account, _listing())
    second = await ebay.create_listing(account, _listing(price=Decimal("17.50"), quantity=9))

    assert second.external_listing_id == first.external_listing_id
    offers = await _get(sandbox, "/_sandbox/ebay/offers")
    assert len(offers) == 1
    assert offers[0]["pricingSummary"]["price"]["value"] == "17.50"
    assert offers[0]["availableQuantity"] == 9
    assert offers[0]["status"] == "PUBLISHED"
    items = await _get(sandbox, "/_sandbox/ebay/inventory_items")
    assert items["cr-acme-8812-4410"]["availability"]["shipToLocationAvailability"]["quantity"] == 9


async def test_create_after_cancel_relists_the_same_offer(
    ebay: EbayChannel, account: ChannelAccount, sandbox: Any
) -> None:
    first = await ebay.create_listing(account, _listing())
    await ebay.cancel_listing(account, first.sku, first.external_listing_id)
    again = await ebay.create_listing(account, _listing())

    assert again.external_listing_id == first.external_listing_id
    assert again.status == "active"
    offers = await _get(sandbox, "/_sandbox/ebay/offers")
    assert len(offers) == 1
    assert offers[0]["status"] == "PUBLISHED"
    assert offers[0]["listing"]["listingStatus"] == "ACTIVE"


async def test_a_sold_out_listing_is_restocked_by_a_new_create(
    ebay: EbayChannel, account: ChannelAccount, sandbox: Any
) -> None:
    created = await ebay.create_listing(account, _listing(quantity=2))
    sold = await _post(
        sandbox, "/_sandbox/ebay/orders", {"sku": created.sku, "quantity": 2, "price": "19.99"}
    )
    assert sold.status_code == 201
    sold_out = await ebay.monitor_listing(account, created.sku, created.external_listing_id)
    assert (sold_out.status, sold_out.quantity_available, sold_out.units_sold) == ("active", 0, 2)
    assert "OUT_OF_STOCK" in sold_out.detail

    restocked = await ebay.create_listing(account, _listing(quantity=6))

    assert restocked.external_listing_id == created.external_listing_id
    assert restocked.units_sold == 2
    after = await ebay.monitor_listing(account, created.sku, created.external_listing_id)
    assert (after.status, after.quantity_available) == ("active", 6)
    assert "listing ACTIVE" in after.detail


async def test_create_after_a_lost_answer_does_not_duplicate(
    ebay: EbayChannel, account: ChannelAccount, sandbox: Any
) -> None:
    # An earlier attempt created item and offer, then its answer was lost before publish.
    offer_id = await _unpublished_offer(
        sandbox, account, "cr-acme-8812-4410", {"title": "Linen shirt"}
    )

    state = await ebay.create_listing(account, _listing(quantity=4))

    assert state.external_listing_id == offer_id
    offers = await _get(sandbox, "/_sandbox/ebay/offers")
    assert len(offers) == 1
    assert offers[0]["status"] == "PUBLISHED"
    assert offers[0]["availableQuantity"] == 4


async def test_create_racing_another_attempt_updates_the_existing_offer(
    ebay: EbayChannel, account: ChannelAccount, sandbox: Any
) -> None:
    first = await ebay.create_listing(account, _listing())
    await ebay.cancel_listing(account, first.sku, first.external_listing_id)
    # The lookup misses the offer (as if another attempt created it just after), so createOffer
    # is refused with eBay's "Offer entity already exists"; the connector then updates that one.
    not_found = {
        "errors": [
            {
                "errorId": 25713,
                "domain": "API_INVENTORY",
                "category": "REQUEST",
                "message": "This Offer is not available : .",
            }
        ]
    }
    inject(
        sandbox,
        api="ebay",
        path_prefix=f"{INVENTORY}/offer",
        method="GET",
        kind="status",
        status=404,
        body=not_found,
    )
    again = await ebay.create_listing(account, _listing(quantity=5))

    assert again.external_listing_id == first.external_listing_id
    creates = await _requests(sandbox, f"{INVENTORY}/offer", "POST")
    assert len(creates) == 2  # the first listing's create, and the refused one
    offers = await _get(sandbox, "/_sandbox/ebay/offers")
    assert len(offers) == 1
    assert offers[0]["status"] == "PUBLISHED"
    assert offers[0]["availableQuantity"] == 5


async def test_an_over_long_sku_is_refused_with_ebays_message(
    ebay: EbayChannel, account: ChannelAccount, api_config: ApiConfig
) -> None:
    with pytest.raises(PermanentChannelError) as caught:
        await ebay.create_listing(account, _listing(sku="cr-" + "x" * 60))
    assert caught.value.status == 400
    assert "must not exceed 50 characters" in str(caught.value)
    assert "25707" in str(caught.value)
    _no_secret_in(caught.value, account, api_config)


# --- sales ---


async def test_sales_sync_follows_pages_and_counts_line_item_revenue(
    ebay: EbayChannel, account: ChannelAccount, sandbox: Any
) -> None:
    await ebay.create_listing(account, _listing(quantity=900))
    since = datetime.now(UTC) - timedelta(minutes=5)
    old = await _post(
        sandbox,
        "/_sandbox/ebay/orders",
        {
            "sku": "cr-acme-8812-4410",
            "quantity": 1,
            "price": "19.99",
            "created_at": (since - timedelta(days=1)).isoformat(),
        },
    )
    assert old.status_code == 201
    # 230 orders of 2 units: more than one page of 200; shipping makes `total` differ from revenue.
    many = await _post(
        sandbox,
        "/_sandbox/ebay/orders",
        {
            "sku": "cr-acme-8812-4410",
            "quantity": 2,
            "price": "19.99",
            "count": 230,
            "shipping": "4.99",
        },
    )
    assert many.status_code == 201
    other = await _post(
        sandbox, "/_sandbox/ebay/orders", {"sku": "other-sku", "quantity": 1, "price": "5.00"}
    )
    assert other.status_code == 201

    sales = await ebay.sync_sales(account, since)

    ours = [s for s in sales if s.sku == "cr-acme-8812-4410"]
    assert len(ours) == 230
    assert len({s.order_id for s in ours}) == 230
    assert sum(s.units_sold for s in ours) == 460
    assert sum(s.revenue for s in ours) == Decimal("39.98") * 230
    assert {s.currency for s in ours} == {"USD"}
    assert all(s.sold_at >= since for s in ours)
    assert [s.revenue for s in sales if s.sku == "other-sku"] == [Decimal("5.00")]
    assert len(sales) == 231
    assert len(await _requests(sandbox, "/sell/fulfillment/v1/order", "GET")) == 2


async def test_sales_sync_with_no_orders_is_empty(
    ebay: EbayChannel, account: ChannelAccount
) -> None:
    assert await ebay.sync_sales(account, datetime.now(UTC) - timedelta(days=1)) == []


# --- the sandbox refuses what eBay refuses ---


async def _raw(
    sandbox: Any,
    account: ChannelAccount,
    method: str,
    path: str,
    body: Any = None,
    *,
    language: bool = True,
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {account.tokens.access_token}"}
    if language:
        headers["Content-Language"] = "en-US"
    async with httpx.AsyncClient(base_url=sandbox.base_url) as client:
        return await client.request(method, path, json=body, headers=headers)


async def _unpublished_offer(
    sandbox: Any, account: ChannelAccount, sku: str, product: dict[str, Any]
) -> str:
    """Create the inventory item and its offer straight on the sandbox; the new offerId."""
    item = await _raw(
        sandbox, account, "PUT", f"{INVENTORY}/inventory_item/{sku}", {"product": product}
    )
    assert item.status_code == 204
    created = await _raw(
        sandbox,
        account,
        "POST",
        f"{INVENTORY}/offer",
        {"sku": sku, "marketplaceId": "EBAY_US", "format": "FIXED_PRICE"},
    )
    assert created.status_code == 201
    offer_id: str = created.json()["offerId"]
    return offer_id


def _messages(response: httpx.Response) -> str:
    return " | ".join(
        f"{e['errorId']} {e['message']} {e.get('longMessage', '')}"
        for e in response.json()["errors"]
    )


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [
        pytest.param(
            "PUT",
            f"{INVENTORY}/inventory_item/sku-1",
            {
                "availability": {"shipToLocationAvailability": {"quantity": "ten"}},
                "product": {"title": 5},
            },
            ("quantity", "title"),
            id="inventory-item-with-wrong-types",
        ),
        pytest.param(
            "POST",
            f"{INVENTORY}/offer",
            {"availableQuantity": 3},
            ("Missing field sku.", "Missing field marketplaceId.", "Missing field format."),
            id="offer-missing-its-keys",
        ),
        pytest.param(
            "POST",
            f"{INVENTORY}/offer",
            {
                "sku": "s",
                "marketplaceId": "EBAY_US",
                "format": "FIXED_PRICE",
                "availableQuantity": "many",
                "pricingSummary": {"price": {"value": 19.99}},
            },
            ("availableQuantity", "value"),
            id="offer-with-wrong-types",
        ),
    ],
)
async def test_sandbox_refuses_a_bad_body_naming_each_problem(
    sandbox: Any,
    account: ChannelAccount,
    method: str,
    path: str,
    body: dict[str, Any],
    expected: tuple[str, ...],
) -> None:
    response = await _raw(sandbox, account, method, path, body)
    assert response.status_code == 400
    text = _messages(response)
    for problem in expected:
        assert problem in text


async def test_sandbox_refuses_an_inventory_item_without_content_language(
    sandbox: Any, account: ChannelAccount
) -> None:
    response = await _raw(
        sandbox,
        account,
        "PUT",
        f"{INVENTORY}/inventory_item/sku-1",
        {"product": {"title": "x"}},
        language=False,
    )
    assert response.status_code == 400
    assert "Content-Language" in _messages(response)


async def test_publish_requires_policies_location_price_and_item_fields(
    sandbox: Any, account: ChannelAccount
) -> None:
    offer_id = await _unpublished_offer(sandbox, account, "bare-sku", {})

    published = await _raw(sandbox, account, "POST", f"{INVENTORY}/offer/{offer_id}/publish")

    assert published.status_code == 400
    ids = {e["errorId"] for e in published.json()["errors"]}
    # title/description, condition, quantity, price, category, 3 policies, location.
    assert {25016, 25021, 25004, 25003, 25005, 25007, 25008, 25009, 25012} <= ids
    offer = await _raw(sandbox, account, "GET", f"{INVENTORY}/offer/{offer_id}")
    assert offer.json()["status"] == "UNPUBLISHED"


async def test_publish_refuses_policy_ids_that_do_not_exist(
    ebay: EbayChannel, sandbox: Any, account: ChannelAccount
) -> None:
    account.extra["payment_policy_id"] = "404404"
    with pytest.raises(PermanentChannelError) as caught:
        await ebay.create_listing(account, _listing())
    assert "The specified policy is not found for the market place" in str(caught.value)


async def test_sandbox_refuses_policies_and_locations_missing_required_fields(
    sandbox: Any, account: ChannelAccount
) -> None:
    policy = await _raw(
        sandbox,
        account,
        "POST",
        "/sell/account/v1/return_policy",
        {"marketplaceId": "EBAY_US", "returnsAccepted": True},
    )
    assert policy.status_code == 400
    text = _messages(policy)
    for field in ("name", "categoryTypes", "returnPeriod", "returnShippingCostPayer"):
        assert f"Missing field {field}." in text
    location = await _raw(
        sandbox, account, "POST", f"{INVENTORY}/location/elsewhere", {"name": "no address"}
    )
    assert location.status_code == 400
    assert "location.address" in _messages(location)


async def test_sandbox_answers_401_for_a_bad_token_and_404_for_an_unknown_offer(
    sandbox: Any, account: ChannelAccount
) -> None:
    async with httpx.AsyncClient(base_url=sandbox.base_url) as client:
        denied = await client.get(f"{INVENTORY}/offer/1", headers={"Authorization": "Bearer nope"})
    assert denied.status_code == 401
    assert denied.json()["errors"][0]["errorId"] == 1001
    missing = await _raw(sandbox, account, "GET", f"{INVENTORY}/offer/123")
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["errorId"] == 25713


async def test_the_merchants_own_policies_are_used(
    ebay: EbayChannel, sandbox: Any, api_config: ApiConfig
) -> None:
    async with httpx.AsyncClient(base_url=sandbox.base_url) as client:
        token = await client.post(
            "/identity/v1/oauth2/token",
            data={"grant_type": "authorization_code", "code": "good-setup"},
            auth=(api_config.ebay_client_id, api_config.ebay_client_secret),
        )
        assert token.status_code == 200
        own = await client.post(
            "/sell/account/v1/payment_policy",
            json={
                "name": "My payments",
                "marketplaceId": "EBAY_US",
                "categoryTypes": [{"name": "ALL_EXCLUDING_MOTORS_VEHICLES"}],
                "immediatePay": False,
            },
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        )
        assert own.status_code == 201
        assert own.headers["location"].endswith(own.json()["paymentPolicyId"])

    account = await ebay.authenticate({"authorization_code": "good-code"})

    assert account.extra["payment_policy_id"] == own.json()["paymentPolicyId"]
    policies = await _get(sandbox, "/_sandbox/ebay/policies")
    assert [p["name"] for p in policies["payment"]] == ["My payments"]
    assert len(policies["fulfillment"]) == 1
    assert len(policies["return"]) == 1


async def test_token_endpoint_refuses_a_client_without_basic_auth(sandbox: Any) -> None:
    async with httpx.AsyncClient(base_url=sandbox.base_url) as client:
        response = await client.post(
            "/identity/v1/oauth2/token",
            data={"grant_type": "authorization_code", "code": "good-code"},
        )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


async def test_sandbox_refuses_bad_order_queries(sandbox: Any, account: ChannelAccount) -> None:
    too_many = await _raw(sandbox, account, "GET", "/sell/fulfillment/v1/order?limit=500")
    assert too_many.status_code == 400
    assert too_many.json()["errors"][0]["errorId"] == 31100
    bad_date = await _raw(
        sandbox, account, "GET", "/sell/fulfillment/v1/order?filter=creationdate:[yesterday..]"
    )
    assert bad_date.status_code == 400
    assert bad_date.json()["errors"][0]["errorId"] == 30810
    bad_name = await _raw(sandbox, account, "GET", "/sell/fulfillment/v1/order?filter=price:[1..]")
    assert bad_name.status_code == 400
    assert bad_name.json()["errors"][0]["errorId"] == 30700


async def test_sandbox_refuses_an_offer_update_with_wrong_types(
    ebay: EbayChannel, sandbox: Any, account: ChannelAccount
) -> None:
    state = await ebay.create_listing(account, _listing())
    response = await _raw(
        sandbox,
        account,
        "PUT",
        f"{INVENTORY}/offer/{state.external_listing_id}",
        {"availableQuantity": 2.5, "listingPolicies": {"fulfillmentPolicyId": 7}},
    )
    assert response.status_code == 400
    text = _messages(response)
    assert "availableQuantity" in text
    assert "fulfillmentPolicyId" in text
    # A revision that drops what a live listing needs is refused too.
    stripped = await _raw(
        sandbox,
        account,
        "PUT",
        f"{INVENTORY}/offer/{state.external_listing_id}",
        {"availableQuantity": 2},
    )
    assert stripped.status_code == 400
    assert {e["errorId"] for e in stripped.json()["errors"]} >= {25003, 25007, 25012}
    offer = (await _get(sandbox, "/_sandbox/ebay/offers"))[0]
    assert offer["availableQuantity"] == 21


# --- faults ---


async def test_survives_a_500_then_success(
    ebay: EbayChannel, account: ChannelAccount, sandbox: Any, sleeps: list[float]
) -> None:
    inject(sandbox, api="ebay", path_prefix=f"{INVENTORY}/offer", kind="status", status=500)
    state = await ebay.create_listing(account, _listing())
    assert state.status == "active"
    assert len(await _get(sandbox, "/_sandbox/ebay/offers")) == 1
    lookups = await _requests(sandbox, f"{INVENTORY}/offer", "GET")
    assert [r["fault"] for r in lookups] == ["status", None]
    assert len(sleeps) == 1


async def test_survives_a_429_and_honours_retry_after(
    ebay: EbayChannel, account: ChannelAccount, sandbox: Any, sleeps: list[float]
) -> None:
    inject(
        sandbox,
        api="ebay",
        path_prefix="/sell/fulfillment/v1/order",
        kind="rate_limit",
        status=429,
        retry_after=3,
    )
    assert await ebay.sync_sales(account, datetime.now(UTC) - timedelta(hours=1)) == []
    assert 3.0 in sleeps


async def test_survives_a_delay_beyond_the_timeout(
    sandbox: Any, slow_api: ApiClient, slow_config: ApiConfig
) -> None:
    ebay = EbayChannel(slow_api, slow_config)
    account = await ebay.authenticate({"authorization_code": "good-code"})
    inject(
        sandbox,
        api="ebay",
        path_prefix=f"{INVENTORY}/offer/",
        kind="delay",
        delay_seconds=slow_config.timeout_seconds * 4,
    )
    state = await ebay.create_listing(account, _listing())
    assert state.status == "active"
    publishes = await _requests(
        sandbox, f"{INVENTORY}/offer/{state.external_listing_id}/publish", "POST"
    )
    assert [r["fault"] for r in publishes] == ["delay", None]
    monitored = await ebay.monitor_listing(account, state.sku, state.external_listing_id)
    assert monitored.status == "active"


async def test_survives_a_dropped_connection(
    ebay: EbayChannel, account: ChannelAccount, sandbox: Any
) -> None:
    inject(sandbox, api="ebay", path_prefix=f"{INVENTORY}/inventory_item", kind="drop")
    state = await ebay.create_listing(account, _listing())
    assert state.status == "active"
    puts = await _requests(sandbox, f"{INVENTORY}/inventory_item/cr-acme-8812-4410", "PUT")
    assert [r["fault"] for r in puts] == ["drop", None]


async def test_persistent_5xx_is_a_transient_error(
    ebay: EbayChannel, account: ChannelAccount, sandbox: Any, api_config: ApiConfig
) -> None:
    inject(
        sandbox,
        api="ebay",
        path_prefix="/sell/fulfillment/v1/order",
        kind="status",
        status=503,
        times=api_config.max_attempts + 2,
    )
    with pytest.raises(TransientChannelError) as caught:
        await ebay.sync_sales(account, datetime.now(UTC) - timedelta(hours=1))
    _no_secret_in(caught.value, account, api_config)


async def test_injected_4xx_is_permanent_with_ebays_message(
    ebay: EbayChannel, account: ChannelAccount, sandbox: Any, api_config: ApiConfig
) -> None:
    body = {
        "errors": [
            {
                "errorId": 25026,
                "domain": "API_INVENTORY",
                "category": "REQUEST",
                "message": "Selling limit exceeded.",
                "longMessage": "Selling limit exceeded. You have reached your selling limit.",
            }
        ]
    }
    inject(
        sandbox,
        api="ebay",
        path_prefix=f"{INVENTORY}/offer",
        method="POST",
        kind="status",
        status=400,
        body=body,
        times=5,
    )
    with pytest.raises(PermanentChannelError) as caught:
        await ebay.create_listing(account, _listing())
    assert not isinstance(caught.value, TransientChannelError)
    assert caught.value.status == 400
    assert "Selling limit exceeded. You have reached your selling limit." in str(caught.value)
    _no_secret_in(caught.value, account, api_config)


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (
            400,
            b'{"errors": [{"errorId": 25002, "message": "A user error has occurred.", '
            b'"longMessage": "Offer entity already exists."}]}',
            "Offer entity already exists. (errorId 25002)",
        ),
        (
            400,
            b'{"error": "invalid_grant", "error_description": "the code is invalid"}',
            "the code is invalid",
        ),
        (502, b"<html>Bad gateway</html>", "HTTP 502 from eBay"),
    ],
)
def test_error_messages_are_ebays_own(status: int, body: bytes, expected: str) -> None:
    assert ebay_error_message(httpx.Response(status, content=body)) == expected
