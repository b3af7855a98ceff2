"""ShopifyStore against the Shopify sandbox over real HTTP: read, update, GraphQL failures that
arrive with HTTP 200, throttling, auth and every injected fault kind."""

from __future__ import annotations

import asyncio
import random
import time
from decimal import Decimal

import httpx
import msgspec
import pytest

from connectors.base import ChannelAccount
from connectors.config import ApiConfig
from connectors.errors import AuthenticationError, PermanentChannelError, TransientChannelError
from connectors.http import ApiClient
from connectors.shopify import ShopifyStore
from tests.connectors.conftest import Sandbox, inject

TOKEN = "good-shpat-4c1d2e3f4a5b"
SHOP = "acme.myshopify.com"


def seed(
    sandbox: Sandbox, product_id: str = "8812", variant_id: str = "4410", price: str = "49.99"
) -> None:
    response = sandbox.control(
        "POST",
        "/_sandbox/shopify/variants",
        {"product_id": product_id, "variant_id": variant_id, "price": price},
    )
    assert response.status_code == 201, response.text


def sandbox_price(sandbox: Sandbox, variant_id: str = "4410") -> str:
    response = sandbox.control("GET", f"/_sandbox/shopify/variants/{variant_id}")
    assert response.status_code == 200, response.text
    price: str = response.json()["price"]
    return price


@pytest.fixture
def store(api: ApiClient, api_config: ApiConfig) -> ShopifyStore:
    return ShopifyStore(api, api_config)


@pytest.fixture
async def account(store: ShopifyStore, sandbox: Sandbox) -> ChannelAccount:
    seed(sandbox)
    return await store.connect({"shop_domain": SHOP, "access_token": TOKEN})


async def test_connect_checks_the_token_and_keeps_shop_and_version(
    store: ShopifyStore, sandbox: Sandbox
) -> None:
    account = await store.connect(
        {"shop_domain": "Acme.myshopify.com", "access_token": TOKEN, "api_version": "2025-01"}
    )
    assert account.channel == "shopify"
    assert account.marketplace_id == "acme.myshopify.com"
    assert account.extra == {"shop_domain": "acme.myshopify.com", "api_version": "2025-01"}
    assert account.tokens.access_token == TOKEN
    assert TOKEN not in repr(account)
    assert [r.path for r in sandbox.state.requests if r.api] == ["/admin/api/2025-01/graphql.json"]


async def test_connect_with_a_wrong_token_is_refused_without_leaking_it(
    store: ShopifyStore, sandbox: Sandbox, sleeps: list[float]
) -> None:
    wrong = "shpat_wrong_0123456789abcdef"
    with pytest.raises(AuthenticationError) as caught:
        await store.connect({"shop_domain": SHOP, "access_token": wrong})
    assert caught.value.status == 401
    assert "Invalid API key or access token" in caught.value.message
    assert wrong not in str(caught.value)
    assert sleeps == []


@pytest.mark.parametrize(
    "credentials",
    [
        {"shop_domain": "https://acme.myshopify.com/", "access_token": TOKEN},
        {"shop_domain": "acme", "access_token": TOKEN},
        {"shop_domain": SHOP, "access_token": ""},
        {"shop_domain": SHOP, "access_token": TOKEN, "api_version": "latest"},
    ],
)
async def test_connect_refuses_malformed_credentials_without_calling(
    store: ShopifyStore, sandbox: Sandbox, credentials: dict[str, str]
) -> None:
    with pytest.raises(PermanentChannelError):
        await store.connect(credentials)
    assert [r for r in sandbox.state.requests if r.api] == []


@pytest.mark.parametrize("domain", ["169.254.169.254", "internal.example.com", "localhost"])
async def test_without_a_base_url_only_myshopify_hosts_are_called(
    api: ApiClient, api_config: ApiConfig, sandbox: Sandbox, domain: str
) -> None:
    config = msgspec.structs.replace(api_config, shopify_base_url=None)
    with pytest.raises(PermanentChannelError, match="host name"):
        await ShopifyStore(api, config).connect({"shop_domain": domain, "access_token": TOKEN})
    assert [r for r in sandbox.state.requests if r.api] == []


