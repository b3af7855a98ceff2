"""What the Amazon stand-in remembers: listings items, orders, LWA tokens and its settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

DEFAULT_MARKETPLACE: Final = "ATVPDKIKX0DER"


@dataclass
class AmazonListing:
    """One listings item, keyed by seller + sku (as Amazon keys them)."""

    seller_id: str
    sku: str
    marketplace_id: str
    product_type: str
    requirements: str
    attributes: dict[str, Any]
    asin: str
    created_at: datetime
    updated_at: datetime
    processed: bool = False
    issues: list[dict[str, Any]] = field(default_factory=list)
    gets_since_submission: int = 0
    submissions: int = 1


@dataclass
class AmazonOrderItem:
    """An order line; `item_price` is the total for the quantity, as ItemPrice is in Orders v0."""

    order_item_id: str
    sku: str
    quantity: int
    item_price: Decimal
    currency: str
    title: str = ""
    asin: str = "B000SANDBOX"


@dataclass
class AmazonOrder:
    """An order created through POST /_sandbox/amazon/orders."""

    order_id: str
    marketplace_id: str
    purchase_date: datetime
    status: str
    items: list[AmazonOrderItem]


@dataclass
class AmazonState:
    """Everything the Amazon stand-in holds in memory."""

    listings: dict[tuple[str, str], AmazonListing] = field(default_factory=dict)
    orders: list[AmazonOrder] = field(default_factory=list)
    refresh_tokens: set[str] = field(default_factory=set)
    used_codes: set[str] = field(default_factory=set)
    next_tokens: dict[str, tuple[str, int, str]] = field(default_factory=dict)
    process_after_gets: int | None = 1
    orders_page_size: int = 100
    order_items_page_size: int = 100
    token_requests: int = 0
    token_grants: dict[str, int] = field(default_factory=dict)
    token_rejections: int = 0
    requests: list[str] = field(default_factory=list)
    order_counter: int = 0
    # Listings items created per SKU (a PUT that found none); a replace does not count.
    listings_created: dict[str, int] = field(default_factory=dict)

    def reset(self) -> None:
        """Forget everything, in place (POST /_sandbox/reset; routers keep this object)."""
        fresh = AmazonState()
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(fresh, name))

    def summary(self) -> dict[str, Any]:
        """What GET /_sandbox/state and GET /_sandbox/amazon/state show."""
        return {
            "listings": len(self.listings),
            "orders": len(self.orders),
            "token_requests": self.token_requests,
            "token_grants": dict(self.token_grants),
            "token_rejections": self.token_rejections,
            "process_after_gets": self.process_after_gets,
            "orders_page_size": self.orders_page_size,
            "order_items_page_size": self.order_items_page_size,
            "requests": list(self.requests),
        }
