"""The two connector contracts: an external marketplace channel and the merchant's own store.

Results are msgspec Structs, money is Decimal, datetimes are timezone-aware UTC. Connectors get an
`ApiClient` (timeouts, retries, error mapping) and an `ApiConfig` (base URLs, app credentials).
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, ClassVar, Literal

import httpx
import msgspec

from connectors.errors import AuthenticationError

if TYPE_CHECKING:
    from connectors.config import ApiConfig
    from connectors.http import ApiClient

REFRESH_MARGIN = timedelta(seconds=60)


class TokenSet(msgspec.Struct):
    """OAuth tokens of one account. Its repr shows expiry times only, never the tokens."""

    access_token: str
    expires_at: datetime
    refresh_token: str | None = None
    refresh_token_expires_at: datetime | None = None

    def __repr__(self) -> str:
        return (
            f"TokenSet(access_token='***', expires_at={self.expires_at!r}, "
            f"refresh_token={'***' if self.refresh_token else None!r}, "
            f"refresh_token_expires_at={self.refresh_token_expires_at!r})"
        )


class ChannelAccount(msgspec.Struct):
    """A connected seller/store account. Mutable: connectors refresh tokens in place and the
    caller persists the account afterwards.

    `extra` holds per-channel settings: eBay fulfillment_policy_id, payment_policy_id,
    return_policy_id, merchant_location_key; Shopify shop_domain, api_version.
    """

    channel: str
    tokens: TokenSet
    marketplace_id: str
    seller_id: str | None = None
    extra: dict[str, str] = msgspec.field(default_factory=dict)


class ListingRequest(msgspec.Struct, frozen=True):
    """What to list. `sku` is opaque to connectors (built by the caller; never split it)."""

    sku: str
    title: str
    price: Decimal
    quantity: int
    currency: str = "USD"
    description: str = ""
    category: str = ""
    product_id: str = ""
    variant_id: str = ""
    condition: str = "NEW"


ListingStatus = Literal["pending", "active", "ended", "rejected"]
""""pending" = accepted by the marketplace but not live yet."""


class ListingState(msgspec.Struct, frozen=True):
    """A listing as the marketplace reports it now."""

    channel: str
    sku: str
    external_listing_id: str
    status: ListingStatus
    quantity_available: int | None = None
    units_sold: int = 0
    price: Decimal | None = None
    detail: str = ""


class SyncedSale(msgspec.Struct, frozen=True):
    """One sold line (revenue from the line item, not fees)."""

    channel: str
    order_id: str
    sku: str
    units_sold: int
    revenue: Decimal
    currency: str
    sold_at: datetime
    external_listing_id: str | None = None


def authorization_code_form(credentials: Mapping[str, str]) -> dict[str, str] | None:
    """The OAuth authorization-code grant form when credentials carry a code, else None.

    eBay and Login with Amazon take the same form; `redirect_uri` goes along only when given.
    """
    code = credentials.get("authorization_code")
    if not code:
        return None
    form = {"grant_type": "authorization_code", "code": code}
    if credentials.get("redirect_uri"):
        form["redirect_uri"] = credentials["redirect_uri"]
    return form


class ExternalChannel(abc.ABC):
    """A marketplace we list clearance stock on (eBay, Amazon, ...).

    Subclasses set `name` and may not add required `__init__` arguments (the registry builds them).
    """

    name: ClassVar[str]

    def __init__(self, api: ApiClient, config: ApiConfig) -> None:
        self.api = api
        self.config = config

    @abc.abstractmethod
    async def authenticate(self, credentials: Mapping[str, str]) -> ChannelAccount:
        """Exchange an authorization code (or refresh token) for tokens; set up the account."""

    @abc.abstractmethod
    async def refresh(self, account: ChannelAccount) -> None:
        """Get a new access token with the refresh token and store it in `account.tokens`."""

    @abc.abstractmethod
    async def create_listing(
        self, account: ChannelAccount, listing: ListingRequest
    ) -> ListingState:
        """List (or update, if the sku exists already: a retry never duplicates)."""

    @abc.abstractmethod
    async def monitor_listing(
        self, account: ChannelAccount, sku: str, external_listing_id: str
    ) -> ListingState:
        """The listing's current state."""

    @abc.abstractmethod
    async def cancel_listing(
        self, account: ChannelAccount, sku: str, external_listing_id: str
    ) -> ListingState:
        """End the listing; ending an already-ended listing is not an error."""

    @abc.abstractmethod
    async def sync_sales(self, account: ChannelAccount, since: datetime) -> list[SyncedSale]:
        """Sales since `since` (all pages)."""

    async def _ensure_fresh(self, account: ChannelAccount) -> None:
        """Refresh the access token when it expires within a minute, before using it."""
        if account.tokens.expires_at - datetime.now(UTC) <= REFRESH_MARGIN:
            await self.refresh(account)

    async def _authorized(
        self,
        account: ChannelAccount,
        call: Callable[[str], Awaitable[httpx.Response]],
    ) -> httpx.Response:
        """Run `call(access_token)`; on HTTP 401 refresh once and run it once more.

        A second 401 raises AuthenticationError (the message never includes the token).
        """
        await self._ensure_fresh(account)
        response = await call(account.tokens.access_token)
        if response.status_code != 401:
            return response
        await self.refresh(account)
        response = await call(account.tokens.access_token)
        if response.status_code == 401:
            raise AuthenticationError(
                "access token refused after a refresh", api=self.name, status=401
            )
        return response


class StoreConnector(abc.ABC):
    """The merchant's own store, where the clearance price is set and later reverted."""

    name: ClassVar[str]

    def __init__(self, api: ApiClient, config: ApiConfig) -> None:
        self.api = api
        self.config = config

    @abc.abstractmethod
    async def connect(self, credentials: Mapping[str, str]) -> ChannelAccount:
        """Check the credentials with a cheap call and return the account to store."""

    @abc.abstractmethod
    async def read_price(
        self, account: ChannelAccount, product_id: str, variant_id: str
    ) -> Decimal:
        """The variant's current price."""

    @abc.abstractmethod
    async def update_price(
        self, account: ChannelAccount, product_id: str, variant_id: str, price: Decimal
    ) -> Decimal:
        """Set the price; returns the price before the change (read first) so it can be reverted."""
