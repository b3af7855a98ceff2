"""The docs' "required to publish" rules for an offer and its inventory item."""

from __future__ import annotations

from typing import Any

from sandbox.ebay.state import EbayState
from sandbox.ebay.values import money


def publish_problems(state: EbayState, offer: dict[str, Any]) -> list[tuple[int, str]]:
    """The docs' "required to publish" rules the schema cannot express."""
    problems: list[tuple[int, str]] = []
    item = state.inventory_items.get(offer["sku"])
    if item is None:
        return [(25702, f"{offer['sku']} could not be found or is not available in the system.")]
    product = item.get("product") or {}
    if not product.get("title"):
        problems.append((25016, "The title value is invalid. A title is required to publish."))
    if not (product.get("description") or offer.get("listingDescription")):
        problems.append(
            (25016, "The description value is invalid. A description is required to publish.")
        )
    if not item.get("condition"):
        problems.append((25021, "Invalid item condition information. A condition is required."))
    ship = ((item.get("availability") or {}).get("shipToLocationAvailability") or {}).get(
        "quantity"
    )
    quantity = offer.get("availableQuantity", ship)
    if not isinstance(ship, int) or ship < 1 or not isinstance(quantity, int) or quantity < 1:
        problems.append(
            (
                25004,
                "The eBay listing associated with the inventory item, or the unpublished offer has "
                "an invalid quantity. availability.shipToLocationAvailability.quantity and "
                "availableQuantity must be at least 1.",
            )
        )
    price = ((offer.get("pricingSummary") or {}).get("price")) or {}
    amount = money(price.get("value"))
    if amount is None or amount <= 0 or not price.get("currency"):
        problems.append(
            (
                25003,
                "The eBay listing associated with the inventory item, or the unpublished offer has "
                "an invalid price. pricingSummary.price value and currency are required.",
            )
        )
    if not str(offer.get("categoryId") or "").isdigit():
        problems.append(
            (
                25005,
                "The eBay listing associated with the inventory item, or the unpublished offer has "
                "an invalid category ID.",
            )
        )
    if offer.get("format") == "FIXED_PRICE" and offer.get("listingDuration") not in (None, "GTC"):
        problems.append((25016, "The listingDuration value is invalid. Fixed price needs GTC."))
    policies = offer.get("listingPolicies") or {}
    for kind, error_id in (("fulfillment", 25007), ("payment", 25008), ("return", 25009)):
        policy_id = policies.get(f"{kind}PolicyId")
        if not policy_id:
            problems.append(
                (
                    error_id,
                    "The eBay listing associated with the inventory item, or the unpublished "
                    f"offer has invalid data in the associated {kind.capitalize()} policy. "
                    f"listingPolicies.{kind}PolicyId is required.",
                )
            )
            continue
        policy = state.policies[kind].get(str(policy_id))
        if policy is None or policy.get("marketplaceId") != offer.get("marketplaceId"):
            problems.append(
                (25035, f"The specified policy is not found for the market place: {kind}")
            )
    key = offer.get("merchantLocationKey")
    if not key or key not in state.locations:
        problems.append((25012, "Invalid inventory location. merchantLocationKey is required."))
    return problems
