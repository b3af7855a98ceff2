"""Orders made through POST /_sandbox/ebay/orders, shaped like getOrders' `Order`, and the sale
they record on the SKU's offer and inventory item."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from sandbox.ebay.state import EbayState
from sandbox.ebay.values import iso

SELLER: Final = "sandbox_seller"


def make_order(
    state: EbayState,
    sku: str,
    quantity: int,
    unit_price: Decimal,
    currency: str,
    created: datetime,
    shipping: Decimal,
) -> dict[str, Any]:
    """One order for `quantity` units of sku, in getOrders' `Order` shape."""
    cost = unit_price * quantity
    fee = (cost * Decimal("0.1325")).quantize(Decimal("0.01"))
    listing_id = None
    title = sku
    for offer in state.offers.values():
        if offer["sku"] == sku and offer.get("listing"):
            listing_id = offer["listing"].get("listingId")
            break
    item = state.inventory_items.get(sku)
    if item:
        title = (item.get("product") or {}).get("title") or sku

    def amount(value: Decimal) -> dict[str, str]:
        return {"value": f"{value:.2f}", "currency": currency}

    order_id = state.new_order_id()
    return {
        "orderId": order_id,
        "legacyOrderId": order_id,
        "creationDate": iso(created),
        "lastModifiedDate": iso(created),
        "orderFulfillmentStatus": "NOT_STARTED",
        "orderPaymentStatus": "PAID",
        "sellerId": SELLER,
        "buyer": {"username": f"buyer{state.counter}"},
        "pricingSummary": {
            "priceSubtotal": amount(cost),
            "deliveryCost": amount(shipping),
            "total": amount(cost + shipping),
        },
        "cancelStatus": {"cancelState": "NONE_REQUESTED", "cancelRequests": []},
        "paymentSummary": {"totalDueSeller": amount(cost + shipping - fee)},
        "totalMarketplaceFee": amount(fee),
        "totalFeeBasisAmount": amount(cost + shipping),
        "salesRecordReference": str(state.counter),
        "lineItems": [
            {
                "lineItemId": state.new_id(),
                "legacyItemId": listing_id or "",
                "sku": sku,
                "title": title,
                "quantity": quantity,
                "lineItemCost": amount(cost),
                "total": amount(cost + shipping),
                "deliveryCost": {"shippingCost": amount(shipping)},
                "appliedPromotions": [],
                "taxes": [],
                "refunds": [],
                "soldFormat": "FIXED_PRICE",
                "listingMarketplaceId": "EBAY_US",
                "purchaseMarketplaceId": "EBAY_US",
                "lineItemFulfillmentStatus": "NOT_STARTED",
            }
        ],
    }


def record_sale(state: EbayState, sku: str, quantity: int) -> None:
    """Count the units as sold on the SKU's published offer and take them off availability."""
    for offer in state.offers.values():
        if offer["sku"] == sku and offer.get("status") == "PUBLISHED" and offer.get("listing"):
            listing = offer["listing"]
            listing["soldQuantity"] = int(listing.get("soldQuantity", 0)) + quantity
            left = max(0, int(offer.get("availableQuantity") or 0) - quantity)
            offer["availableQuantity"] = left
            if left == 0:
                listing["listingStatus"] = "OUT_OF_STOCK"
    item = state.inventory_items.get(sku)
    if item:
        ship = (item.get("availability") or {}).get("shipToLocationAvailability") or {}
        if isinstance(ship.get("quantity"), int):
            ship["quantity"] = max(0, ship["quantity"] - quantity)
