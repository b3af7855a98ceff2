"""/_sandbox/ebay/offers/{offerId}/edit and .../end: changes made outside channel-router (the
seller in Seller Hub), so tests can make a listing drift from what we believe."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

from sandbox.control_body import ListingEdit, decode_control_body
from sandbox.ebay.state import EbayState
from sandbox.state import SandboxState


def _bad(detail: str, status: int = 400) -> Response[Any]:
    return Response({"error": "invalid_request", "detail": detail}, status_code=status)


def drift_routes(state: SandboxState) -> list[HTTPRouteHandler]:
    """Hand edits and hand ends of a published offer."""

    def ebay() -> EbayState:
        return state.ebay

    @post("/_sandbox/ebay/offers/{offer_id:str}/edit", status_code=200)
    async def edit(request: Request[Any, Any, Any], offer_id: FromPath[str]) -> Response[Any]:
        body = await decode_control_body(request, ListingEdit)
        if isinstance(body, Response):
            return body
        offer = ebay().offers.get(offer_id)
        if offer is None:
            return _bad(f"no offer {offer_id}", 404)
        problem = body.problem()
        if problem is not None:
            return _bad(problem)
        if body.quantity is not None:
            offer["availableQuantity"] = body.quantity
            item = ebay().inventory_items.get(offer["sku"]) or {}
            ship = (item.get("availability") or {}).get("shipToLocationAvailability")
            if isinstance(ship, dict):
                ship["quantity"] = body.quantity
        if body.price is not None:
            price = offer.setdefault("pricingSummary", {}).setdefault("price", {})
            price["value"] = f"{body.price:.2f}"
        return Response(offer, status_code=200)

    @post("/_sandbox/ebay/offers/{offer_id:str}/end", status_code=200)
    async def end(offer_id: FromPath[str]) -> Response[Any]:
        offer = ebay().offers.get(offer_id)
        if offer is None:
            return _bad(f"no offer {offer_id}", 404)
        if offer.get("status") != "PUBLISHED":
            return _bad(f"offer {offer_id} is not published", 409)
        offer["status"] = "UNPUBLISHED"
        listing = offer.get("listing") or {}
        listing["listingStatus"] = "ENDED"
        offer["listing"] = listing
        return Response(offer, status_code=200)

    return [edit, end]
