"""The merchant's Shopify store through the Admin GraphQL API.

Reads a variant's price with `productVariant(id:)` and changes it with
`productVariantsBulkUpdate(productId:, variants: [{id, price}])`. GraphQL reports failures with
HTTP 200: top-level `errors` (invalid documents, THROTTLED) and the mutation's `userErrors`.
THROTTLED is retried by the ApiClient after the restore time computed from `extensions.cost`;
the rest become PermanentChannelError with Shopify's own message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Final, TypeVar

import httpx
import msgspec

from connectors.base import ChannelAccount, StoreConnector, TokenSet
from connectors.errors import AuthenticationError, PermanentChannelError
from connectors.http import redact

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

_SHOP_DOMAIN = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9-]+)+$")
_API_VERSION = re.compile(r"^(\d{4}-\d{2}|unstable)$")
_NUMERIC_ID = re.compile(r"^\d+$")
_T = TypeVar("_T")


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


def _gid(prefix: str, value: str) -> str:
    """The GraphQL id for a numeric id (CONTRACT §4); gids pass through."""
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
        if not _SHOP_DOMAIN.match(shop_domain) or (
            # Without a base URL override the domain becomes the URL: only Shopify's own hosts,
            # so a merchant cannot point the service at an internal address.
            self.config.shopify_base_url is None and not shop_domain.endswith(".myshopify.com")
        ):
            raise PermanentChannelError(
                "shop_domain must be the shop's host name, like acme.myshopify.com", api=API
            )
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

    async def read_price(
        self, account: ChannelAccount, product_id: str, variant_id: str
    ) -> Decimal:
        """The variant's price; refuses a variant that belongs to another product."""
        product_gid = _gid(PRODUCT_GID, product_id)
        variant_gid = _gid(VARIANT_GID, variant_id)
        data = await self._graphql(account, READ_PRICE, {"id": variant_gid})
        raw = data.get("productVariant")
        if raw is None:
            raise PermanentChannelError(f"product variant {variant_gid} does not exist", api=API)
        variant = _convert(raw, _Variant)
        if variant.product is not None and variant.product.id != product_gid:
            raise PermanentChannelError(
                f"product variant {variant_gid} does not belong to {product_gid}", api=API
            )
        return _price(variant.price)

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

    def _url(self, account: ChannelAccount) -> str:
        base = self.config.shopify_base_url or f"https://{account.extra['shop_domain']}"
        version = account.extra.get("api_version") or DEFAULT_API_VERSION
        return f"{base.rstrip('/')}/admin/api/{version}/graphql.json"

    async def _graphql(
        self, account: ChannelAccount, query: str, variables: dict[str, Any]
    ) -> dict[str, Any]:
        """POST one GraphQL request; the `data` object, or PermanentChannelError with the errors."""
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
