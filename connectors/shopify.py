"""The merchant's Shopify store through the Admin GraphQL API.

Reads a variant's price with `productVariant(id:)` and changes it with
`productVariantsBulkUpdate(productId:, variants: [{id, price}])`. GraphQL reports failures with
HTTP 200: top-level `errors` (invalid documents, THROTTLED) and the mutation's `userErrors`.
THROTTLED is retried by the ApiClient after the restore time computed from `extensions.cost`;
the rest become PermanentChannelError with Shopify's own message.

Inventory (2025-01): the variant's inventory item and its levels come with the price in one query;
units are held with `inventoryMoveQuantities` (available -> reserved, the ledger document naming
the campaign), given back the same way, and units sold elsewhere leave `reserved` through
`inventoryAdjustQuantities`. 2025-01 offers compare-and-set only on `inventorySetQuantities`
(`compareQuantity`), which `set_available` uses; moves have no compare or idempotency key before
2026-01 (`changeFromQuantity`, `@idempotent`), so a retried move is made at most once by comparing
the level with the one the caller recorded before the first attempt (`already_moved`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, ClassVar, Final, TypeVar
from urllib.parse import quote

import httpx
import msgspec

from connectors.base import (
    ChannelAccount,
    InventoryLevel,
    InventoryMove,
    MoveOutcome,
    StoreConnector,
    StoreInventory,
    TokenSet,
    already_moved,
)
from connectors.errors import AuthenticationError, InventoryConflict, PermanentChannelError
from connectors.http import redact
from connectors.rate_budget import BudgetRequest

if TYPE_CHECKING:
    from connectors.config import ApiConfig

API: Final = "shopify"
DEFAULT_API_VERSION: Final = "2025-01"
PRODUCT_GID: Final = "gid://shopify/Product/"
VARIANT_GID: Final = "gid://shopify/ProductVariant/"
NEVER_EXPIRES: Final = datetime(9999, 12, 31, tzinfo=UTC)
"""Admin API access tokens of custom/offline apps do not expire."""

SHOP_QUERY: Final = "query ShopName { shop { name } }"
READ_PRICE: Final = """
query VariantPrice($id: ID!) {
  productVariant(id: $id) { id price product { id } }
}
"""
UPDATE_PRICE: Final = """
mutation UpdateVariantPrice($productId: ID!, $variants: [ProductVariantsBulkInput!]!) {
  productVariantsBulkUpdate(
    productId: $productId, variants: $variants, allowPartialUpdates: false
  ) {
    productVariants { id price }
    userErrors { field message code }
  }
}
"""

QUANTITY_NAMES: Final = '["available", "reserved", "committed", "on_hand"]'
_LEVEL_FIELDS: Final = (
    "location { id name } quantities(names: " + QUANTITY_NAMES + ") { name quantity }"
)
READ_INVENTORY: Final = (
    """
query VariantInventory($id: ID!) {
  productVariant(id: $id) {
    id price product { id }
    inventoryItem { id tracked inventoryLevels(first: 20) { nodes { """
    + _LEVEL_FIELDS
    + """ } } }
  }
}
"""
)
READ_LEVEL: Final = (
    """
query InventoryLevel($item: ID!, $location: ID!) {
  inventoryItem(id: $item) { id inventoryLevel(locationId: $location) { """
    + _LEVEL_FIELDS
    + """ } }
}
"""
)
_GROUP_FIELDS: Final = """
    inventoryAdjustmentGroup { id changes { name delta quantityAfterChange } }
    userErrors { field message code }
