"""Inventory API: inventory locations and inventory items (createOrReplace and get)."""

from __future__ import annotations

from typing import Any, Final

from litestar import Request, Response, get, post, put
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

from sandbox.ebay.checks import checked_body, write_refusal
from sandbox.ebay.errors import INVENTORY_DOMAIN, ebay_error
from sandbox.ebay.oauth import check_token
from sandbox.ebay.state import EbayState
from sandbox.state import SandboxState

INVENTORY: Final = "/sell/inventory/v1"
MAX_SKU: Final = 50


def inventory_routes(state: SandboxState) -> list[HTTPRouteHandler]:
    """/sell/inventory/v1/location/{key} and /sell/inventory/v1/inventory_item/{sku}."""

    def ebay() -> EbayState:
        return state.ebay

    # --- Inventory API: location ---

    @get(f"{INVENTORY}/location/{{key:str}}")
    async def get_location(key: FromPath[str], request: Request[Any, Any, Any]) -> Response[Any]:
        denied = check_token(state, request)
        if denied:
            return denied
        location = ebay().locations.get(key)
        if location is None:
            return ebay_error(
                404,
                25805,
                "merchantLocationKey Not Found.",
                parameters=[{"name": "fieldName", "value": "merchantLocationKey"}],
            )
        return Response(content=location, status_code=200)

    @post(f"{INVENTORY}/location/{{key:str}}")
    async def create_location(key: FromPath[str], request: Request[Any, Any, Any]) -> Response[Any]:
        denied = check_token(state, request)
        if denied:
            return denied
        body, bad = await checked_body(
            state,
            request,
            "createInventoryLocation",
            (25801, INVENTORY_DOMAIN),
            lambda b: _location_rules(key, b),
        )
        if bad:
            return bad
        store = ebay()
        if key in store.locations:
            return ebay_error(
                409,
                25803,
                "merchantLocationKey already exists.",
                parameters=[{"name": "fieldName", "value": "merchantLocationKey"}],
            )
        store.locations[key] = {
            **body,
            "merchantLocationKey": key,
            "merchantLocationStatus": body.get("merchantLocationStatus", "ENABLED"),
        }
        return Response(content=None, status_code=204)

    # --- Inventory API: inventory item ---

    @put(f"{INVENTORY}/inventory_item/{{sku:str}}")
    async def put_item(sku: FromPath[str], request: Request[Any, Any, Any]) -> Response[Any]:
        refusal = write_refusal(state, request)
        if refusal:
            return refusal
        if len(sku) > MAX_SKU:
            return ebay_error(
                400,
                25707,
                "This is an invalid value for a SKU. Only alphanumeric characters can be used for "
                "SKUs, and their length must not exceed 50 characters.",
            )
        body, bad = await checked_body(
            state, request, "createOrReplaceInventoryItem", (25709, INVENTORY_DOMAIN)
        )
        if bad:
            return bad
        store = ebay()
        # createOrReplaceInventoryItem replaces the whole record.
        store.inventory_items[sku] = {**body, "sku": sku}
        store.item_languages[sku] = request.headers.get("content-language", "")
        return Response(content=None, status_code=204)

    @get(f"{INVENTORY}/inventory_item/{{sku:str}}")
    async def get_item(sku: FromPath[str], request: Request[Any, Any, Any]) -> Response[Any]:
        denied = check_token(state, request)
        if denied:
            return denied
        store = ebay()
        item = store.inventory_items.get(sku)
        if item is None:
            return ebay_error(
                404, 25702, f"SKU {sku} could not be found or is not available in the system."
            )
        return Response(
            content={**item, "locale": store.item_languages.get(sku, "")}, status_code=200
        )

    return [get_location, create_location, put_item, get_item]


def _location_rules(key: str, body: dict[str, Any]) -> list[str]:
    """A warehouse needs postalCode + country, or city + stateOrProvince + country."""
    problems: list[str] = []
    if len(key) > 36:
        problems.append("Invalid merchantLocationKey. Max length is 36.")
    address = ((body.get("location") or {}).get("address")) or {}
    if not address:
        return [*problems, "Missing field location.address."]
    has_postal = bool(address.get("postalCode")) and bool(address.get("country"))
    has_city = all(address.get(f) for f in ("city", "stateOrProvince", "country"))
    if not (has_postal or has_city):
        problems.append(
            "Missing field location.address: give postalCode and country, or city, "
            "stateOrProvince and country."
        )
    return problems
