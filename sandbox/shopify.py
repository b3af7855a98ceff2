"""Shopify Admin GraphQL stand-in: POST /admin/api/{version}/graphql.json.

Every document is parsed and validated against Shopify's 2025-01 introspection schema with
graphql-core (always, even with validate=False: execution needs a valid document); invalid ones
get `{"errors": [...]}` with HTTP 200, as Shopify answers. Valid ones are executed with graphql-core
against in-memory variants. Supported root fields: `shop`,
`productVariant(id:)`, `product(id:)` and `productVariantsBulkUpdate(productId:, variants:,
allowPartialUpdates:)`; any other field resolves to null.

Auth: `X-Shopify-Access-Token` must start with "good" or "shpat_good"; otherwise 401 with Shopify's
body. Cost: queries cost 1, mutations 10, from a leaky bucket (2000 points, 100/s restore) that
answers THROTTLED like Shopify when empty; every answer carries `extensions.cost`.

Inventory (items, levels per location, the inventory queries and mutations) lives in
`sandbox.shopify_inventory`; mutations cost 10 points like the others.

Inspection/control: GET /_sandbox/shopify/variants, GET /_sandbox/shopify/variants/{variant_id},
POST /_sandbox/shopify/variants {"product_id", "variant_id", "price", "compare_at_price"?, "title"?,
"sku"?, "available"?, "levels"?: [{"location_id", "available", "location_name"?}]} (numeric ids or
gids; `available` stocks the default location), POST /_sandbox/shopify/variants/{variant_id}/price
{"price"} (the merchant changes the price by hand, outside the API), GET
/_sandbox/shopify/price-updates, POST /_sandbox/shopify/bucket {"currently_available"?,
"restore_rate"?, "maximum_available"?}, and the inventory routes listed in
`sandbox.shopify_inventory`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import msgspec
from graphql import (
    GraphQLError,
    GraphQLResolveInfo,
    OperationDefinitionNode,
    OperationType,
    execute_sync,
    parse,
    validate,
)
from litestar import Request, Response, Router, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

from sandbox import shopify_inventory as inv
from sandbox import specs
from sandbox.control_body import decode_control_body
from sandbox.faults import shopify_cost, shopify_throttled_body
from sandbox.state import SandboxState

PRODUCT_GID: Final = "gid://shopify/Product/"
VARIANT_GID: Final = "gid://shopify/ProductVariant/"
UNAUTHORIZED: Final = {
    "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
}
_VERSION = re.compile(r"^(\d{4}-(01|04|07|10)|unstable)$")
QUERY_COST: Final = 1.0
MUTATION_COST: Final = 10.0


@dataclass
class ShopifyVariant:
    """One product variant of the sandbox shop."""

    product_id: str
    variant_id: str
    price: Decimal
    compare_at_price: Decimal | None = None
    title: str = "Default Title"
    sku: str = ""


@dataclass
class ShopifyState:
    """The sandbox shop: variants by gid, price change history and the cost bucket."""

    variants: dict[str, ShopifyVariant] = field(default_factory=dict)
    price_updates: list[dict[str, str]] = field(default_factory=list)
    inventory: inv.ShopifyInventory = field(default_factory=inv.ShopifyInventory)
    shop_name: str = "Sandbox Shop"
    maximum_available: float = 2000.0
    restore_rate: float = 100.0
    available: float = 2000.0
    refilled_at: float = field(default_factory=time.monotonic)
    # The app installs (sandbox.consent): the secret the sandbox signs callbacks and checks
    # code exchanges with (`up` gives the service the same one), and codes not yet exchanged.
    app_secret: str = "sandbox"
    install_codes: dict[str, str] = field(default_factory=dict)

    def reset(self) -> None:
        """Forget everything, in place."""
        fresh = ShopifyState()
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(fresh, name))

    def summary(self) -> dict[str, Any]:
        """What GET /_sandbox/state shows for Shopify."""
        return {
            "variants": [_variant_json(v) for v in self.variants.values()],
            "price_updates": list(self.price_updates),
            "inventory": [self.inventory.variant_json(v) for v in self.variants],
        }

    def spend(self, cost: float) -> tuple[bool, dict[str, Any]]:
        """Take `cost` points from the bucket if there are enough; (allowed, extensions.cost)."""
        now = time.monotonic()
        self.available = min(
            self.maximum_available,
            self.available + (now - self.refilled_at) * self.restore_rate,
        )
        self.refilled_at = now
        allowed = cost <= self.available
        if allowed:
            self.available -= cost
        info = shopify_cost(
            cost, round(self.available, 3), self.maximum_available, self.restore_rate
        )
        if allowed:
            info["actualQueryCost"] = cost
        return allowed, info


class SeedVariant(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Body of POST /_sandbox/shopify/variants."""

    product_id: str
    variant_id: str
    price: Decimal
    compare_at_price: Decimal | None = None
    title: str = "Default Title"
    sku: str = ""
    available: int | None = None
    levels: list[inv.SeedLevel] | None = None


