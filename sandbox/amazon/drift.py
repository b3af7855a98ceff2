"""/_sandbox/amazon/listings/{sellerId}/{sku}/edit and .../end: changes made outside
channel-router (the seller in Seller Central, or Amazon suppressing the listing), so tests can make
a listing drift from what we believe."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

from sandbox.amazon.attributes import listing_issue
from sandbox.amazon.state import AmazonListing, AmazonState
from sandbox.amazon.wire import json_response
from sandbox.control_body import ListingEdit, decode_control_body
from sandbox.state import SandboxState


class ListingEnd(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Body of POST .../end: deleted by the seller, or (with `suppress`) suppressed by Amazon
    with that message as an ERROR issue."""

    suppress: str | None = None


def _bad(detail: str, status: int = 400) -> Response[bytes]:
    return json_response({"errors": [detail]}, status)


def drift_routes(state: SandboxState) -> list[HTTPRouteHandler]:
    """Hand edits, deletions and suppressions of a listings item."""

    def find(seller_id: str, sku: str) -> AmazonListing | None:
        amazon: AmazonState = state.amazon
        return amazon.listings.get((seller_id, sku))

    @post("/_sandbox/amazon/listings/{seller_id:str}/{sku:str}/edit", status_code=200)
    async def edit(
        request: Request[Any, Any, Any], seller_id: FromPath[str], sku: FromPath[str]
    ) -> Response[Any]:
        body = await decode_control_body(request, ListingEdit)
        if isinstance(body, Response):
            return body
        listing = find(seller_id, sku)
        if listing is None:
            return _bad(f"no listing {sku}", 404)
        problem = body.problem()
        if problem is not None:
            return _bad(problem)
        attributes = dict(listing.attributes)
        if body.quantity is not None:
            attributes["fulfillment_availability"] = [
                {"fulfillment_channel_code": "DEFAULT", "quantity": body.quantity}
            ]
        if body.price is not None:
            offers = [dict(o) for o in attributes.get("purchasable_offer", [])]
            for offer in offers:
                if offer.get("marketplace_id") == listing.marketplace_id:
                    offer["our_price"] = [{"schedule": [{"value_with_tax": body.price}]}]
            attributes["purchasable_offer"] = offers
        listing.attributes = attributes
        return json_response({"sku": sku, "attributes": attributes})

    @post("/_sandbox/amazon/listings/{seller_id:str}/{sku:str}/end", status_code=200)
    async def end(
        request: Request[Any, Any, Any], seller_id: FromPath[str], sku: FromPath[str]
    ) -> Response[Any]:
        body = await decode_control_body(request, ListingEnd)
        if isinstance(body, Response):
            return body
        listing = find(seller_id, sku)
        if listing is None:
            return _bad(f"no listing {sku}", 404)
        if body.suppress:
            listing.issues = [
                listing_issue(
                    "18027",
                    body.suppress,
                    "item_name",
                    "QUALIFICATION_REQUIRED",
                    listing.marketplace_id,
                )
            ]
            return json_response({"sku": sku, "suppressed": True})
        del state.amazon.listings[(seller_id, sku)]
        return json_response({"sku": sku, "deleted": True})

    return [edit, end]