async def test_unknown_api_version_is_a_permanent_error(
    store: ShopifyStore, sandbox: Sandbox
) -> None:
    with pytest.raises(PermanentChannelError) as caught:
        await store.connect({"shop_domain": SHOP, "access_token": TOKEN, "api_version": "2025-02"})
    assert caught.value.status == 404
    assert caught.value.message == "Not Found"


async def test_read_price_by_numeric_ids_and_gids(
    store: ShopifyStore, account: ChannelAccount
) -> None:
    assert await store.read_price(account, "8812", "4410") == Decimal("49.99")
    assert await store.read_price(
        account, "gid://shopify/Product/8812", "gid://shopify/ProductVariant/4410"
    ) == Decimal("49.99")


async def test_update_returns_the_old_price_and_changes_the_store(
    store: ShopifyStore, account: ChannelAccount, sandbox: Sandbox
) -> None:
    old = await store.update_price(account, "8812", "4410", Decimal("19.99"))
    assert old == Decimal("49.99")
    assert sandbox_price(sandbox) == "19.99"
    assert await store.read_price(account, "8812", "4410") == Decimal("19.99")
    reverted_from = await store.update_price(account, "8812", "4410", old)
    assert reverted_from == Decimal("19.99")
    assert sandbox_price(sandbox) == "49.99"
    updates = sandbox.control("GET", "/_sandbox/shopify/price-updates").json()
    assert [(u["old_price"], u["new_price"]) for u in updates] == [
        ("49.99", "19.99"),
        ("19.99", "49.99"),
    ]


async def test_user_errors_become_permanent_errors_with_shopifys_message(
    store: ShopifyStore, account: ChannelAccount, sandbox: Sandbox
) -> None:
    with pytest.raises(PermanentChannelError) as caught:
        await store.update_price(account, "8812", "4410", Decimal("-1.00"))
    assert caught.value.message == "Price must be greater than or equal to 0"
    assert sandbox_price(sandbox) == "49.99"


async def test_unknown_variant_is_a_permanent_error(
    store: ShopifyStore, account: ChannelAccount
) -> None:
    with pytest.raises(PermanentChannelError, match="does not exist"):
        await store.read_price(account, "8812", "999")


async def test_variant_of_another_product_is_refused_before_any_change(
    store: ShopifyStore, account: ChannelAccount, sandbox: Sandbox
) -> None:
    seed(sandbox, product_id="7000", variant_id="7001", price="5.00")
    with pytest.raises(PermanentChannelError, match="does not belong"):
        await store.update_price(account, "8812", "7001", Decimal("1.00"))
    assert sandbox_price(sandbox, "7001") == "5.00"


async def test_non_numeric_ids_are_refused(store: ShopifyStore, account: ChannelAccount) -> None:
    with pytest.raises(PermanentChannelError, match="not a Shopify id"):
        await store.read_price(account, "8812", "44_10")


async def test_graphql_errors_with_http_200_are_permanent_errors(
    store: ShopifyStore, account: ChannelAccount, sandbox: Sandbox, sleeps: list[float]
) -> None:
    body = {
        "errors": [
            {
                "message": "Field 'price' doesn't exist on type 'ProductVariant'",
                "locations": [{"line": 2, "column": 3}],
            }
        ]
    }
    inject(sandbox, kind="status", api="shopify", status=200, body=body)
    with pytest.raises(PermanentChannelError) as caught:
        await store.read_price(account, "8812", "4410")
    assert caught.value.message == "Field 'price' doesn't exist on type 'ProductVariant'"
    assert sleeps == []


async def test_injected_throttle_then_success(
    store: ShopifyStore, account: ChannelAccount, sandbox: Sandbox, sleeps: list[float]
) -> None:
    inject(sandbox, kind="rate_limit", api="shopify", retry_after=2, times=2)
    assert await store.update_price(account, "8812", "4410", Decimal("9.99")) == Decimal("49.99")
    assert sleeps == [pytest.approx(2.0), pytest.approx(2.0)]
    assert sandbox_price(sandbox) == "9.99"


