"""/_sandbox/ebay/...: JSON views of the stand-in's state, and order creation for tests."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from litestar import Request, Response, get, post
from litestar.handlers import HTTPRouteHandler

from sandbox.ebay.new_orders import make_order, record_sale
from sandbox.ebay.state import EbayState
from sandbox.ebay.values import money, now_utc
from sandbox.state import SandboxState
from sandbox.timestamps import parse_iso


def inspect_routes(state: SandboxState) -> list[HTTPRouteHandler]:
    """GET views of every collection, POST /_sandbox/ebay/orders."""

    def ebay() -> EbayState:
        return state.ebay

    # --- /_sandbox/ebay/... inspection and order creation ---

    @get("/_sandbox/ebay/state")
    async def inspect_state() -> dict[str, Any]:
        store = ebay()
        return {
            **store.summary(),
            "policies": store.policies,
            "locations": store.locations,
            "inventory_items": store.inventory_items,
            "offers": list(store.offers.values()),
        }

    @get("/_sandbox/ebay/offers")
    async def inspect_offers() -> list[dict[str, Any]]:
        return list(ebay().offers.values())

    @get("/_sandbox/ebay/inventory_items")
    async def inspect_items() -> dict[str, dict[str, Any]]:
        store = ebay()
        return {
            sku: {**item, "locale": store.item_languages.get(sku, "")}
            for sku, item in store.inventory_items.items()
        }

    @get("/_sandbox/ebay/policies")
    async def inspect_policies() -> dict[str, list[dict[str, Any]]]:
        return {kind: list(items.values()) for kind, items in ebay().policies.items()}

    @get("/_sandbox/ebay/locations")
    async def inspect_locations() -> dict[str, dict[str, Any]]:
        return ebay().locations

    @get("/_sandbox/ebay/orders")
    async def inspect_orders() -> list[dict[str, Any]]:
        return ebay().orders

    @get("/_sandbox/ebay/token_grants")
    async def inspect_grants() -> list[str]:
        return ebay().token_grants

    @post("/_sandbox/ebay/orders", status_code=201)
    async def add_orders(request: Request[Any, Any, Any]) -> Response[Any]:
        """Body {"sku", "quantity", "price" (unit), "currency"?, "count"?, "created_at"?,
        "shipping"?}: `count` orders of `quantity` units each."""
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return Response(content={"error": "body must be a JSON object"}, status_code=400)
        sku = body.get("sku")
        quantity = body.get("quantity", 1)
        count = body.get("count", 1)
        price = money(str(body.get("price", "")))
        shipping = money(str(body.get("shipping", "0")))
        created = parse_iso(str(body["created_at"])) if body.get("created_at") else now_utc()
        problems = []
        if not isinstance(sku, str) or not sku:
            problems.append("sku must be a non-empty string")
        if not isinstance(quantity, int) or quantity < 1:
            problems.append("quantity must be an integer >= 1")
        if not isinstance(count, int) or not 1 <= count <= 1000:
            problems.append("count must be an integer from 1 to 1000")
        if price is None or price <= 0:
            problems.append("price must be a positive decimal string")
        if shipping is None or shipping < 0:
            problems.append("shipping must be a decimal string >= 0")
        if created is None:
            problems.append("created_at must be an ISO 8601 timestamp")
        if problems:
            return Response(content={"errors": problems}, status_code=400)
        assert isinstance(sku, str) and price is not None and shipping is not None
        assert created is not None
        store = ebay()
        made = []
        for index in range(count):
            order = make_order(
                store,
                sku,
                quantity,
                price,
                str(body.get("currency", "USD")),
                created + timedelta(milliseconds=index),
                shipping,
            )
            store.orders.append(order)
            record_sale(store, sku, quantity)
            made.append(order)
        return Response(content={"orders": made}, status_code=201)

    return [
        inspect_state,
        inspect_offers,
        inspect_items,
        inspect_policies,
        inspect_locations,
        inspect_orders,
        inspect_grants,
        add_orders,
    ]