"""
MOVE_QUANTITIES: Final = (
    "mutation MoveQuantities($input: InventoryMoveQuantitiesInput!) {\n"
    "  inventoryMoveQuantities(input: $input) {" + _GROUP_FIELDS + "  }\n}\n"
)
ADJUST_QUANTITIES: Final = (
    "mutation AdjustQuantities($input: InventoryAdjustQuantitiesInput!) {\n"
    "  inventoryAdjustQuantities(input: $input) {" + _GROUP_FIELDS + "  }\n}\n"
)
SET_QUANTITIES: Final = (
    "mutation SetQuantities($input: InventorySetQuantitiesInput!) {\n"
    "  inventorySetQuantities(input: $input) {" + _GROUP_FIELDS + "  }\n}\n"
)
LEDGER_SCHEME: Final = "channel-router://campaigns/"
"""Ledger documents of held units: channel-router://campaigns/<campaign id> (not a gid: Shopify
refuses its own ids as ledger documents)."""
# Estimated query costs for the rate budget (Shopify reports the real ones after each call).
_SIMPLE_COST: Final = 1
_INVENTORY_COST: Final = 25
_MUTATION_COST: Final = 10
_REASONS: Final = {"hold": "reservation_created", "release": "reservation_deleted", "sold": "other"}

_SHOP_DOMAIN = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9-]+)+$")
_API_VERSION = re.compile(r"^(\d{4}-\d{2}|unstable)$")
_NUMERIC_ID = re.compile(r"^\d+$")
_T = TypeVar("_T")
_V = TypeVar("_V", "_Variant", "_InventoryVariant")


class _Envelope(msgspec.Struct, frozen=True):
    """A GraphQL response; Shopify may add members, so unknown ones are ignored here."""

    data: dict[str, Any] | None = None
    errors: list[dict[str, Any]] | str | None = None
    extensions: dict[str, Any] | None = None


class _ProductRef(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: str


class _Variant(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: str
    price: str
    product: _ProductRef | None = None


class _UserError(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    message: str
    field: list[str] | None = None
    code: str | None = None


class _UpdatedVariant(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: str
    price: str


class _BulkUpdate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    userErrors: list[_UserError]
    productVariants: list[_UpdatedVariant] | None = None


class _Ref(msgspec.Struct, frozen=True):
    id: str


class _Location(msgspec.Struct, frozen=True):
    id: str
    name: str = ""


class _Quantity(msgspec.Struct, frozen=True):
    name: str
    quantity: int


class _Level(msgspec.Struct, frozen=True):
    location: _Location
    quantities: list[_Quantity]


class _Levels(msgspec.Struct, frozen=True):
    nodes: list[_Level]


class _InventoryItem(msgspec.Struct, frozen=True):
    id: str
    tracked: bool = True
    inventoryLevels: _Levels | None = None
    inventoryLevel: _Level | None = None


class _InventoryVariant(msgspec.Struct, frozen=True):
    id: str
    price: str
    inventoryItem: _InventoryItem
    product: _Ref | None = None


class _Change(msgspec.Struct, frozen=True):
    name: str
    delta: int
    quantityAfterChange: int | None = None


class _Group(msgspec.Struct, frozen=True):
    id: str
    changes: list[_Change] = []


class _InventoryPayload(msgspec.Struct, frozen=True):
    userErrors: list[_UserError]
    inventoryAdjustmentGroup: _Group | None = None


def ledger_uri(campaign_id: str) -> str:
    """The ledger document naming a campaign's held units."""
    return LEDGER_SCHEME + quote(campaign_id, safe="")


def reference_uri(move: InventoryMove) -> str:
    """Why a change happened: the campaign's ledger document and the move's key."""
    return f"{ledger_uri(move.campaign_id)}/moves/{quote(move.move_key, safe='')}"


def _level(raw: _Level) -> InventoryLevel:
    quantities = {q.name: q.quantity for q in raw.quantities}
    return InventoryLevel(
        location_id=raw.location.id,
        location_name=raw.location.name,
        available=quantities.get("available", 0),
        reserved=quantities.get("reserved", 0),
        committed=quantities.get("committed", 0),
        on_hand=quantities.get("on_hand", 0),
    )


