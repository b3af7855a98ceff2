"""Orders made through POST /_sandbox/amazon/orders, checked and built from its JSON body."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox.amazon.state import DEFAULT_MARKETPLACE, AmazonOrder, AmazonOrderItem, AmazonState
from sandbox.timestamps import parse_iso


def order_from_request(
    amazon: AmazonState, data: dict[str, Any]
) -> tuple[list[str], AmazonOrder | None]:
    """An order from `{"sku", "quantity", "price"}` or `{"items": [...]}` (price = unit price)."""
    problems: list[str] = []
    raw_items = data.get("items")
    lines: list[Any] = raw_items if isinstance(raw_items, list) else [data]
    currency = str(data.get("currency") or "USD")
    amazon.order_counter += 1
    n = amazon.order_counter
    order_id = f"113-{n:07d}-{secrets.randbelow(10**7):07d}"
    items: list[AmazonOrderItem] = []
    for index, line in enumerate(lines):
        if not isinstance(line, dict):
            problems.append(f"items[{index}] must be an object")
            continue
        sku = line.get("sku")
        quantity = line.get("quantity", 1)
        try:
            unit_price = Decimal(str(line.get("price")))
        except InvalidOperation:
            unit_price = Decimal(-1)
        if not isinstance(sku, str) or not sku:
            problems.append(f"items[{index}].sku is required")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
            problems.append(f"items[{index}].quantity must be an integer >= 1")
        if not unit_price.is_finite() or unit_price < 0:
            problems.append(f"items[{index}].price must be a decimal >= 0")
        if problems:
            continue
        items.append(
            AmazonOrderItem(
                order_item_id=f"{n:07d}{index:04d}{secrets.randbelow(1000):03d}",
                sku=str(sku),
                quantity=int(quantity),
                item_price=(unit_price * quantity).quantize(Decimal("0.01")),
                currency=str(line.get("currency") or currency),
                title=str(line.get("title") or ""),
            )
        )
    purchase_date = datetime.now(UTC)
    if data.get("purchase_date"):
        parsed = parse_iso(str(data["purchase_date"]))
        if parsed is None:
            problems.append("purchase_date must be ISO 8601")
        else:
            purchase_date = parsed
    status = str(data.get("status") or "Unshipped")
    if status not in (
        "Pending",
        "Unshipped",
        "PartiallyShipped",
        "Shipped",
        "Canceled",
        "Unfulfillable",
        "InvoiceUnconfirmed",
        "PendingAvailability",
    ):
        problems.append(f"status {status!r} is not an Orders v0 OrderStatus")
    if not items and not problems:
        problems.append("an order needs at least one item")
    if problems:
        return problems, None
    return [], AmazonOrder(
        order_id=order_id,
        marketplace_id=str(data.get("marketplace_id") or DEFAULT_MARKETPLACE),
        purchase_date=purchase_date,
        status=status,
        items=items,
    )
