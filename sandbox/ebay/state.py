"""What the eBay stand-in remembers for its one seller: policies, locations, items, offers,
orders and the refresh tokens it issued."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any, Final

POLICY_KINDS: Final = ("fulfillment", "payment", "return")


@dataclass
class EbayState:
    """Everything the eBay stand-in holds for its one seller; reset by replacing it."""

    policies: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {kind: {} for kind in POLICY_KINDS}
    )
    locations: dict[str, dict[str, Any]] = field(default_factory=dict)
    inventory_items: dict[str, dict[str, Any]] = field(default_factory=dict)
    item_languages: dict[str, str] = field(default_factory=dict)  # sku -> Content-Language sent
    offers: dict[str, dict[str, Any]] = field(default_factory=dict)
    orders: list[dict[str, Any]] = field(default_factory=list)
    refresh_tokens: set[str] = field(default_factory=set)
    token_grants: list[str] = field(default_factory=list)
    # How many offers were created, and how many listings published anew, per SKU: a retried
    # create that made a second one shows here (GET /_sandbox/live).
    offers_created: dict[str, int] = field(default_factory=dict)
    listings_created: dict[str, int] = field(default_factory=dict)
    counter: int = 0

    def new_id(self) -> str:
        """Numeric ids like eBay's (offers, listings, policies), unique within this state."""
        self.counter += 1
        return str(5_000_000_000 + self.counter)

    def new_order_id(self) -> str:
        """Order ids shaped like eBay's ("12-34567-89012")."""
        self.counter += 1
        return f"{10 + self.counter % 90:02d}-{self.counter:05d}-{secrets.randbelow(100_000):05d}"

    def reset(self) -> None:
        """Forget everything, in place. Ids keep counting: like eBay's, they are never reused, so
        a late request from before the reset cannot touch a new object with the same id."""
        counter = self.counter
        self.__dict__.update(EbayState().__dict__)
        self.counter = counter

    def summary(self) -> dict[str, Any]:
        """Counts for GET /_sandbox/state."""
        return {
            "policies": {kind: len(items) for kind, items in self.policies.items()},
            "locations": len(self.locations),
            "inventory_items": len(self.inventory_items),
            "offers": len(self.offers),
            "orders": len(self.orders),
            "token_grants": list(self.token_grants),
        }