def _after(before: InventoryLevel, group: _Group | None) -> InventoryLevel:
    """The level after a mutation, from the quantities its changes report."""
    if group is None:
        return before
    values = {name: before.quantity(name) for name in ("available", "reserved", "committed")}
    values["on_hand"] = before.on_hand
    for change in group.changes:
        if change.name in values:
            after = change.quantityAfterChange
            values[change.name] = after if after is not None else values[change.name] + change.delta
    return msgspec.structs.replace(before, **values)


def _gid(prefix: str, value: str) -> str:
    """The GraphQL id for a numeric id (docs/connectors.md, Shopify); gids pass through."""
    if value.startswith(prefix):
        return value
    if _NUMERIC_ID.match(value):
        return prefix + value
    raise PermanentChannelError(f"not a Shopify id: {value!r}", api=API)


def _decode(response: httpx.Response) -> _Envelope:
    try:
        return msgspec.json.decode(response.content, type=_Envelope)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise PermanentChannelError(
            f"unreadable GraphQL response: {exc}", api=API, status=response.status_code
        ) from exc


def _error_messages(errors: list[dict[str, Any]] | str | None) -> str:
    if isinstance(errors, str):
        return errors
    if isinstance(errors, dict):  # e.g. 400 {"errors": {"query": "Required parameter missing"}}
        return "; ".join(f"{k}: {v}" for k, v in errors.items())
    messages = [str(e.get("message", "")) for e in errors or [] if isinstance(e, dict)]
    return "; ".join(m for m in messages if m) or "GraphQL error"


SHOP_DOMAIN_HINT: Final = "shop_domain must be the shop's host name, like acme.myshopify.com"
# What the console's install asks for: reading and changing product prices.
INSTALL_SCOPES: Final = ("read_products", "write_products")


class _AccessToken(msgspec.Struct, frozen=True):
    access_token: str
    scope: str = ""


def shop_domain_ok(shop_domain: str, config: ApiConfig) -> bool:
    """A host name; without a base URL override the domain becomes the URL, so only
    Shopify's own hosts (a merchant cannot point the service at an internal address)."""
    return bool(_SHOP_DOMAIN.match(shop_domain)) and (
        config.shopify_base_url is not None or shop_domain.endswith(".myshopify.com")
    )


def install_signature_ok(params: Mapping[str, str], client_secret: str) -> bool:
    """Whether Shopify signed an install callback: `hmac` is the hex HMAC-SHA256, keyed by the
    app's client secret, of the other query parameters sorted by name as `k=v` joined by `&`."""
    given = params.get("hmac", "")
    if not given or not client_secret:
        return False
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "hmac")
    expected = hmac.new(client_secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given.lower())


def install_error_message(response: httpx.Response) -> str:
    """Shopify's OAuth error (`{"error", "error_description"}`) or its usual `errors`."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("error_description"):
        return str(body["error_description"])
    return error_message(response)


def error_message(response: httpx.Response) -> str:
    """Shopify's own error text from a non-2xx answer ({"errors": "..."} or a list)."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code} {response.reason_phrase}"
    if isinstance(body, dict) and "errors" in body:
        return _error_messages(body["errors"])
    return f"HTTP {response.status_code} {response.reason_phrase}"


def throttle_delay(response: httpx.Response) -> float | None:
    """Seconds to wait when a 200 answer is THROTTLED: (requested - available) / restoreRate."""
    if b"THROTTLED" not in response.content:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list) or not any(
        isinstance(e, dict) and (e.get("extensions") or {}).get("code") == "THROTTLED"
        for e in errors
    ):
        return None
    try:
        cost = body["extensions"]["cost"]
        status = cost["throttleStatus"]
        missing = float(cost["requestedQueryCost"]) - float(status["currentlyAvailable"])
        return max(0.0, missing / float(status["restoreRate"]))
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return 1.0


