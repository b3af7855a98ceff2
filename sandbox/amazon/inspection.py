"""/_sandbox/amazon/...: JSON views of the stand-in's state, order creation, listing processing
and settings."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.handlers import HTTPRouteHandler

from sandbox.amazon.attributes import listing_issue, listing_price, listing_quantity
from sandbox.amazon.listings import item_body
from sandbox.amazon.new_orders import order_from_request
from sandbox.amazon.orders import order_item_json, order_json
from sandbox.amazon.state import AmazonListing, AmazonState
from sandbox.amazon.wire import control_body, json_response
from sandbox.state import SandboxState


def _sell_from_listings(amazon: AmazonState, sku: str, quantity: int) -> None:
    """An order takes its units off the listing's fulfillable quantity, as Amazon's does for
    merchant-fulfilled offers (never below zero)."""
    for listing in amazon.listings.values():
        if listing.sku != sku:
            continue
        for entry in listing.attributes.get("fulfillment_availability", []):
            if isinstance(entry.get("quantity"), int):
                taken = min(quantity, entry["quantity"])
                entry["quantity"] -= taken
                quantity -= taken


def _listing_json(listing: AmazonListing) -> dict[str, Any]:
    price, currency = listing_price(listing)
    return {
        "seller_id": listing.seller_id,
        "sku": listing.sku,
        "marketplace_id": listing.marketplace_id,
        "product_type": listing.product_type,
        "requirements": listing.requirements,
        "processed": listing.processed,
        "status": item_body(listing, ["summaries"])["summaries"][0]["status"],
        "price": str(price) if price is not None else None,
        "currency": currency,
        "quantity": listing_quantity(listing),
        "submissions": listing.submissions,
        "attributes": listing.attributes,
    }


def inspect_routes(state: SandboxState) -> list[HTTPRouteHandler]:
    """State, listings and orders views; POST orders, process and config."""
    amazon: AmazonState = state.amazon

    # -- /_sandbox/amazon/... -----------------------------------------------------------------

    @get("/_sandbox/amazon/state")
    async def inspect_state() -> dict[str, Any]:
        return amazon.summary()

    @get("/_sandbox/amazon/listings")
    async def inspect_listings() -> Response[bytes]:
        return json_response([_listing_json(listing) for listing in amazon.listings.values()])

    @get("/_sandbox/amazon/orders")
    async def inspect_orders() -> Response[bytes]:
        return json_response(
            [
                {**order_json(o), "OrderItems": [order_item_json(o, i) for i in o.items]}
                for o in amazon.orders
            ]
        )

    @post("/_sandbox/amazon/orders", status_code=201)
    async def create_order(request: Request[Any, Any, Any]) -> Response[bytes]:
        data = await control_body(request)
        if data is None:
            return json_response({"errors": ["body must be a JSON object"]}, 400)
        problems, order = order_from_request(amazon, data)
        if order is None:
            return json_response({"errors": problems}, 400)
        amazon.orders.append(order)
        for item in order.items:
            _sell_from_listings(amazon, item.sku, item.quantity)
        return json_response(
            {**order_json(order), "OrderItems": [order_item_json(order, i) for i in order.items]},
            201,
        )

    @post("/_sandbox/amazon/process", status_code=200)
    async def process(request: Request[Any, Any, Any]) -> Response[bytes]:
        data = await control_body(request)
        if data is None:
            return json_response({"errors": ["body must be a JSON object"]}, 400)
        sku = data.get("sku")
        reject = data.get("reject")
        if reject is not None and not isinstance(reject, str):
            return json_response({"errors": ["reject must be a message string"]}, 400)
        done = []
        for listing in amazon.listings.values():
            if sku is None or listing.sku == sku:
                listing.processed = True
                if reject:
                    listing.issues = [
                        listing_issue(
                            "99300",
                            reject,
                            "item_name",
                            "INVALID_ATTRIBUTE",
                            listing.marketplace_id,
                        )
                    ]
                done.append(listing.sku)
        return json_response({"processed": done})

    @post("/_sandbox/amazon/config", status_code=200)
    async def configure(request: Request[Any, Any, Any]) -> Response[bytes]:
        data = await control_body(request)
        if data is None:
            return json_response({"errors": ["body must be a JSON object"]}, 400)
        problems: list[str] = []
        if "process_after_gets" in data:
            value = data["process_after_gets"]
            if value is None or (isinstance(value, int) and value >= 0):
                amazon.process_after_gets = value
            else:
                problems.append("process_after_gets must be null or an integer >= 0")
        for name in ("orders_page_size", "order_items_page_size"):
            if name in data:
                value = data[name]
                if isinstance(value, int) and 1 <= value <= 100:
                    setattr(amazon, name, value)
                else:
                    problems.append(f"{name} must be an integer 1..100")
        if problems:
            return json_response({"errors": problems}, 400)
        return json_response(
            {
                "process_after_gets": amazon.process_after_gets,
                "orders_page_size": amazon.orders_page_size,
                "order_items_page_size": amazon.order_items_page_size,
            }
        )

    return [inspect_state, inspect_listings, inspect_orders, create_order, process, configure]
