"""Listing attribute checks (a Product Type Definitions stand-in), JSON Patch on attributes,
and the price and quantity a listing's attributes give."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, Final

from sandbox.amazon.state import AmazonListing

# Product Type Definitions stand-in: attributes required per `requirements` value.
REQUIRED_ATTRIBUTES: Final = {
    "LISTING": ("item_name", "condition_type", "purchasable_offer", "fulfillment_availability"),
    "LISTING_OFFER_ONLY": ("condition_type", "purchasable_offer", "fulfillment_availability"),
    "LISTING_PRODUCT_ONLY": ("item_name",),
}
CONDITION_TYPES: Final = frozenset(
    {
        "new_new",
        "new_open_box",
        "new_oem",
        "refurbished_refurbished",
        "used_like_new",
        "used_very_good",
        "used_good",
        "used_acceptable",
        "collectible_like_new",
        "collectible_very_good",
        "collectible_good",
        "collectible_acceptable",
        "club_club",
    }
)


def listing_issue(
    code: str, message: str, attribute: str, category: str, marketplace: str
) -> dict[str, Any]:
    """One ERROR issue in the Listings Items `Issue` shape."""
    return {
        "code": code,
        "message": message,
        "severity": "ERROR",
        "attributeNames": [attribute],
        "categories": [category],
        "marketplaceIds": [marketplace],
    }


def attribute_issues(
    requirements: str, attributes: dict[str, Any], marketplace: str
) -> list[dict[str, Any]]:
    """Issues Amazon would report for this submission (missing or malformed attributes)."""
    issues: list[dict[str, Any]] = []
    for name in REQUIRED_ATTRIBUTES.get(requirements, REQUIRED_ATTRIBUTES["LISTING"]):
        if not attributes.get(name):
            issues.append(
                listing_issue(
                    "90220",
                    f"'{name}' is required but not supplied.",
                    name,
                    "MISSING_PRICE" if name == "purchasable_offer" else "MISSING_ATTRIBUTE",
                    marketplace,
                )
            )
    for name, value in attributes.items():
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            issues.append(
                listing_issue(
                    "4000001",
                    f"The value provided for '{name}' must be an array of objects.",
                    name,
                    "INVALID_ATTRIBUTE",
                    marketplace,
                )
            )
    if issues:
        return issues
    for problem, name, category in _value_problems(attributes, marketplace):
        issues.append(listing_issue("4000001", problem, name, category, marketplace))
    return issues


def _value_problems(attributes: dict[str, Any], marketplace: str) -> list[tuple[str, str, str]]:
    problems: list[tuple[str, str, str]] = []
    for entry in attributes.get("condition_type", []):
        if entry.get("value") not in CONDITION_TYPES:
            problems.append(
                (
                    f"'{entry.get('value')}' is not a valid condition_type.",
                    "condition_type",
                    "INVALID_ATTRIBUTE",
                )
            )
    for entry in attributes.get("item_name", []):
        if not isinstance(entry.get("value"), str) or not entry["value"].strip():
            problems.append(
                ("'item_name' must be a non-empty string.", "item_name", "INVALID_ATTRIBUTE")
            )
    for entry in attributes.get("purchasable_offer", []):
        problems.extend(_offer_problems(entry, marketplace))
    for entry in attributes.get("fulfillment_availability", []):
        if not isinstance(entry.get("fulfillment_channel_code"), str):
            problems.append(
                (
                    "'fulfillment_channel_code' is required.",
                    "fulfillment_availability",
                    "MISSING_ATTRIBUTE",
                )
            )
        quantity = entry.get("quantity")
        if quantity is not None and (
            not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0
        ):
            problems.append(
                (
                    "'quantity' must be an integer >= 0.",
                    "fulfillment_availability",
                    "INVALID_ATTRIBUTE",
                )
            )
    return problems


def _offer_problems(entry: dict[str, Any], marketplace: str) -> list[tuple[str, str, str]]:
    name = "purchasable_offer"
    problems: list[tuple[str, str, str]] = []
    if entry.get("marketplace_id") != marketplace:
        problems.append(
            (f"purchasable_offer marketplace_id must be '{marketplace}'.", name, "INVALID_PRICE")
        )
    currency = entry.get("currency")
    if not isinstance(currency, str) or len(currency) != 3:
        problems.append(
            ("purchasable_offer currency must be an ISO 4217 code.", name, "INVALID_PRICE")
        )
    price = _offer_price(entry)
    if price is None or price <= 0:
        problems.append(
            (
                "purchasable_offer our_price[0].schedule[0].value_with_tax must be a number > 0.",
                name,
                "INVALID_PRICE",
            )
        )
    return problems


def _offer_price(entry: dict[str, Any]) -> Decimal | None:
    try:
        value = entry["our_price"][0]["schedule"][0]["value_with_tax"]
    except (KeyError, IndexError, TypeError):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def apply_patches(
    attributes: dict[str, Any], patches: list[dict[str, Any]], marketplace: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Apply JSON Patch operations to top-level attributes (all Amazon allows)."""
    result = dict(attributes)
    issues: list[dict[str, Any]] = []
    for operation in patches:
        path = str(operation.get("path", ""))
        parts = path.split("/")
        if len(parts) != 3 or parts[0] != "" or parts[1] != "attributes" or not parts[2]:
            issues.append(
                listing_issue(
                    "4000003",
                    f"Patch path '{path}' must name one top-level attribute: /attributes/<name>.",
                    path,
                    "INVALID_ATTRIBUTE",
                    marketplace,
                )
            )
            continue
        name = parts[2]
        if operation.get("op") == "delete":
            result.pop(name, None)
        elif "value" not in operation:
            issues.append(
                listing_issue(
                    "4000003",
                    f"Patch for '{name}' has no value.",
                    name,
                    "MISSING_ATTRIBUTE",
                    marketplace,
                )
            )
        else:
            result[name] = operation["value"]
    return result, issues


def listing_price(listing: AmazonListing) -> tuple[Decimal | None, str | None]:
    """(price, currency) of the offer for the listing's marketplace."""
    for entry in listing.attributes.get("purchasable_offer", []):
        if entry.get("marketplace_id") == listing.marketplace_id:
            return _offer_price(entry), entry.get("currency")
    return None, None


def listing_quantity(listing: AmazonListing) -> int | None:
    """Total quantity across fulfillment channels, or None when none was given."""
    quantities = [
        e.get("quantity")
        for e in listing.attributes.get("fulfillment_availability", [])
        if isinstance(e.get("quantity"), int)
    ]
    return sum(quantities) if quantities else None