class ShopifyStore(StoreConnector):
    """Shopify Admin GraphQL: read and change a variant's price."""

    name: ClassVar[str] = "shopify"

    async def connect(self, credentials: Mapping[str, str]) -> ChannelAccount:
        """Check the token with `shop { name }` and return the account to store."""
        shop_domain = credentials.get("shop_domain", "").strip().lower()
        access_token = credentials.get("access_token", "")
        api_version = credentials.get("api_version") or DEFAULT_API_VERSION
        if not shop_domain_ok(shop_domain, self.config):
            raise PermanentChannelError(SHOP_DOMAIN_HINT, api=API)
        if not access_token:
            raise AuthenticationError("access_token is required", api=API)
        if not _API_VERSION.match(api_version):
            raise PermanentChannelError("api_version must look like 2025-01", api=API)
        account = ChannelAccount(
            channel=self.name,
            tokens=TokenSet(access_token=access_token, expires_at=NEVER_EXPIRES),
            marketplace_id=shop_domain,
            extra={"shop_domain": shop_domain, "api_version": api_version},
        )
        await self._graphql(account, SHOP_QUERY, {})
        return account

    async def exchange_install_code(self, shop_domain: str, code: str) -> str:
        """The shop's offline access token for the code of an app install (OAuth
        authorization-code grant: POST https://{shop}/admin/oauth/access_token)."""
        if not self.config.shopify_client_id or not self.config.shopify_client_secret:
            raise AuthenticationError("the service has no Shopify app credentials", api=API)
        base = self.config.shopify_base_url or f"https://{shop_domain}"
        response = await self.api.request(
            API,
            "POST",
            f"{base.rstrip('/')}/admin/oauth/access_token",
            json={
                "client_id": self.config.shopify_client_id,
                "client_secret": self.config.shopify_client_secret,
                "code": code,
            },
            error_message=install_error_message,
        )
        try:
            body = msgspec.json.decode(response.content, type=_AccessToken)
        except (msgspec.DecodeError, msgspec.ValidationError):
            raise AuthenticationError(
                "Shopify answered the install without an access token", api=API
            ) from None
        return body.access_token

    async def read_price(
        self, account: ChannelAccount, product_id: str, variant_id: str
    ) -> Decimal:
        """The variant's price; refuses a variant that belongs to another product."""
        variant = await self._variant(account, product_id, variant_id, READ_PRICE, _Variant)
        return _price(variant.price)

    async def _variant(
        self,
        account: ChannelAccount,
        product_id: str,
        variant_id: str,
        query: str,
        shape: type[_V],
        cost: int | None = None,
    ) -> _V:
        """`productVariant(id:)` read by `query`; refuses a missing one or another product's."""
        product_gid = _gid(PRODUCT_GID, product_id)
        variant_gid = _gid(VARIANT_GID, variant_id)
        data = await self._graphql(account, query, {"id": variant_gid}, cost=cost)
        raw = data.get("productVariant")
        if raw is None:
            raise PermanentChannelError(f"product variant {variant_gid} does not exist", api=API)
        variant = _convert(raw, shape)
        if variant.product is not None and variant.product.id != product_gid:
            raise PermanentChannelError(
                f"product variant {variant_gid} does not belong to {product_gid}", api=API
            )
        return variant

    async def update_price(
        self, account: ChannelAccount, product_id: str, variant_id: str, price: Decimal
    ) -> Decimal:
        """Set the variant's price; returns the previous price (read first) for reverting."""
        previous = await self.read_price(account, product_id, variant_id)
        variables = {
            "productId": _gid(PRODUCT_GID, product_id),
            "variants": [{"id": _gid(VARIANT_GID, variant_id), "price": format(price, "f")}],
        }
        data = await self._graphql(account, UPDATE_PRICE, variables)
        payload = data.get("productVariantsBulkUpdate")
        if payload is None:
            raise PermanentChannelError("productVariantsBulkUpdate returned nothing", api=API)
        result = _convert(payload, _BulkUpdate)
        if result.userErrors:
            raise PermanentChannelError(
                "; ".join(e.message for e in result.userErrors), api=API, status=200
            )
        return previous

    async def read_inventory(
        self, account: ChannelAccount, product_id: str, variant_id: str
    ) -> StoreInventory:
        """Price, inventory item and levels (first 20 locations) of the variant, in one query."""
        variant = await self._variant(
            account, product_id, variant_id, READ_INVENTORY, _InventoryVariant, _INVENTORY_COST
        )
        item = variant.inventoryItem
        levels = item.inventoryLevels.nodes if item.inventoryLevels else []
        return StoreInventory(
            product_id=_gid(PRODUCT_GID, product_id),
            variant_id=variant.id,
            inventory_item_id=item.id,
            tracked=item.tracked,
            price=_price(variant.price),
            levels=[_level(level) for level in levels],
        )

    async def read_level(
        self, account: ChannelAccount, inventory_item_id: str, location_id: str
    ) -> InventoryLevel:
        """The item's quantities at one location; refuses an item not stocked there."""
        data = await self._graphql(
            account, READ_LEVEL, {"item": inventory_item_id, "location": location_id}
        )
        raw = data.get("inventoryItem")
        if raw is None:
            raise PermanentChannelError(
                f"inventory item {inventory_item_id} does not exist", api=API
            )
        item = _convert(raw, _InventoryItem)
        if item.inventoryLevel is None:
            raise PermanentChannelError(
                f"inventory item {inventory_item_id} is not stocked at {location_id}", api=API
            )
        return _level(item.inventoryLevel)

    async def move_inventory(
        self, account: ChannelAccount, move: InventoryMove, before: InventoryLevel | None = None
    ) -> MoveOutcome:
        """Hold, release or sell off held units at most once (see StoreConnector)."""
        now = await self.read_level(account, move.inventory_item_id, move.location_id)
        if before is not None and already_moved(move, before, now):
            return MoveOutcome(move=move, applied=False, before=before, after=now)
        if move.quantity == 0:
            return MoveOutcome(move=move, applied=False, before=now, after=now)
        ledger = ledger_uri(move.campaign_id)
        reference = reference_uri(move)
        reason = _REASONS[move.step]
        if move.step == "sold":
            query, field = ADJUST_QUANTITIES, "inventoryAdjustQuantities"
            variables: dict[str, Any] = {
                "input": {
                    "reason": reason,
                    "name": "reserved",
                    "referenceDocumentUri": reference,
                    "changes": [
                        {
                            "delta": -move.quantity,
                            "inventoryItemId": move.inventory_item_id,
                            "locationId": move.location_id,
                            "ledgerDocumentUri": ledger,
                        }
                    ],
                }
            }
        else:
            available = {"locationId": move.location_id, "name": "available"}
            reserved = {
                "locationId": move.location_id,
                "name": "reserved",
                "ledgerDocumentUri": ledger,
            }
            source, target = (available, reserved) if move.step == "hold" else (reserved, available)
            query, field = MOVE_QUANTITIES, "inventoryMoveQuantities"
            variables = {
                "input": {
                    "reason": reason,
                    "referenceDocumentUri": reference,
                    "changes": [
                        {
                            "inventoryItemId": move.inventory_item_id,
                            "quantity": move.quantity,
                            "from": source,
                            "to": target,
                        }
                    ],
                }
            }
        group = await self._inventory_mutation(account, query, field, variables)
        return MoveOutcome(
            move=move,
            applied=True,
            before=now,
            after=_after(now, group),
            adjustment_group_id=group.id if group else None,
        )

    async def set_available(
        self,
        account: ChannelAccount,
        inventory_item_id: str,
        location_id: str,
        quantity: int,
        compare_quantity: int,
    ) -> InventoryLevel:
        """inventorySetQuantities with compareQuantity: Shopify's compare-and-set."""
        before = await self.read_level(account, inventory_item_id, location_id)
        variables = {
            "input": {
                "reason": "correction",
                "name": "available",
                "referenceDocumentUri": "channel-router://inventory/set-available",
                "quantities": [
                    {
                        "inventoryItemId": inventory_item_id,
                        "locationId": location_id,
                        "quantity": quantity,
                        "compareQuantity": compare_quantity,
                    }
                ],
            }
        }
        try:
            group = await self._inventory_mutation(
                account, SET_QUANTITIES, "inventorySetQuantities", variables
            )
        except InventoryConflict:
            now = await self.read_level(account, inventory_item_id, location_id)
            raise InventoryConflict(
                f"available at {location_id} is {now.available}, not {compare_quantity}: "
                "nothing was changed",
                api=API,
                expected=compare_quantity,
                actual=now.available,
            ) from None
        return _after(before, group)

    async def _inventory_mutation(
        self, account: ChannelAccount, query: str, field: str, variables: dict[str, Any]
    ) -> _Group | None:
        """Run an inventory mutation; its userErrors become errors with Shopify's messages."""
        data = await self._graphql(account, query, variables, cost=_MUTATION_COST)
        payload = data.get(field)
        if payload is None:
            raise PermanentChannelError(f"{field} returned nothing", api=API)
        result = _convert(payload, _InventoryPayload)
        if result.userErrors:
            message = "; ".join(e.message for e in result.userErrors)
            if any(e.code == "COMPARE_QUANTITY_STALE" for e in result.userErrors):
                raise InventoryConflict(message, api=API, expected=-1, actual=-1)
            raise PermanentChannelError(message, api=API, status=200)
        return result.inventoryAdjustmentGroup

    def _url(self, account: ChannelAccount) -> str:
        base = self.config.shopify_base_url or f"https://{account.extra['shop_domain']}"
        version = account.extra.get("api_version") or DEFAULT_API_VERSION
        return f"{base.rstrip('/')}/admin/api/{version}/graphql.json"

    async def _graphql(
        self,
        account: ChannelAccount,
        query: str,
        variables: dict[str, Any],
        *,
        cost: int | None = None,
    ) -> dict[str, Any]:
        """POST one GraphQL request; the `data` object, or PermanentChannelError with the errors.

        `cost` is the estimate the rate budget spends (default: 10 for a mutation, 1 otherwise)."""
        if cost is None:
            cost = _MUTATION_COST if query.lstrip().startswith("mutation") else _SIMPLE_COST
        response = await self.api.request(
            API,
            "POST",
            self._url(account),
            headers={
                "X-Shopify-Access-Token": account.tokens.access_token,
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
            json={"query": query, "variables": variables},
            error_message=error_message,
            is_throttled=throttle_delay,
            budget_request=BudgetRequest(
                account_key=account.extra.get("shop_domain") or account.marketplace_id, cost=cost
            ),
        )
        secrets = [account.tokens.access_token]
        if response.status_code == 401:
            raise AuthenticationError(redact(error_message(response), secrets), api=API, status=401)
        envelope = _decode(response)
        if envelope.errors:
            raise PermanentChannelError(
                redact(_error_messages(envelope.errors), secrets),
                api=API,
                status=response.status_code,
            )
        if envelope.data is None:
            raise PermanentChannelError("GraphQL response without data", api=API)
        return envelope.data


def _convert(raw: Any, type_: type[_T]) -> _T:
    """`raw` as the Struct our query asked for; a different shape is a permanent error."""
    try:
        return msgspec.convert(raw, type=type_)
    except msgspec.ValidationError as exc:
        raise PermanentChannelError(f"unexpected GraphQL data: {exc}", api=API) from exc


def _price(raw: str) -> Decimal:
    try:
        return Decimal(raw)
    except InvalidOperation as exc:
        raise PermanentChannelError(f"unreadable price {raw!r}", api=API) from exc
