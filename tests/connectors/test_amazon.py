"""Amazon connector against the sandbox over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import msgspec
import pytest

from connectors.amazon import AmazonChannel
from connectors.base import ChannelAccount, ListingRequest
from connectors.config import ApiConfig
from connectors.errors import AuthenticationError, PermanentChannelError
from connectors.http import ApiClient
from tests.connectors.conftest import Sandbox, inject, tokens_for_an_hour

SELLER = "A2SELLER0001"
MARKETPLACE = "ATVPDKIKX0DER"
CREDENTIALS = {"authorization_code": "good-code-1", "seller_id": SELLER}


def _listing(
    sku: str = "cr-acme-8812-4410", price: str = "19.99", quantity: int = 21
) -> ListingRequest:
    return ListingRequest(
        sku=sku, title="Linen shirt", price=Decimal(price), quantity=quantity, currency="USD"
    )


def _control(sandbox: Sandbox, method: str, path: str, body: Any = None) -> Any:
    response = httpx.request(method, sandbox.base_url + path, json=body, timeout=5)
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


def _amazon_state(sandbox: Sandbox) -> dict[str, Any]:
    return _control(sandbox, "GET", "/_sandbox/amazon/state")


def _secrets(account: ChannelAccount, config: ApiConfig) -> list[str]:
    return [
        s
        for s in (
            account.tokens.access_token,
            account.tokens.refresh_token,
            config.amazon_client_secret,
        )
        if s
    ]


@pytest.fixture
def channel(api: ApiClient, api_config: ApiConfig) -> AmazonChannel:
    return AmazonChannel(api, api_config)


@pytest.fixture
async def account(channel: AmazonChannel) -> ChannelAccount:
    return await channel.authenticate(CREDENTIALS)


# -- Login with Amazon --------------------------------------------------------------------------


async def test_authorization_code_exchange_gives_tokens_and_account(
    channel: AmazonChannel,
) -> None:
    account = await channel.authenticate(CREDENTIALS)
    assert account.channel == "amazon"
    assert account.seller_id == SELLER
    assert account.marketplace_id == MARKETPLACE
    assert account.tokens.access_token.startswith("Atza|")
    assert account.tokens.refresh_token is not None
    assert account.tokens.refresh_token.startswith("Atzr|")
    remaining = account.tokens.expires_at - datetime.now(UTC)
    assert timedelta(minutes=119) < remaining <= timedelta(hours=2)
    assert account.tokens.access_token not in repr(account)


async def test_bad_authorization_code_is_refused_with_lwa_description(
    channel: AmazonChannel,
) -> None:
    with pytest.raises(AuthenticationError) as info:
        await channel.authenticate({"authorization_code": "bad-code", "seller_id": SELLER})
    assert "invalid_grant" in str(info.value)
    assert "The authorization code is invalid or has expired." in str(info.value)
    assert "bad-code" not in str(info.value)


async def test_authorization_code_cannot_be_used_twice(channel: AmazonChannel) -> None:
    await channel.authenticate(CREDENTIALS)
    with pytest.raises(AuthenticationError, match="invalid or has expired"):
        await channel.authenticate(CREDENTIALS)


async def test_sandbox_accepts_unconfigured_client_credentials(
    api: ApiClient, api_config: ApiConfig
) -> None:
    """`channel-router up` may run with no Amazon app credentials configured."""
    config = msgspec.structs.replace(api_config, amazon_client_id="", amazon_client_secret="")
    account = await AmazonChannel(api, config).authenticate(CREDENTIALS)
    assert account.tokens.access_token.startswith("Atza|")


async def test_refused_client_credentials_are_authentication_error(
    api: ApiClient, api_config: ApiConfig
) -> None:
    config = msgspec.structs.replace(api_config, amazon_client_secret="bad-client-secret")
    with pytest.raises(AuthenticationError) as info:
        await AmazonChannel(api, config).authenticate(CREDENTIALS)
    assert info.value.status == 401
    assert "invalid_client: Client authentication failed" in str(info.value)
    assert "bad-client-secret" not in str(info.value)


async def test_seller_id_is_required(channel: AmazonChannel, sandbox: Sandbox) -> None:
    with pytest.raises(AuthenticationError, match="seller_id"):
        await channel.authenticate({"authorization_code": "good-code"})
    assert _amazon_state(sandbox)["token_requests"] == 0


async def test_refresh_token_credentials_and_marketplace_override(channel: AmazonChannel) -> None:
    first = await channel.authenticate(CREDENTIALS)
    assert first.tokens.refresh_token is not None
    second = await channel.authenticate(
        {
            "refresh_token": first.tokens.refresh_token,
            "seller_id": SELLER,
            "marketplace_id": "A2EUQ1WTGCTBG2",
        }
    )
    assert second.marketplace_id == "A2EUQ1WTGCTBG2"
    assert second.tokens.refresh_token == first.tokens.refresh_token
    assert second.tokens.access_token != first.tokens.access_token


async def test_unknown_refresh_token_is_refused(channel: AmazonChannel) -> None:
    with pytest.raises(AuthenticationError) as info:
        await channel.authenticate({"refresh_token": "Atzr|nope", "seller_id": SELLER})
    assert "invalid grant parameter : refresh_token" in str(info.value)
    assert "Atzr|nope" not in str(info.value)


async def test_token_is_refreshed_before_it_expires(
    channel: AmazonChannel, sandbox: Sandbox
) -> None:
    _control(sandbox, "POST", "/_sandbox/token-ttl", {"seconds": 30})
    account = await channel.authenticate(CREDENTIALS)
    old_token = account.tokens.access_token
    _control(sandbox, "POST", "/_sandbox/token-ttl", {"seconds": 7200})

    state = await channel.monitor_listing(account, "cr-missing", "cr-missing")

    assert state.status == "ended"
    assert account.tokens.access_token != old_token
    assert account.tokens.expires_at - datetime.now(UTC) > timedelta(minutes=100)
    after = _amazon_state(sandbox)
    assert after["token_grants"] == {"authorization_code": 1, "refresh_token": 1}
    assert after["token_rejections"] == 0


async def test_expired_token_answer_refreshes_once_and_retries(
    channel: AmazonChannel, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _control(sandbox, "POST", "/_sandbox/token-ttl", {"seconds": 0})
    account = await channel.authenticate(CREDENTIALS)
    _control(sandbox, "POST", "/_sandbox/token-ttl", {"seconds": 7200})
    # Our clock says the token is good for an hour; Amazon says it has expired.
    stale = account.tokens.access_token
    account.tokens = tokens_for_an_hour(stale, account.tokens.refresh_token)

    created = await channel.create_listing(account, _listing())

    assert created.status == "pending"
    assert account.tokens.access_token != stale
    after = _amazon_state(sandbox)
    assert after["token_rejections"] == 1
    assert after["token_grants"]["refresh_token"] == 1
    assert len(_control(sandbox, "GET", "/_sandbox/amazon/listings")) == 1
    assert "refreshing once" in caplog.text
    for secret in (stale, account.tokens.access_token, account.tokens.refresh_token):
        assert secret is not None
        assert secret not in caplog.text


async def test_refresh_refused_is_authentication_error_without_secrets(
    channel: AmazonChannel, account: ChannelAccount, api_config: ApiConfig
) -> None:
    account.tokens = tokens_for_an_hour("Atza|unknown-token-value", "Atzr|revoked-refresh-token")
    with pytest.raises(AuthenticationError) as info:
        await channel.monitor_listing(account, "cr-x", "cr-x")
    text = str(info.value)
    assert "invalid grant parameter" in text
    for secret in _secrets(account, api_config):
        assert secret not in text


# -- listings -----------------------------------------------------------------------------------


async def test_create_monitor_cancel_lifecycle(
    channel: AmazonChannel, account: ChannelAccount, sandbox: Sandbox
) -> None:
    _control(sandbox, "POST", "/_sandbox/amazon/config", {"process_after_gets": None})
    listing = _listing()

    created = await channel.create_listing(account, listing)
    assert created.status == "pending"
    assert created.external_listing_id == listing.sku
    assert "ACCEPTED" in created.detail

    seen = await channel.monitor_listing(account, listing.sku, created.external_listing_id)
    assert seen.status == "pending"
    assert seen.quantity_available == 21
    assert seen.price == Decimal("19.99")

    _control(sandbox, "POST", "/_sandbox/amazon/process", {"sku": listing.sku})
    live = await channel.monitor_listing(account, listing.sku, created.external_listing_id)
    assert live.status == "active"
    assert live.quantity_available == 21
    assert live.price == Decimal("19.99")

    ended = await channel.cancel_listing(account, listing.sku, created.external_listing_id)
    assert ended.status == "ended"
    assert _control(sandbox, "GET", "/_sandbox/amazon/listings") == []
    assert _amazon_state(sandbox)["requests"][-2:] == [
        f"PATCH {listing.sku}",
        f"DELETE {listing.sku}",
    ]
    gone = await channel.monitor_listing(account, listing.sku, created.external_listing_id)
    assert gone.status == "ended"
    again = await channel.cancel_listing(account, listing.sku, created.external_listing_id)
    assert again.status == "ended"


async def test_listing_goes_live_after_sandbox_processes_it_on_later_get(
    channel: AmazonChannel, account: ChannelAccount, sandbox: Sandbox
) -> None:
    _control(sandbox, "POST", "/_sandbox/amazon/config", {"process_after_gets": 2})
    created = await channel.create_listing(account, _listing())
    states = [
        (await channel.monitor_listing(account, created.sku, created.external_listing_id)).status
        for _ in range(3)
    ]
    assert states == ["pending", "pending", "active"]


async def test_listing_rejected_while_processing_reports_amazons_issue(
    channel: AmazonChannel, account: ChannelAccount, sandbox: Sandbox
) -> None:
    created = await channel.create_listing(account, _listing())
    _control(
        sandbox,
        "POST",
        "/_sandbox/amazon/process",
        {"sku": created.sku, "reject": "The item name contains prohibited words."},
    )
    state = await channel.monitor_listing(account, created.sku, created.external_listing_id)
    assert state.status == "rejected"
    assert "The item name contains prohibited words." in state.detail


async def test_put_body_carries_offer_and_availability(
    channel: AmazonChannel, account: ChannelAccount, sandbox: Sandbox
) -> None:
    await channel.create_listing(account, _listing(price="24.50", quantity=7))
    [stored] = _control(sandbox, "GET", "/_sandbox/amazon/listings")
    attributes = stored["attributes"]
    assert attributes["purchasable_offer"] == [
        {
            "marketplace_id": MARKETPLACE,
            "currency": "USD",
            "audience": "ALL",
            "our_price": [{"schedule": [{"value_with_tax": 24.5}]}],
        }
    ]
    assert attributes["fulfillment_availability"] == [
        {"fulfillment_channel_code": "DEFAULT", "quantity": 7}
    ]
    assert attributes["condition_type"] == [{"value": "new_new", "marketplace_id": MARKETPLACE}]
    assert stored["seller_id"] == SELLER
    assert stored["product_type"] == "PRODUCT"


async def test_repeated_create_updates_instead_of_duplicating(
    channel: AmazonChannel, account: ChannelAccount, sandbox: Sandbox
) -> None:
    await channel.create_listing(account, _listing(price="19.99", quantity=21))
    await channel.create_listing(account, _listing(price="17.50", quantity=12))
    stored = _control(sandbox, "GET", "/_sandbox/amazon/listings")
    assert len(stored) == 1
    assert stored[0]["price"] == "17.50"
    assert stored[0]["quantity"] == 12
    assert stored[0]["submissions"] == 2


async def test_invalid_submission_is_permanent_error_with_amazon_issues(
    channel: AmazonChannel, account: ChannelAccount, sandbox: Sandbox
) -> None:
    with pytest.raises(PermanentChannelError) as info:
        await channel.create_listing(account, _listing(price="0"))
    assert "value_with_tax must be a number > 0" in str(info.value)
    assert _control(sandbox, "GET", "/_sandbox/amazon/listings") == []


# -- sales --------------------------------------------------------------------------------------


async def test_sync_sales_follows_next_tokens_and_uses_item_price(
    channel: AmazonChannel, account: ChannelAccount, sandbox: Sandbox
) -> None:
    _control(
        sandbox,
        "POST",
        "/_sandbox/amazon/config",
        {"orders_page_size": 2, "order_items_page_size": 1},
    )
    since = datetime.now(UTC) - timedelta(hours=1)
    old = (since - timedelta(days=1)).isoformat()
    _control(
        sandbox,
        "POST",
        "/_sandbox/amazon/orders",
        {"sku": "cr-a", "quantity": 1, "price": "9.99", "purchase_date": old},
    )
    first = _control(
        sandbox, "POST", "/_sandbox/amazon/orders", {"sku": "cr-a", "quantity": 3, "price": "19.99"}
    )
    second = _control(
        sandbox,
        "POST",
        "/_sandbox/amazon/orders",
        {
            "items": [
                {"sku": "cr-a", "quantity": 2, "price": "19.99"},
                {"sku": "cr-b", "quantity": 1, "price": "5.00"},
            ]
        },
    )
    _control(
        sandbox,
        "POST",
        "/_sandbox/amazon/orders",
        {"sku": "cr-a", "quantity": 4, "price": "19.99", "status": "Canceled"},
    )
    _control(
        sandbox,
        "POST",
        "/_sandbox/amazon/orders",
        {"sku": "cr-a", "quantity": 1, "price": "19.99", "status": "Pending"},
    )
    third = _control(
        sandbox,
        "POST",
        "/_sandbox/amazon/orders",
        {"sku": "cr-c", "quantity": 1, "price": "7.25", "status": "Shipped"},
    )

    sales = await channel.sync_sales(account, since)

    got = sorted((s.order_id, s.sku, s.units_sold, s.revenue, s.currency) for s in sales)
    assert got == sorted(
        [
            (first["AmazonOrderId"], "cr-a", 3, Decimal("59.97"), "USD"),
            (second["AmazonOrderId"], "cr-a", 2, Decimal("39.98"), "USD"),
            (second["AmazonOrderId"], "cr-b", 1, Decimal("5.00"), "USD"),
            (third["AmazonOrderId"], "cr-c", 1, Decimal("7.25"), "USD"),
        ]
    )
    assert all(s.channel == "amazon" and s.sold_at.tzinfo is not None for s in sales)
    requests = _amazon_state(sandbox)["requests"]
    assert requests.count("GET orders") == 3  # 5 orders since `since`, 2 per page
    assert requests.count(f"GET orderItems {second['AmazonOrderId']}") == 2  # 1 item per page


async def test_sync_sales_with_no_orders_is_empty(
    channel: AmazonChannel, account: ChannelAccount
) -> None:
    assert await channel.sync_sales(account, datetime.now(UTC) - timedelta(days=1)) == []


# -- the sandbox refuses what Amazon would refuse (raw HTTP) -------------------------------------


@pytest.fixture
async def token(account: ChannelAccount) -> str:
    return account.tokens.access_token


async def _put(
    sandbox: Sandbox, token: str, body: Any, query: str = f"marketplaceIds={MARKETPLACE}"
) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.put(
            f"{sandbox.base_url}/listings/2021-08-01/items/{SELLER}/raw-sku?{query}",
            content=msgspec.json.encode(body),
            headers={"x-amz-access-token": token, "content-type": "application/json"},
            timeout=5,
        )


def _good_body() -> dict[str, Any]:
    return {
        "productType": "PRODUCT",
        "requirements": "LISTING",
        "attributes": {
            "item_name": [
                {"value": "Shirt", "language_tag": "en_US", "marketplace_id": MARKETPLACE}
            ],
            "condition_type": [{"value": "new_new", "marketplace_id": MARKETPLACE}],
            "purchasable_offer": [
                {
                    "marketplace_id": MARKETPLACE,
                    "currency": "USD",
                    "our_price": [{"schedule": [{"value_with_tax": 9.5}]}],
                }
            ],
            "fulfillment_availability": [{"fulfillment_channel_code": "DEFAULT", "quantity": 3}],
        },
    }


async def test_sandbox_accepts_a_well_formed_put(sandbox: Sandbox, token: str) -> None:
    response = await _put(sandbox, token, _good_body())
    assert response.status_code == 200
    assert response.json()["status"] == "ACCEPTED"


async def test_sandbox_refuses_put_missing_product_type(sandbox: Sandbox, token: str) -> None:
    body = _good_body()
    del body["productType"]
    response = await _put(sandbox, token, body)
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["code"] == "InvalidInput"
    assert "productType" in error["message"]


async def test_sandbox_refuses_put_with_wrong_types(sandbox: Sandbox, token: str) -> None:
    body = _good_body()
    body["attributes"] = "not an object"
    body["requirements"] = "EVERYTHING"
    response = await _put(sandbox, token, body)
    assert response.status_code == 400
    messages = " ".join(e["message"] for e in response.json()["errors"])
    assert "attributes" in messages
    assert "requirements" in messages or "EVERYTHING" in messages


async def test_sandbox_refuses_put_without_marketplace_ids(sandbox: Sandbox, token: str) -> None:
    response = await _put(sandbox, token, _good_body(), query="")
    assert response.status_code == 400
    assert "marketplaceIds" in response.json()["errors"][0]["message"]


async def test_sandbox_answers_invalid_for_missing_offer(sandbox: Sandbox, token: str) -> None:
    body = _good_body()
    del body["attributes"]["purchasable_offer"]
    response = await _put(sandbox, token, body)
    assert response.status_code == 200
    answer = response.json()
    assert answer["status"] == "INVALID"
    [issue] = answer["issues"]
    assert issue["severity"] == "ERROR"
    assert issue["attributeNames"] == ["purchasable_offer"]
    assert issue["message"] == "'purchasable_offer' is required but not supplied."


async def test_sandbox_refuses_bad_included_data_and_missing_order_filters(
    sandbox: Sandbox, token: str
) -> None:
    headers = {"x-amz-access-token": token}
    async with httpx.AsyncClient(base_url=sandbox.base_url, headers=headers) as client:
        bad = await client.get(
            f"/listings/2021-08-01/items/{SELLER}/x",
            params={"marketplaceIds": MARKETPLACE, "includedData": "summaries,everything"},
        )
        no_market = await client.get(
            "/orders/v0/orders", params={"CreatedAfter": "2026-01-01T00:00:00Z"}
        )
        no_date = await client.get("/orders/v0/orders", params={"MarketplaceIds": MARKETPLACE})
        bad_size = await client.get(
            "/orders/v0/orders",
            params={
                "MarketplaceIds": MARKETPLACE,
                "CreatedAfter": "2026-01-01T00:00:00Z",
                "MaxResultsPerPage": "many",
            },
        )
    assert bad.status_code == 400
    assert "everything" in bad.json()["errors"][0]["message"]
    assert no_market.status_code == 400
    assert "MarketplaceIds" in no_market.json()["errors"][0]["message"]
    assert no_date.status_code == 400
    assert "CreatedAfter" in no_date.json()["errors"][0]["message"]
    assert bad_size.status_code == 400
    assert "MaxResultsPerPage" in bad_size.json()["errors"][0]["message"]


async def test_sandbox_answers_403_unauthorized_without_valid_token(sandbox: Sandbox) -> None:
    path = f"/listings/2021-08-01/items/{SELLER}/x?marketplaceIds={MARKETPLACE}"
    async with httpx.AsyncClient(base_url=sandbox.base_url) as client:
        missing = await client.get(path)
        wrong = await client.get(path, headers={"x-amz-access-token": "Atza|forged"})
    for response in (missing, wrong):
        assert response.status_code == 403
        [error] = response.json()["errors"]
        assert error["code"] == "Unauthorized"
        assert error["message"] == "Access to requested resource is denied."
    assert "revoked, malformed or invalid" in wrong.json()["errors"][0]["details"]


async def test_sandbox_lwa_refuses_unsupported_grant_and_missing_client(sandbox: Sandbox) -> None:
    async with httpx.AsyncClient(base_url=sandbox.base_url) as client:
        grant = await client.post(
            "/auth/o2/token",
            data={"grant_type": "password", "client_id": "a", "client_secret": "b"},
        )
        no_client = await client.post(
            "/auth/o2/token", data={"grant_type": "authorization_code", "code": "good-1"}
        )
    assert grant.status_code == 400
    assert grant.json()["error"] == "unsupported_grant_type"
    assert no_client.status_code == 400
    assert no_client.json() == {
        "error_description": "The request is missing a required parameter : client_id",
        "error": "invalid_request",
    }


async def test_sandbox_patch_sets_quantity_and_refuses_nested_paths(
    channel: AmazonChannel, account: ChannelAccount, sandbox: Sandbox, token: str
) -> None:
    await channel.create_listing(account, _listing(sku="cr-p", quantity=9))
    url = f"{sandbox.base_url}/listings/2021-08-01/items/{SELLER}/cr-p"
    headers = {"x-amz-access-token": token}
    params = {"marketplaceIds": MARKETPLACE}
    value = [{"fulfillment_channel_code": "DEFAULT", "quantity": 0}]
    async with httpx.AsyncClient(headers=headers, params=params) as client:
        good = await client.patch(
            url,
            json={
                "productType": "PRODUCT",
                "patches": [
                    {
                        "op": "replace",
                        "path": "/attributes/fulfillment_availability",
                        "value": value,
                    }
                ],
            },
        )
        nested = await client.patch(
            url,
            json={
                "productType": "PRODUCT",
                "patches": [
                    {
                        "op": "replace",
                        "path": "/attributes/fulfillment_availability/0/quantity",
                        "value": [{"value": 1}],
                    }
                ],
            },
        )
        no_patches = await client.patch(url, json={"productType": "PRODUCT"})
        bad_op = await client.patch(
            url,
            json={"productType": "PRODUCT", "patches": [{"op": "move", "path": "/attributes/x"}]},
        )
    assert good.status_code == 200
    assert good.json()["status"] == "ACCEPTED"
    [stored] = _control(sandbox, "GET", "/_sandbox/amazon/listings")
    assert stored["quantity"] == 0
    assert nested.status_code == 200
    assert nested.json()["status"] == "INVALID"
    assert no_patches.status_code == 400
    assert "patches" in no_patches.json()["errors"][0]["message"]
    assert bad_op.status_code == 400
    assert "move" in bad_op.json()["errors"][0]["message"]


# -- faults -------------------------------------------------------------------------------------


async def test_survives_a_500_then_succeeds(
    channel: AmazonChannel, account: ChannelAccount, sandbox: Sandbox
) -> None:
    inject(sandbox, api="amazon", path_prefix="/listings/", kind="status", status=500, times=1)
    created = await channel.create_listing(account, _listing())
    assert created.status == "pending"
    assert len(_control(sandbox, "GET", "/_sandbox/amazon/listings")) == 1


async def test_honours_retry_after_on_429(
    channel: AmazonChannel, account: ChannelAccount, sandbox: Sandbox, sleeps: list[float]
) -> None:
    inject(
        sandbox,
        api="amazon",
        path_prefix="/orders/v0/orders",
        kind="rate_limit",
        status=429,
        retry_after=3,
        times=1,
        body={"errors": [{"code": "QuotaExceeded", "message": "You exceeded your quota."}]},
    )
    assert await channel.sync_sales(account, datetime.now(UTC) - timedelta(hours=1)) == []
    assert sleeps == [3.0]


async def test_survives_a_delay_beyond_the_timeout(
    sandbox: Sandbox, api_config: ApiConfig, account: ChannelAccount
) -> None:
    config = msgspec.structs.replace(api_config, timeout_seconds=0.2)
    async with httpx.AsyncClient() as client:
        channel = AmazonChannel(ApiClient(client, config, sleep=_no_sleep), config)
        inject(
            sandbox,
            api="amazon",
            path_prefix="/listings/",
            kind="delay",
            delay_seconds=0.6,
            times=1,
        )
        state = await channel.monitor_listing(account, "cr-none", "cr-none")
    assert state.status == "ended"
    # The slow first request still reaches its handler later; wait for it so that it cannot
    # land in the next test's sandbox state.
    deadline = time.monotonic() + 5
    while _amazon_state(sandbox)["requests"].count("GET cr-none") < 2:
        assert time.monotonic() < deadline, "the delayed request never completed"
        await asyncio.sleep(0.05)


async def test_survives_a_dropped_connection(
    channel: AmazonChannel, account: ChannelAccount, sandbox: Sandbox
) -> None:
    inject(sandbox, api="amazon", path_prefix="/listings/", kind="drop", times=1)
    created = await channel.create_listing(account, _listing())
    assert created.status == "pending"
    assert len(_control(sandbox, "GET", "/_sandbox/amazon/listings")) == 1


async def test_lwa_500_is_retried(channel: AmazonChannel, sandbox: Sandbox) -> None:
    inject(sandbox, api="lwa", path_prefix="/auth/o2/token", kind="status", status=503, times=1)
    account = await channel.authenticate(CREDENTIALS)
    assert account.tokens.access_token.startswith("Atza|")


async def test_permanent_4xx_reports_amazons_message_without_secrets(
    channel: AmazonChannel, account: ChannelAccount, sandbox: Sandbox, api_config: ApiConfig
) -> None:
    inject(
        sandbox,
        api="amazon",
        path_prefix="/listings/",
        kind="status",
        status=400,
        times=1,
        body={
            "errors": [
                {
                    "code": "InvalidInput",
                    "message": "Seller is not registered.",
                    "details": "sellerId",
                }
            ]
        },
    )
    with pytest.raises(PermanentChannelError) as info:
        await channel.create_listing(account, _listing())
    assert info.value.status == 400
    assert "Seller is not registered." in str(info.value)
    for secret in _secrets(account, api_config):
        assert secret not in str(info.value)


async def test_token_refused_again_after_refresh_is_authentication_error(
    channel: AmazonChannel, account: ChannelAccount, sandbox: Sandbox, api_config: ApiConfig
) -> None:
    expired = {
        "errors": [
            {
                "code": "Unauthorized",
                "message": "Access to requested resource is denied.",
                "details": "The access token you provided has expired.",
            }
        ]
    }
    inject(sandbox, api="amazon", kind="status", status=403, times=2, body=expired)
    with pytest.raises(AuthenticationError) as info:
        await channel.monitor_listing(account, "cr-x", "cr-x")
    assert "The access token you provided has expired." in str(info.value)
    assert _amazon_state(sandbox)["token_grants"]["refresh_token"] == 1  # refreshed once only
    for secret in _secrets(account, api_config):
        assert secret not in str(info.value)


async def test_other_403_is_permanent_without_refresh(
    channel: AmazonChannel, account: ChannelAccount, sandbox: Sandbox
) -> None:
    denied = {"errors": [{"code": "AccessDenied", "message": "Seller not authorized for role."}]}
    inject(sandbox, api="amazon", kind="status", status=403, times=1, body=denied)
    with pytest.raises(PermanentChannelError) as info:
        await channel.monitor_listing(account, "cr-x", "cr-x")
    assert not isinstance(info.value, AuthenticationError)
    assert "Seller not authorized for role." in str(info.value)
    assert "refresh_token" not in _amazon_state(sandbox)["token_grants"]


async def _no_sleep(_: float) -> None:
    return None


async def test_contract_spelling_of_the_us_marketplace_is_the_real_id(
    channel: AmazonChannel,
) -> None:
    account = await channel.authenticate({**CREDENTIALS, "marketplace_id": "ATVPDKIKX0D"})
    assert account.marketplace_id == "ATVPDKIKX0DER"