class ManualPrice(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Body of POST /_sandbox/shopify/variants/{variant_id}/price."""

    price: Decimal


class BucketSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Body of POST /_sandbox/shopify/bucket."""

    currently_available: float | None = None
    restore_rate: float | None = None
    maximum_available: float | None = None


def _gid(prefix: str, value: str) -> str:
    return value if value.startswith("gid://") else prefix + value


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def _variant_json(variant: ShopifyVariant) -> dict[str, Any]:
    return {
        "product_id": variant.product_id,
        "variant_id": variant.variant_id,
        "price": _money(variant.price),
        "compare_at_price": _money(variant.compare_at_price),
        "title": variant.title,
        "sku": variant.sku,
    }


def _product_node(shop: ShopifyState, product_id: str) -> dict[str, Any] | None:
    variants = [v for v in shop.variants.values() if v.product_id == product_id]
    if not variants:
        return None
    return {
        "__typename": "Product",
        "id": product_id,
        "legacyResourceId": product_id.rsplit("/", 1)[-1],
        "title": f"Product {product_id.rsplit('/', 1)[-1]}",
        "variantsCount": {"count": len(variants), "precision": "EXACT"},
    }


def _variant_node(shop: ShopifyState, variant: ShopifyVariant) -> dict[str, Any]:
    return {
        "__typename": "ProductVariant",
        "id": variant.variant_id,
        "legacyResourceId": variant.variant_id.rsplit("/", 1)[-1],
        "title": variant.title,
        "displayName": variant.title,
        "price": _money(variant.price),
        "compareAtPrice": _money(variant.compare_at_price),
        "sku": variant.sku or None,
        "inventoryQuantity": inv.available_total(shop.inventory, variant.variant_id),
        "inventoryItem": inv.inventory_item_field(shop.inventory, variant.variant_id),
        "product": _product_node(shop, variant.product_id),
    }


def _user_error(path: list[str], message: str, code: str) -> dict[str, Any]:
    return {
        "__typename": "ProductVariantsBulkUpdateUserError",
        "field": path,
        "message": message,
        "code": code,
    }


def _decimal(value: Any) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _bulk_update(
    shop: ShopifyState, product_id: str, variants: list[dict[str, Any]], partial: bool
) -> dict[str, Any]:
    """productVariantsBulkUpdate on the in-memory shop, with Shopify's userErrors."""
    if _product_node(shop, product_id) is None:
        return {
            "product": None,
            "productVariants": None,
            "userErrors": [
                _user_error(["productId"], "Product does not exist", "PRODUCT_DOES_NOT_EXIST")
            ],
        }
    errors: list[dict[str, Any]] = []
    changes: list[tuple[ShopifyVariant, dict[str, Decimal | None]]] = []
    for index, item in enumerate(variants):
        where = ["variants", str(index)]
        variant_id = item.get("id")
        if not variant_id:
            errors.append(
                _user_error(
                    [*where, "id"],
                    "Product variant is missing ID attribute",
                    "PRODUCT_VARIANT_ID_MISSING",
                )
            )
            continue
        variant = shop.variants.get(variant_id)
        if variant is None:
            errors.append(
                _user_error(
                    [*where, "id"],
                    "Product variant does not exist",
                    "PRODUCT_VARIANT_DOES_NOT_EXIST",
                )
            )
            continue
        if variant.product_id != product_id:
            errors.append(
                _user_error(
                    [*where, "id"],
                    "Product variant does not belong to the product",
                    "MUST_BE_FOR_THIS_PRODUCT",
                )
            )
            continue
        change: dict[str, Decimal | None] = {}
        item_ok = True
        for key in ("price", "compareAtPrice"):
            if key not in item:
                continue
            raw = item[key]
            amount = None if raw is None else _decimal(raw)
            if raw is not None and amount is None:
                errors.append(_user_error([*where, key], "Price is invalid", "INVALID_INPUT"))
                item_ok = False
            elif amount is not None and amount < 0:
                errors.append(
                    _user_error(
                        [*where, key],
                        "Price must be greater than or equal to 0",
                        "NEGATIVE_PRICE_VALUE",
                    )
                )
                item_ok = False
            elif key == "price" and amount is None:
                errors.append(_user_error([*where, key], "Price can't be blank", "INVALID_INPUT"))
                item_ok = False
            else:
                change[key] = amount
        if item_ok:
            changes.append((variant, change))
    if errors and not partial:
        return {
            "product": _product_node(shop, product_id),
            "productVariants": None,
            "userErrors": errors,
        }
    updated = []
    for variant, change in changes:
        old = variant.price
        if "price" in change and change["price"] is not None:
            variant.price = change["price"]
        if "compareAtPrice" in change:
            variant.compare_at_price = change["compareAtPrice"]
        shop.price_updates.append(
            {
                "variant_id": variant.variant_id,
                "old_price": _money(old) or "",
                "new_price": _money(variant.price) or "",
            }
        )
        updated.append(_variant_node(shop, variant))
    return {
        "product": _product_node(shop, product_id),
        "productVariants": updated,
        "userErrors": errors,
    }


def _root(shop: ShopifyState) -> dict[str, Any]:
    """Root value whose callables graphql-core's default resolver calls with the arguments."""

    def product_variant(_info: GraphQLResolveInfo, id: str) -> dict[str, Any] | None:
        variant = shop.variants.get(id)
        return None if variant is None else _variant_node(shop, variant)

    def product(_info: GraphQLResolveInfo, id: str | None = None, **_: Any) -> Any:
        return _product_node(shop, id) if id else None

    def bulk_update(
        _info: GraphQLResolveInfo,
        productId: str,
        variants: list[dict[str, Any]],
        allowPartialUpdates: bool = False,
        **_: Any,
    ) -> dict[str, Any]:
        return _bulk_update(shop, productId, variants, bool(allowPartialUpdates))

    def variant_lookup(variant_id: str) -> dict[str, Any] | None:
        variant = shop.variants.get(variant_id)
        return None if variant is None else _variant_node(shop, variant)

    return {
        inv.VARIANT_LOOKUP: variant_lookup,
        **inv.graphql_fields(shop.inventory),
        "shop": {
            "__typename": "Shop",
            "id": "gid://shopify/Shop/1",
            "name": shop.shop_name,
            "myshopifyDomain": "sandbox.myshopify.com",
            "currencyCode": "USD",
        },
        "productVariant": product_variant,
        "product": product,
        "productVariantsBulkUpdate": bulk_update,
    }


def _graphql_errors(errors: list[GraphQLError]) -> list[dict[str, Any]]:
    return [dict(error.formatted) for error in errors]


def _json(body: Any, status: int = 200) -> Response[Any]:
    return Response(body, status_code=status, media_type="application/json")


class GraphqlRequest(msgspec.Struct, frozen=True):
    """A GraphQL POST body (unknown members are ignored, as Shopify does)."""

    query: str
    variables: dict[str, Any] | None = None
    operationName: str | None = None


def run_graphql(shop: ShopifyState, payload: GraphqlRequest) -> dict[str, Any]:
    """Validate and execute one GraphQL request; the JSON Shopify would answer with HTTP 200."""
    schema = specs.shopify_schema()
    try:
        document = parse(payload.query)
    except GraphQLError as error:
        return {"errors": _graphql_errors([error])}
    problems = validate(schema, document)
    if problems:
        return {"errors": _graphql_errors(problems)}
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = next(
        (o for o in operations if o.name and o.name.value == payload.operationName),
        operations[0] if operations else None,
    )
    is_mutation = chosen is not None and chosen.operation == OperationType.MUTATION
    allowed, cost = shop.spend(MUTATION_COST if is_mutation else QUERY_COST)
    if not allowed:
        return shopify_throttled_body(cost["requestedQueryCost"], cost)
    result = execute_sync(
        schema,
        document,
        root_value=_root(shop),
        variable_values=payload.variables,
        operation_name=payload.operationName,
    )
    body: dict[str, Any] = {}
    if result.errors:
        body["errors"] = _graphql_errors(list(result.errors))
    if result.data is not None or not result.errors:
        body["data"] = result.data
    body["extensions"] = {"cost": cost}
    return body


def _authorized(request: Request[Any, Any, Any]) -> bool:
    token = request.headers.get("x-shopify-access-token", "")
    return token.startswith(("good", "shpat_good"))


def router(state: SandboxState) -> Router:
    """Shopify's GraphQL endpoint and /_sandbox/shopify/... routes bound to `state`."""
    shop: ShopifyState = state.shopify

    @post("/admin/api/{version:str}/graphql.json", status_code=200)
    async def graphql_endpoint(
        request: Request[Any, Any, Any], version: FromPath[str]
    ) -> Response[Any]:
        if not _VERSION.match(version):
            return _json({"errors": "Not Found"}, 404)
        if not _authorized(request):
            return _json(UNAUTHORIZED, 401)
        try:
            payload = msgspec.json.decode(await request.body(), type=GraphqlRequest)
        except (msgspec.ValidationError, msgspec.DecodeError):
            return _json({"errors": {"query": "Required parameter missing or invalid"}}, 400)
        return _json(run_graphql(shop, payload))

    @get("/_sandbox/shopify/variants")
    async def list_variants() -> list[dict[str, Any]]:
        return [_variant_json(v) for v in shop.variants.values()]

    @get("/_sandbox/shopify/variants/{variant_id:str}")
    async def show_variant(variant_id: FromPath[str]) -> Response[Any]:
        variant = shop.variants.get(_gid(VARIANT_GID, variant_id))
        if variant is None:
            return _json({"error": "not_found"}, 404)
        return _json(_variant_json(variant))

    @post("/_sandbox/shopify/variants", status_code=201)
    async def seed_variant(request: Request[Any, Any, Any]) -> Response[Any]:
        seed = await decode_control_body(request, SeedVariant)
        if isinstance(seed, Response):
            return seed
        variant = ShopifyVariant(
            product_id=_gid(PRODUCT_GID, seed.product_id),
            variant_id=_gid(VARIANT_GID, seed.variant_id),
            price=seed.price,
            compare_at_price=seed.compare_at_price,
            title=seed.title,
            sku=seed.sku,
        )
        levels = list(seed.levels or [])
        if seed.available is not None:
            levels.insert(0, inv.SeedLevel(available=seed.available))
        if any(level.available < 0 for level in levels):
            return _json({"error": "invalid_request", "detail": "available must be >= 0"}, 400)
        shop.variants[variant.variant_id] = variant
        item = shop.inventory.item_for_variant(variant.variant_id)
        item.sku = seed.sku
        inv.seed_levels(shop.inventory, variant.variant_id, levels or [inv.SeedLevel()])
        return _json(
            {**_variant_json(variant), **shop.inventory.variant_json(variant.variant_id)}, 201
        )

    @post("/_sandbox/shopify/variants/{variant_id:str}/price", status_code=200)
    async def manual_price(
        request: Request[Any, Any, Any], variant_id: FromPath[str]
    ) -> Response[Any]:
        body = await decode_control_body(request, ManualPrice)
        if isinstance(body, Response):
            return body
        variant = shop.variants.get(_gid(VARIANT_GID, variant_id))
        if variant is None:
            return _json({"error": "not_found"}, 404)
        if not body.price.is_finite() or body.price < 0:
            return _json({"error": "invalid_request", "detail": "price must be >= 0"}, 400)
        variant.price = body.price
        return _json(_variant_json(variant))

    @get("/_sandbox/shopify/price-updates")
    async def price_updates() -> list[dict[str, str]]:
        return list(shop.price_updates)

    @post("/_sandbox/shopify/bucket", status_code=200)
    async def bucket(request: Request[Any, Any, Any]) -> Response[Any]:
        settings = await decode_control_body(request, BucketSettings)
        if isinstance(settings, Response):
            return settings
        if settings.maximum_available is not None:
            shop.maximum_available = settings.maximum_available
        if settings.restore_rate is not None:
            shop.restore_rate = settings.restore_rate
        if settings.currently_available is not None:
            shop.available = settings.currently_available
        shop.refilled_at = time.monotonic()
        return _json(
            {
                "maximum_available": shop.maximum_available,
                "restore_rate": shop.restore_rate,
                "currently_available": shop.available,
            }
        )

    return Router(
        path="/",
        route_handlers=[
            graphql_endpoint,
            list_variants,
            show_variant,
            seed_variant,
            manual_price,
            price_updates,
            bucket,
            *inventory_routes(shop),
        ],
    )


def inventory_routes(shop: ShopifyState) -> list[HTTPRouteHandler]:
    """/_sandbox/shopify/inventory...: inspect levels and make inventory drift happen.

    Reads `shop.inventory` on every call: a reset replaces it."""

    def level_for(variant_id: str, location_id: str) -> inv.Level | Response[Any]:
        gid = _gid(VARIANT_GID, variant_id)
        if gid not in shop.variants:
            return _json({"error": "not_found"}, 404)
        level = inv.control_level(shop.inventory, gid, location_id)
        if isinstance(level, str):
            return _json({"error": "invalid_request", "detail": level}, 400)
        return level

    async def change(
        request: Request[Any, Any, Any],
        variant_id: str,
        kind: type[Any],
        apply: Callable[[inv.ShopifyInventory, inv.Level, Any], str | None],
    ) -> Response[Any]:
        body = await decode_control_body(request, kind)
        if isinstance(body, Response):
            return body
        level = level_for(variant_id, body.location_id)
        if isinstance(level, Response):
            return level
        problem = apply(shop.inventory, level, body)
        if problem is not None:
            return _json({"error": "invalid_request", "detail": problem}, 409)
        return _json(shop.inventory.variant_json(_gid(VARIANT_GID, variant_id)))

    @get("/_sandbox/shopify/inventory")
    async def all_inventory() -> list[dict[str, Any]]:
        return [shop.inventory.variant_json(gid) for gid in shop.variants]

    @get("/_sandbox/shopify/inventory/{variant_id:str}")
    async def variant_inventory(variant_id: FromPath[str]) -> Response[Any]:
        gid = _gid(VARIANT_GID, variant_id)
        if gid not in shop.variants:
            return _json({"error": "not_found"}, 404)
        return _json(shop.inventory.variant_json(gid))

    @post("/_sandbox/shopify/inventory/{variant_id:str}/sell", status_code=200)
    async def sell(request: Request[Any, Any, Any], variant_id: FromPath[str]) -> Response[Any]:
        return await change(request, variant_id, inv.StoreSale, inv.sell_on_store)

    @post("/_sandbox/shopify/inventory/{variant_id:str}/release", status_code=200)
    async def release(request: Request[Any, Any, Any], variant_id: FromPath[str]) -> Response[Any]:
        return await change(request, variant_id, inv.ForeignRelease, inv.release_reserved)

    @post("/_sandbox/shopify/inventory/{variant_id:str}/set", status_code=200)
    async def set_stock(
        request: Request[Any, Any, Any], variant_id: FromPath[str]
    ) -> Response[Any]:
        return await change(request, variant_id, inv.StockCount, inv.count_stock)

    @get("/_sandbox/shopify/inventory-adjustments")
    async def adjustments() -> list[dict[str, Any]]:
        return list(shop.inventory.groups)

    return [all_inventory, variant_inventory, sell, release, set_stock, adjustments]
