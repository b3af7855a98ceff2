"""Orders v0: GET /orders/v0/orders and GET /orders/v0/orders/{orderId}/orderItems, with
NextToken paging."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

from sandbox.amazon.errors import invalid_input, sp_error
from sandbox.amazon.gate import call_refusal
from sandbox.amazon.params import csv_values
from sandbox.amazon.state import DEFAULT_MARKETPLACE, AmazonOrder, AmazonOrderItem, AmazonState
from sandbox.amazon.wire import iso, json_response
from sandbox.state import SandboxState
from sandbox.timestamps import parse_iso

ORDERS_SPEC: Final = "amazon-orders-v0.json"
ORDERS_PATH: Final = "/orders/v0/orders"
ORDER_ITEMS_PATH: Final = "/orders/v0/orders/{orderId}/orderItems"


def order_json(order: AmazonOrder) -> dict[str, Any]:
    """An Orders v0 `Order`."""
    total = sum((i.item_price for i in order.items), Decimal(0))
    currency = order.items[0].currency if order.items else "USD"
    return {
        "AmazonOrderId": order.order_id,
        "PurchaseDate": iso(order.purchase_date),
        "LastUpdateDate": iso(order.purchase_date),
        "OrderStatus": order.status,
        "FulfillmentChannel": "MFN",
        "SalesChannel": "Amazon.com",
        "OrderTotal": {"CurrencyCode": currency, "Amount": f"{total:.2f}"},
        "NumberOfItemsShipped": 0,
        "NumberOfItemsUnshipped": sum(i.quantity for i in order.items),
        "PaymentMethod": "Other",
        "MarketplaceId": order.marketplace_id,
        "OrderType": "StandardOrder",
        "IsBusinessOrder": False,
        "IsPrime": False,
        "IsPremiumOrder": False,
        "IsReplacementOrder": False,
    }


def order_item_json(order: AmazonOrder, item: AmazonOrderItem) -> dict[str, Any]:
    """An Orders v0 `OrderItem` (no price while the order is pending)."""
    body: dict[str, Any] = {
        "ASIN": item.asin,
        "SellerSKU": item.sku,
        "OrderItemId": item.order_item_id,
        "Title": item.title or item.sku,
        "QuantityOrdered": item.quantity,
        "QuantityShipped": 0,
    }
    if order.status not in ("Pending", "PendingAvailability"):
        body["ItemPrice"] = {"CurrencyCode": item.currency, "Amount": f"{item.item_price:.2f}"}
        body["ItemTax"] = {"CurrencyCode": item.currency, "Amount": "0.00"}
    return body


def _new_next_token(state: AmazonState, kind: str, offset: int, key: str) -> str:
    token = secrets.token_urlsafe(18)
    state.next_tokens[token] = (kind, offset, key)
    return token


def _page_size(value: str | None, default: int) -> int | None:
    if value is None:
        return default
    try:
        size = int(value)
    except ValueError:
        return None
    return size if 1 <= size <= 100 else None


def order_routes(state: SandboxState) -> list[HTTPRouteHandler]:
    """getOrders and getOrderItems over the orders made through /_sandbox/amazon/orders."""
    amazon: AmazonState = state.amazon

    @get("/orders/v0/orders")
    async def get_orders(request: Request[Any, Any, Any]) -> Response[bytes]:
        amazon.requests.append("GET orders")
        refusal = call_refusal(state, ORDERS_SPEC, ORDERS_PATH, "get", request)
        if refusal is not None:
            return refusal
        query = request.query_params
        marketplaces = csv_values(request, "MarketplaceIds") or [DEFAULT_MARKETPLACE]
        created_after = query.get("CreatedAfter")
        updated_after = query.get("LastUpdatedAfter")
        next_token = query.get("NextToken")
        offset = 0
        if next_token:
            entry = amazon.next_tokens.get(next_token)
            if entry is None or entry[0] != "orders":
                return invalid_input(["Invalid NextToken."])
            _, offset, key = entry
            created_after = created_after or key
        if not created_after and not updated_after:
            return invalid_input(["Either CreatedAfter or LastUpdatedAfter must be provided."])
        if created_after and updated_after:
            return invalid_input(["LastUpdatedAfter cannot be set when CreatedAfter is set."])
        since = parse_iso(created_after or updated_after or "")
        if since is None:
            return invalid_input(["CreatedAfter/LastUpdatedAfter must be in ISO 8601 format."])
        page_size = _page_size(query.get("MaxResultsPerPage"), amazon.orders_page_size)
        if page_size is None:
            return invalid_input(["MaxResultsPerPage must be between 1 and 100."])
        page_size = min(page_size, amazon.orders_page_size)
        statuses = set(csv_values(request, "OrderStatuses"))
        matching = [
            o
            for o in sorted(amazon.orders, key=lambda o: (o.purchase_date, o.order_id))
            if o.marketplace_id in marketplaces
            and o.purchase_date >= since
            and (not statuses or o.status in statuses)
        ]
        page = matching[offset : offset + page_size]
        payload: dict[str, Any] = {
            "Orders": [order_json(o) for o in page],
            "CreatedBefore": iso(datetime.now(UTC) - timedelta(minutes=2)),
        }
        if offset + page_size < len(matching):
            payload["NextToken"] = _new_next_token(
                amazon, "orders", offset + page_size, created_after or updated_after or ""
            )
        return json_response({"payload": payload}, headers={"x-amzn-RateLimit-Limit": "0.0167"})

    @get("/orders/v0/orders/{order_id:str}/orderItems")
    async def get_order_items(
        request: Request[Any, Any, Any], order_id: FromPath[str]
    ) -> Response[bytes]:
        amazon.requests.append(f"GET orderItems {order_id}")
        refusal = call_refusal(state, ORDERS_SPEC, ORDER_ITEMS_PATH, "get", request)
        if refusal is not None:
            return refusal
        order = next((o for o in amazon.orders if o.order_id == order_id), None)
        if order is None:
            return sp_error(404, "NotFound", f"Order {order_id} was not found.")
        offset = 0
        next_token = request.query_params.get("NextToken")
        if next_token:
            entry = amazon.next_tokens.get(next_token)
            if entry is None or entry[0] != "items" or entry[2] != order_id:
                return invalid_input(["Invalid NextToken."])
            offset = entry[1]
        size = amazon.order_items_page_size
        payload: dict[str, Any] = {
            "AmazonOrderId": order.order_id,
            "OrderItems": [order_item_json(order, i) for i in order.items[offset : offset + size]],
        }
        if offset + size < len(order.items):
            payload["NextToken"] = _new_next_token(amazon, "items", offset + size, order_id)
        return json_response({"payload": payload}, headers={"x-amzn-RateLimit-Limit": "0.5"})

    return [get_orders, get_order_items]
