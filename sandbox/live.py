"""GET /_sandbox/live: what a shopper could see right now, across the three stand-ins.

The execution tests check a campaign's end against the marketplaces' own state, not against
what channel-router believes: every store price, every listing with whether it is live, and
how many times each SKU's listing was created (a retried create that made a second listing
shows as 2).

Live means: on eBay an offer that is PUBLISHED (its listing ACTIVE or OUT_OF_STOCK, which new
stock revives); on Amazon a listings item that exists without an issue (an ACCEPTED
submission is not buyable yet but becomes so by itself; a rejected or suppressed one does not).
"""

from __future__ import annotations

from typing import Any

from sandbox.amazon.attributes import listing_price, listing_quantity
from sandbox.state import SandboxState

_VARIANT_GID = "gid://shopify/ProductVariant/"


def _money(value: Any) -> str | None:
    return None if value is None else f"{value:.2f}"


def _ebay(state: SandboxState) -> list[dict[str, Any]]:
    rows = []
    for offer in state.ebay.offers.values():
        listing = offer.get("listing") or {}
        price = (offer.get("pricingSummary") or {}).get("price") or {}
        rows.append(
            {
                "api": "ebay",
                "sku": offer["sku"],
                "offer_id": offer["offerId"],
                "listing_id": listing.get("listingId"),
                "status": listing.get("listingStatus") or offer["status"],
                "live": offer["status"] == "PUBLISHED",
                "price": price.get("value"),
                "quantity": offer.get("availableQuantity"),
            }
        )
    return rows


def _amazon(state: SandboxState) -> list[dict[str, Any]]:
    rows = []
    for listing in state.amazon.listings.values():
        price, _ = listing_price(listing)
        rows.append(
            {
                "api": "amazon",
                "sku": listing.sku,
                "seller_id": listing.seller_id,
                "status": "ISSUES" if listing.issues else "PRESENT",
                "processed": listing.processed,
                "live": not listing.issues,
                "price": _money(price),
                "quantity": listing_quantity(listing),
            }
        )
    return rows


def live_view(state: SandboxState) -> dict[str, Any]:
    """Store prices by numeric variant id, every listing, and creations per SKU."""
    return {
        "store_prices": {
            variant.variant_id.removeprefix(_VARIANT_GID): _money(variant.price)
            for variant in state.shopify.variants.values()
        },
        "listings": _ebay(state) + _amazon(state),
        "created": {
            "ebay_offers": dict(state.ebay.offers_created),
            "ebay_listings": dict(state.ebay.listings_created),
            "amazon_listings": dict(state.amazon.listings_created),
        },
    }
