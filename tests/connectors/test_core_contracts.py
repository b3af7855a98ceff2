"""The shared connector contracts: configuration from the environment, secret-free reprs, the
registry, and the base class's refresh-before-expiry and refresh-once-on-401 helpers (exercised
over real HTTP against the sandbox with a minimal channel)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import ClassVar

import httpx
import msgspec
import pytest

from connectors import registry
from connectors.base import (
    ChannelAccount,
    ExternalChannel,
    ListingRequest,
    ListingState,
    StoreConnector,
    SyncedSale,
    TokenSet,
)
from connectors.config import ApiConfig
from connectors.errors import (
    AuthenticationError,
    ChannelError,
    PermanentChannelError,
    TransientChannelError,
)
from connectors.http import ApiClient
from tests.connectors.conftest import Sandbox

GOOD = "good-refreshed-token-5566"


def test_config_defaults_are_the_real_apis() -> None:
    config = ApiConfig.from_env({})
    assert config == ApiConfig()
    assert config.ebay_base_url == "https://api.ebay.com"
    assert config.ebay_token_url == "https://api.ebay.com/identity/v1/oauth2/token"
    assert config.amazon_token_url == "https://api.amazon.com/auth/o2/token"
    assert config.shopify_base_url is None


def test_config_reads_the_contract_variables() -> None:
    env = {
        "CHANNEL_ROUTER_EBAY_BASE_URL": "http://127.0.0.1:8100/",
        "CHANNEL_ROUTER_AMAZON_BASE_URL": "http://127.0.0.1:8100",
        "CHANNEL_ROUTER_AMAZON_TOKEN_URL": "http://127.0.0.1:8100/auth/o2/token",
        "CHANNEL_ROUTER_SHOPIFY_BASE_URL": "http://127.0.0.1:8100/",
        "CHANNEL_ROUTER_EBAY_CLIENT_ID": "ebay-id",
        "CHANNEL_ROUTER_EBAY_CLIENT_SECRET": "ebay-secret-value",
        "CHANNEL_ROUTER_AMAZON_CLIENT_ID": "amzn-id",
        "CHANNEL_ROUTER_AMAZON_CLIENT_SECRET": "amzn-secret-value",
    }
    config = ApiConfig.from_env(env)
    assert config.ebay_base_url == "http://127.0.0.1:8100"
    assert config.ebay_token_url == "http://127.0.0.1:8100/identity/v1/oauth2/token"
    assert config.amazon_base_url == "http://127.0.0.1:8100"
    assert config.amazon_token_url == "http://127.0.0.1:8100/auth/o2/token"
    assert config.shopify_base_url == "http://127.0.0.1:8100"
    assert (config.ebay_client_id, config.ebay_client_secret) == ("ebay-id", "ebay-secret-value")
    assert config.amazon_client_secret == "amzn-secret-value"
    shown = repr(config)
    assert "ebay-secret-value" not in shown and "amzn-secret-value" not in shown
    assert "ebay_client_id='ebay-id'" in shown


def test_token_set_and_account_reprs_hide_tokens_and_accounts_round_trip() -> None:
    tokens = TokenSet(
        access_token="v^1.1#secret-access",
        expires_at=datetime(2030, 1, 1, tzinfo=UTC),
        refresh_token="v^1.1#secret-refresh",
    )
    account = ChannelAccount(
        channel="ebay", tokens=tokens, marketplace_id="EBAY_US", extra={"payment_policy_id": "7"}
    )
    for text in (repr(tokens), repr(account), str(account)):
        assert "secret-access" not in text and "secret-refresh" not in text
    decoded = msgspec.json.decode(msgspec.json.encode(account), type=ChannelAccount)
    assert decoded == account
    assert decoded.tokens.access_token == "v^1.1#secret-access"


def test_result_structs_are_frozen_and_keep_decimal_money() -> None:
    listing = ListingRequest(sku="cr-acme-1-2", title="Shirt", price=Decimal("19.99"), quantity=3)
    with pytest.raises(AttributeError):
        listing.price = Decimal("1")  # type: ignore[misc]
    state = ListingState(channel="ebay", sku=listing.sku, external_listing_id="1", status="pending")
    sale = SyncedSale(
        channel="amazon",
        order_id="o",
        sku=listing.sku,
        units_sold=2,
        revenue=Decimal("39.98"),
        currency="USD",
        sold_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert msgspec.json.encode(sale).count(b'"39.98"') == 1
    assert state.units_sold == 0


def test_error_hierarchy_and_text() -> None:
    transient = TransientChannelError("Throttled", api="shopify", status=200, retry_after=2.0)
    assert transient.transient and transient.retry_after == 2.0
    assert str(transient) == "shopify HTTP 200: Throttled"
    auth = AuthenticationError("invalid_grant", api="ebay", status=400)
    assert isinstance(auth, PermanentChannelError) and isinstance(auth, ChannelError)
    assert not auth.transient
    assert str(PermanentChannelError("bad", api="amazon")) == "amazon: bad"


def test_registry_names_match_classes_and_unknown_names_are_explained(
    api: ApiClient, api_config: ApiConfig
) -> None:
    assert set(registry.EXTERNAL_CHANNELS) == {"ebay", "amazon"}
    assert set(registry.STORES) == {"shopify"}
    for name, cls in registry.EXTERNAL_CHANNELS.items():
        assert issubclass(cls, ExternalChannel) and cls.name == name
    for name, store_cls in registry.STORES.items():
        assert issubclass(store_cls, StoreConnector) and store_cls.name == name
    assert isinstance(registry.store("shopify", api, api_config), StoreConnector)
    assert registry.external_channel("amazon", api, api_config).name == "amazon"
    with pytest.raises(
        ValueError, match=r"unknown external channel 'wholesale' \(known: amazon, ebay\)"
    ):
        registry.external_channel("wholesale", api, api_config)
    with pytest.raises(ValueError, match="known: shopify"):
        registry.store("woo", api, api_config)


class ProbeChannel(ExternalChannel):
    """A minimal channel whose protected resource is the sandbox's Shopify endpoint and whose
    refresh hands out `next_token`, to exercise the base class helpers over real HTTP."""

    name: ClassVar[str] = "probe"
    next_token = GOOD
    refreshes = 0

    async def authenticate(self, credentials: Mapping[str, str]) -> ChannelAccount:
        raise NotImplementedError

    async def refresh(self, account: ChannelAccount) -> None:
        self.refreshes += 1
        account.tokens = TokenSet(
            access_token=self.next_token,
            expires_at=datetime.now(UTC) + timedelta(hours=2),
            refresh_token=account.tokens.refresh_token,
        )

    async def call(self, account: ChannelAccount) -> httpx.Response:
        url = f"{self.config.shopify_base_url}/admin/api/2025-01/graphql.json"

        async def send(token: str) -> httpx.Response:
            return await self.api.request(
                "probe",
                "POST",
                url,
                headers={"X-Shopify-Access-Token": token},
                json={"query": "{ shop { name } }"},
            )

        return await self._authorized(account, send)

    async def create_listing(
        self, account: ChannelAccount, listing: ListingRequest
    ) -> ListingState:
        raise NotImplementedError

    async def monitor_listing(
        self, account: ChannelAccount, sku: str, external_listing_id: str
    ) -> ListingState:
        raise NotImplementedError

    async def cancel_listing(
        self, account: ChannelAccount, sku: str, external_listing_id: str
    ) -> ListingState:
        raise NotImplementedError

    async def sync_sales(self, account: ChannelAccount, since: datetime) -> list[SyncedSale]:
        raise NotImplementedError


def probe_account(token: str, expires_in: timedelta) -> ChannelAccount:
    return ChannelAccount(
        channel="probe",
        tokens=TokenSet(
            access_token=token,
            expires_at=datetime.now(UTC) + expires_in,
            refresh_token="refresh-me",
        ),
        marketplace_id="X",
    )


async def test_token_expiring_within_a_minute_is_refreshed_before_the_call(
    api: ApiClient, api_config: ApiConfig, sandbox: Sandbox
) -> None:
    channel = ProbeChannel(api, api_config)
    account = probe_account("revoked-token-1", timedelta(seconds=30))
    response = await channel.call(account)
    assert response.status_code == 200
    assert channel.refreshes == 1
    assert account.tokens.access_token == GOOD
    assert [r.path for r in sandbox.state.requests if r.api] == ["/admin/api/2025-01/graphql.json"]


async def test_a_401_refreshes_once_and_retries_once(
    api: ApiClient, api_config: ApiConfig, sandbox: Sandbox
) -> None:
    channel = ProbeChannel(api, api_config)
    account = probe_account("revoked-token-2", timedelta(hours=1))
    response = await channel.call(account)
    assert response.status_code == 200
    assert channel.refreshes == 1
    assert len([r for r in sandbox.state.requests if r.api]) == 2


async def test_a_second_401_is_an_authentication_error_without_the_token(
    api: ApiClient, api_config: ApiConfig, sandbox: Sandbox
) -> None:
    channel = ProbeChannel(api, api_config)
    channel.next_token = "still-revoked-token-3"
    account = probe_account("revoked-token-3", timedelta(hours=1))
    with pytest.raises(AuthenticationError) as caught:
        await channel.call(account)
    assert channel.refreshes == 1
    assert "revoked-token-3" not in str(caught.value)
    assert len([r for r in sandbox.state.requests if r.api]) == 2
