"""Drift: what the store and the marketplaces show, against what a campaign believes (issue 11,
item 4). Pure: the checks take what was read and return what differs; `execution.drift_check`
reads and records. Nothing is ever corrected here: a drift is shown, not overwritten.

Kinds (the `kind` label of `channel_router_drift_total`):
- `listing_quantity`: a listing offers another quantity than the units left of its allocation
  (changed by hand on the marketplace; more than held is an oversell waiting to happen).
- `listing_price`: a listing's price is not the clearance price.
- `listing_ended`: a listing we believe live is ended, gone or suppressed on its marketplace.
- `store_price`: the store price is not the clearance price during the campaign.
- `reserved_released`: the store holds fewer reserved units at the location than our campaigns
  hold there (someone released them: they are buyable on the store again).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final, Literal

import msgspec

from connectors.base import InventoryLevel, ListingState

DriftKind = Literal[
    "listing_quantity", "listing_price", "listing_ended", "store_price", "reserved_released"
]
DRIFT_KINDS: Final[tuple[DriftKind, ...]] = (
    "listing_quantity",
    "listing_price",
    "listing_ended",
    "store_price",
    "reserved_released",
)


class Drift(msgspec.Struct, frozen=True):
    """One difference: what we expected, what is there, in words a merchant reads."""

    kind: DriftKind
    channel: str | None
    expected: str
    actual: str
    detail: str

    @property
    def text(self) -> str:
        """The timeline line: the same drift seen again gives the same text (not recorded twice)."""
        return f"expected {self.expected}, found {self.actual}: {self.detail}"


def listing_drift(
    channel: str,
    seen: ListingState,
    *,
    listed_quantity: int,
    units_sold: int,
    clearance_price: Decimal,
) -> list[Drift]:
    """A live listing (as we believe) against the marketplace's view of it."""
    if seen.status in ("ended", "rejected"):
        why = seen.detail or seen.status
        return [Drift("listing_ended", channel, "live", seen.status, f"ended outside us ({why})")]
    found: list[Drift] = []
    sold = max(units_sold, seen.units_sold)
    left = max(0, listed_quantity - sold)
    if seen.quantity_available is not None and seen.quantity_available != left:
        more = seen.quantity_available > left
        found.append(
            Drift(
                "listing_quantity",
                channel,
                str(left),
                str(seen.quantity_available),
                "more units offered than are held for it: they may sell twice"
                if more
                else "fewer units offered than are held for it",
            )
        )
    if seen.price is not None and seen.price != clearance_price:
        found.append(
            Drift(
                "listing_price",
                channel,
                format(clearance_price, "f"),
                format(seen.price, "f"),
                "the listing's price was changed outside us",
            )
        )
    return found


def store_price_drift(platform: str, clearance_price: Decimal, now: Decimal) -> list[Drift]:
    """The store price during the campaign (the end leaves a hand-set price alone)."""
    if now == clearance_price:
        return []
    return [
        Drift(
            "store_price",
            platform,
            format(clearance_price, "f"),
            format(now, "f"),
            "the store price was changed during the campaign; the end will leave it as it is",
        )
    ]


def reserved_drift(platform: str, held_here: int, level: InventoryLevel) -> list[Drift]:
    """Reserved units at a location against the units our open campaigns hold there."""
    if level.reserved >= held_here:
        return []
    return [
        Drift(
            "reserved_released",
            platform,
            f"at least {held_here} reserved",
            f"{level.reserved} reserved",
            f"{held_here - level.reserved} held unit(s) at "
            f"{level.location_name or level.location_id}"
            " were released by someone else and can be bought on the store again",
        )
    ]