async def test_cost_bucket_throttle_waits_the_computed_restore_time(
    api_config: ApiConfig, account: ChannelAccount, sandbox: Sandbox
) -> None:
    # The sandbox's own leaky bucket, emptied, refilling 1 point/s: a 1-point query is
    # THROTTLED and must wait (1 - available) / 1 s, where `available` is what refilled
    # between the emptying and the query. This client really waits (that is the behaviour
    # under test), then succeeds. The bound comes from the clock, so a slow machine (a
    # later query, more refilled, a shorter wait) does not fail it.
    waited: list[float] = []
    asked_at: list[float] = []

    async def sleep(seconds: float) -> None:
        asked_at.append(time.monotonic())
        waited.append(seconds)
        await asyncio.sleep(seconds)

    emptied_at = time.monotonic()  # no later than the sandbox empties the bucket
    response = sandbox.control(
        "POST", "/_sandbox/shopify/bucket", {"currently_available": 0, "restore_rate": 1}
    )
    assert response.status_code == 200
    async with httpx.AsyncClient() as client:
        store = ShopifyStore(ApiClient(client, api_config, sleep=sleep), api_config)
        assert await store.read_price(account, "8812", "4410") == Decimal("49.99")
    assert len(waited) == 1
    refilled = asked_at[0] - emptied_at  # at most this many points came back before the query
    assert max(0.0, 1.0 - refilled) - 0.01 <= waited[0] <= 1.0


async def test_throttled_until_retries_run_out_is_transient(
    store: ShopifyStore, account: ChannelAccount, sandbox: Sandbox, api_config: ApiConfig
) -> None:
    inject(sandbox, kind="rate_limit", api="shopify", retry_after=1, times=api_config.max_attempts)
    with pytest.raises(TransientChannelError) as caught:
        await store.read_price(account, "8812", "4410")
    assert caught.value.message == f"Throttled (after {api_config.max_attempts} attempt(s))"
    assert caught.value.retry_after == pytest.approx(1.0)


async def test_a_revoked_token_fails_without_retry_or_leak(
    store: ShopifyStore, account: ChannelAccount, sleeps: list[float]
) -> None:
    account.tokens.access_token = "shpat_revoked_9f8e7d6c5b4a"
    with pytest.raises(AuthenticationError) as caught:
        await store.update_price(account, "8812", "4410", Decimal("1.00"))
    assert "shpat_revoked_9f8e7d6c5b4a" not in str(caught.value)
    assert sleeps == []


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "status", "status": 500},
        {"kind": "status", "status": 503},
        {"kind": "rate_limit", "retry_after": 1},
        {"kind": "drop"},
    ],
    ids=["500", "503", "rate_limit", "drop"],
)
async def test_each_transient_fault_is_retried_then_the_update_succeeds(
    store: ShopifyStore,
    account: ChannelAccount,
    sandbox: Sandbox,
    sleeps: list[float],
    fault: dict[str, object],
) -> None:
    inject(sandbox, api="shopify", method="POST", **fault)
    assert await store.update_price(account, "8812", "4410", Decimal("12.50")) == Decimal("49.99")
    assert sandbox_price(sandbox) == "12.50"
    assert len(sleeps) == 1


async def test_a_delay_beyond_the_timeout_is_retried(
    api_config: ApiConfig, sandbox: Sandbox, sleeps: list[float]
) -> None:
    seed(sandbox)
    config = msgspec.structs.replace(api_config, timeout_seconds=0.3)

    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    async with httpx.AsyncClient() as client:
        store = ShopifyStore(ApiClient(client, config, sleep=record, rng=random.Random(1)), config)
        account = await store.connect({"shop_domain": SHOP, "access_token": TOKEN})
        inject(sandbox, kind="delay", api="shopify", delay_seconds=1.0)
        assert await store.read_price(account, "8812", "4410") == Decimal("49.99")
    assert len(sleeps) == 1
    faults = [r.fault for r in sandbox.state.requests if r.api == "shopify"]
    assert faults == [None, "delay", None]


async def test_a_permanent_http_error_is_not_retried(
    store: ShopifyStore, account: ChannelAccount, sandbox: Sandbox, sleeps: list[float]
) -> None:
    inject(
        sandbox,
        kind="status",
        api="shopify",
        status=423,
        body={"errors": "This shop is unavailable"},
    )
    with pytest.raises(PermanentChannelError) as caught:
        await store.read_price(account, "8812", "4410")
    assert caught.value.status == 423
    assert caught.value.message == "This shop is unavailable"
    assert sleeps == []
