"""The two connector contracts: an external marketplace channel and the merchant's own store.

Results are msgspec Structs, money is Decimal, datetimes are timezone-aware UTC. Connectors get an
`ApiClient` (timeouts, retries, error mapping) and an `ApiConfig` (base URLs, app credentials).
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, ClassVar, Final, Literal

import httpx
import msgspec

from connectors.errors import AuthenticationError, InventoryConflict, PermanentChannelError

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


class ListingProblem(msgspec.Struct, frozen=True):
    """Something that would stop a listing (or a campaign) from going live, found without
    changing anything: which channel, which field of the request, and why."""

    channel: str
    field: str
    message: str
    code: str = ""
    severity: Literal["error", "warning"] = "error"


ValidationSource = Literal["marketplace", "local", "none"]
""""marketplace": the marketplace itself judged the listing (Amazon VALIDATION_PREVIEW);
"local": we checked its documented requirements (eBay publish rules); "none": not checked."""


class ListingValidation(msgspec.Struct, frozen=True):
    """The result of validating a listing without publishing it."""

    channel: str
    checked_by: ValidationSource
    problems: list[ListingProblem] = []
    detail: str = ""


class InventoryLevel(msgspec.Struct, frozen=True):
    """A store item's quantities at one location. on_hand = available + committed + reserved +
    the other unavailable states, so units moved from available to reserved stay on hand but can
    no longer be bought on the store."""

    location_id: str
    location_name: str
    available: int
    reserved: int
    committed: int
    on_hand: int

    def quantity(self, name: str) -> int:
        """The quantity called `name` (available, reserved, committed or on_hand)."""
        if name not in ("available", "reserved", "committed", "on_hand"):
            raise ValueError(f"unknown quantity name {name!r}")
        value: int = getattr(self, name)
        return value


class StoreInventory(msgspec.Struct, frozen=True):
    """A store variant's price and stock, read in one call."""

    product_id: str
    variant_id: str
    inventory_item_id: str
    tracked: bool
    price: Decimal
    levels: list[InventoryLevel]

    @property
    def available(self) -> int:
        """Units buyable on the store now, over every location."""
        return sum(level.available for level in self.levels)

    def level(self, location_id: str | None = None) -> InventoryLevel | None:
        """The level at `location_id`, or (None) the location with the most available units."""
        if location_id is not None:
            return next((lv for lv in self.levels if lv.location_id == location_id), None)
        return max(self.levels, key=lambda lv: lv.available, default=None)


InventoryStep = Literal["hold", "release", "sold"]
""""hold": available -> reserved; "release": reserved -> available; "sold": reserved units leave
the store's stock because they were sold on a marketplace."""


class InventoryMove(msgspec.Struct, frozen=True):
    """One change of a campaign's held units at one location of the store.

    `campaign_id` names the ledger document the units are held under; `move_key` names this move
    (unique per campaign, e.g. "hold" or "sold-ebay-<order>") and travels in the reference URI.
    """

    campaign_id: str
    move_key: str
    step: InventoryStep
    inventory_item_id: str
    location_id: str
    quantity: int

    def __post_init__(self) -> None:
        if self.quantity < 0:
            raise ValueError("quantity must be >= 0")


HELD_DIRECTION: Final = {"hold": 1, "release": -1, "sold": -1}
"""How each step changes the held (reserved) quantity, per unit."""


def already_moved(move: InventoryMove, before: InventoryLevel, now: InventoryLevel) -> bool:
    """Whether the level `now` shows `move` made since `before` (True) or not yet (False).

    Raises InventoryConflict when the held quantity is neither, i.e. someone else changed it:
    guessing then could move twice or not at all."""
    expected_done = before.reserved + HELD_DIRECTION[move.step] * move.quantity
    if now.reserved == before.reserved:
        return move.quantity == 0
    if now.reserved == expected_done:
        return True
    raise InventoryConflict(
        f"reserved units at {move.location_id} are {now.reserved}: neither {before.reserved} "
        f"(before the {move.step} of {move.quantity}) nor {expected_done} (after it)",
        api="store",
        expected=before.reserved,
        actual=now.reserved,
    )


class MoveOutcome(msgspec.Struct, frozen=True):
    """What a move did: `applied` False means it had been made already (a retry) and nothing moved
    this time. `before` is the level the move started from, `after` the level it left."""

    move: InventoryMove
    applied: bool
    before: InventoryLevel
    after: InventoryLevel
    adjustment_group_id: str | None = None


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
    # Whether a "pending" listing (accepted, not live) can still go live by itself: Amazon's
    # accepted submissions become buyable later; an eBay offer never published cannot.
    pending_may_go_live: ClassVar[bool] = True

    def __init__(self, api: ApiClient, config: ApiConfig) -> None:
        self.api = api
        self.config = config

    async def find_listing_id(self, account: ChannelAccount, sku: str) -> str | None:
        """The external listing id under `sku`, or None when the marketplace has none: how a
        caller whose create call died before answering finds what it may have made. By
        default the SKU is the id (Amazon)."""
        return sku

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

    async def validate_listing(
        self, account: ChannelAccount, listing: ListingRequest
    ) -> ListingValidation:
        """Judge `listing` without publishing or changing anything. Channels that cannot say
        answer `checked_by="none"`; the others override this."""
        return ListingValidation(
            channel=self.name, checked_by="none", detail="this channel cannot validate in advance"
        )

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

    # Inventory holds. Not abstract, so a store platform without them still connects and prices;
    # these then refuse with a PermanentChannelError naming the platform.

    async def read_inventory(
        self, account: ChannelAccount, product_id: str, variant_id: str
    ) -> StoreInventory:
        """The variant's price, inventory item and levels per location."""
        raise self._unsupported("inventory")

    async def read_level(
        self, account: ChannelAccount, inventory_item_id: str, location_id: str
    ) -> InventoryLevel:
        """One inventory item's quantities at one location."""
        raise self._unsupported("inventory")

    async def move_inventory(
        self, account: ChannelAccount, move: InventoryMove, before: InventoryLevel | None = None
    ) -> MoveOutcome:
        """Make `move` at most once.

        `before` is the level the caller read (and recorded with its own record of the move)
        before the first attempt. With it, a retry compares the level now with it: the move is
        made when the held quantity is still as it was, reported as already made
        (`applied=False`) when it shows exactly this move, and refused with InventoryConflict
        when someone else changed it. Without it the level is read first and the move made.
        """
        raise self._unsupported("inventory holds")

    async def set_available(
        self,
        account: ChannelAccount,
        inventory_item_id: str,
        location_id: str,
        quantity: int,
        compare_quantity: int,
    ) -> InventoryLevel:
        """Compare-and-set the available quantity: set it to `quantity` only if it is still
        `compare_quantity` (InventoryConflict otherwise, nothing changed)."""
        raise self._unsupported("compare-and-set of inventory")

    def _unsupported(self, what: str) -> PermanentChannelError:
        return PermanentChannelError(f"{self.name} does not support {what}", api=self.name)
