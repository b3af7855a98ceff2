"""Inventory API offers: find by SKU, create, get, update, publish and withdraw."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post, put
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

from sandbox.ebay.checks import checked_body, missing, write_refusal
from sandbox.ebay.errors import INVENTORY_DOMAIN, ebay_error, publish_error
from sandbox.ebay.inventory import INVENTORY
from sandbox.ebay.oauth import check_token
from sandbox.ebay.publish_rules import publish_problems
from sandbox.ebay.state import EbayState
from sandbox.state import SandboxState


def _offer_view(offer: dict[str, Any]) -> dict[str, Any]:
    """EbayOfferDetailsWithAll as getOffer returns it."""
    return {key: value for key, value in offer.items() if not key.startswith("_")}


def _offer_or_404(state: EbayState, offer_id: str) -> dict[str, Any] | Response[Any]:
    offer = state.offers.get(offer_id)
    if offer is None:
        return ebay_error(
            404,
            25713,
            f"This Offer is not available : {offer_id}.",
            parameters=[{"name": "offerId", "value": offer_id}],
        )
    return offer


def offer_routes(state: SandboxState) -> list[HTTPRouteHandler]:
    """/sell/inventory/v1/offer, .../offer/{offerId} and its publish and withdraw actions."""

    def ebay() -> EbayState:
        return state.ebay

    # --- Inventory API: offers ---

    @get(f"{INVENTORY}/offer")
    async def get_offers(request: Request[Any, Any, Any]) -> Response[Any]:
        denied = check_token(state, request)
        if denied:
            return denied
        sku = request.query_params.get("sku")
        if not sku:
            return ebay_error(
                400,
                25709,
                "Invalid value for sku. The sku query parameter is required.",
                parameters=[{"name": "fieldName", "value": "sku"}],
            )
        marketplace = request.query_params.get("marketplace_id")
        listing_format = request.query_params.get("format")
        found = [
            _offer_view(o)
            for o in ebay().offers.values()
            if o["sku"] == sku
            and (not marketplace or o["marketplaceId"] == marketplace)
            and (not listing_format or o["format"] == listing_format)
        ]
        if not found:
            # eBay answers "not available" (404, 25713) for a SKU without offers.
            return ebay_error(
                404,
                25713,
                "This Offer is not available : .",
                parameters=[{"name": "sku", "value": sku}],
            )
        return Response(
            content={
                "href": str(request.url),
                "limit": 100,
                "offers": found,
                "size": len(found),
                "total": len(found),
            },
            status_code=200,
        )

    @post(f"{INVENTORY}/offer", status_code=201)
    async def create_offer(request: Request[Any, Any, Any]) -> Response[Any]:
        refusal = write_refusal(state, request)
        if refusal:
            return refusal
        body, bad = await checked_body(
            state,
            request,
            "createOffer",
            (25709, INVENTORY_DOMAIN),
            lambda b: missing(b, "sku", "marketplaceId", "format"),
        )
        if bad:
            return bad
        store = ebay()
        if body["sku"] not in store.inventory_items:
            return ebay_error(
                400, 25702, f"{body['sku']} could not be found or is not available in the system."
            )
        if body["format"] not in ("FIXED_PRICE", "AUCTION"):
            return ebay_error(
                400,
                25709,
                "Invalid value for format.",
                parameters=[{"name": "fieldName", "value": "format"}],
            )
        for existing in store.offers.values():
            if (existing["sku"], existing["marketplaceId"], existing["format"]) == (
                body["sku"],
                body["marketplaceId"],
                body["format"],
            ):
                return ebay_error(
                    400,
                    25002,
                    "A user error has occurred. Offer entity already exists.",
                    long_message="Offer entity already exists.",
                    parameters=[{"name": "offerId", "value": existing["offerId"]}],
                )
        offer_id = store.new_id()
        store.offers[offer_id] = {**body, "offerId": offer_id, "status": "UNPUBLISHED"}
        store.offers_created[body["sku"]] = store.offers_created.get(body["sku"], 0) + 1
        return Response(content={"offerId": offer_id}, status_code=201)

    def known_offer(
        offer_id: str, request: Request[Any, Any, Any]
    ) -> dict[str, Any] | Response[Any]:
        """The offer, or eBay's refusal of the token or of an unknown offerId."""
        denied = check_token(state, request)
        if denied:
            return denied
        return _offer_or_404(ebay(), offer_id)

    @get(f"{INVENTORY}/offer/{{offer_id:str}}")
    async def get_offer(offer_id: FromPath[str], request: Request[Any, Any, Any]) -> Response[Any]:
        offer = known_offer(offer_id, request)
        if isinstance(offer, Response):
            return offer
        return Response(content=_offer_view(offer), status_code=200)

    @put(f"{INVENTORY}/offer/{{offer_id:str}}")
    async def update_offer(
        offer_id: FromPath[str], request: Request[Any, Any, Any]
    ) -> Response[Any]:
        refusal = write_refusal(state, request)
        if refusal:
            return refusal
        store = ebay()
        offer = _offer_or_404(store, offer_id)
        if isinstance(offer, Response):
            return offer
        body, bad = await checked_body(state, request, "updateOffer", (25709, INVENTORY_DOMAIN))
        if bad:
            return bad
        # updateOffer replaces the offer; the keys (sku, marketplace, format) and state stay.
        kept = {k: offer[k] for k in ("offerId", "sku", "marketplaceId", "format", "status")}
        if "listing" in offer:
            kept["listing"] = offer["listing"]
        candidate = {**body, **kept}
        if candidate["status"] == "PUBLISHED":
            # Revising a live listing must keep it publishable.
            issues = publish_problems(store, candidate)
            if issues:
                return publish_error(issues)
        listing = candidate.get("listing") or {}
        if listing.get("listingStatus") == "OUT_OF_STOCK" and candidate.get("availableQuantity"):
            listing["listingStatus"] = "ACTIVE"  # out-of-stock control: new stock revives it
        store.offers[offer_id] = candidate
        return Response(content=None, status_code=204)

    @post(f"{INVENTORY}/offer/{{offer_id:str}}/publish", status_code=200)
    async def publish_offer(
        offer_id: FromPath[str], request: Request[Any, Any, Any]
    ) -> Response[Any]:
        offer = known_offer(offer_id, request)
        if isinstance(offer, Response):
            return offer
        store = ebay()
        issues = publish_problems(store, offer)
        if issues:
            return publish_error(issues)
        listing = offer.get("listing") or {}
        if offer["status"] != "PUBLISHED" or listing.get("listingStatus") != "ACTIVE":
            listing = {
                "listingId": store.new_id(),
                "listingStatus": "ACTIVE",
                "soldQuantity": 0,
                "listingOnHold": False,
            }
            sku = offer["sku"]
            store.listings_created[sku] = store.listings_created.get(sku, 0) + 1
        offer["listing"] = listing
        offer["status"] = "PUBLISHED"
        return Response(
            content={"listingId": listing["listingId"], "warnings": []}, status_code=200
        )

    @post(f"{INVENTORY}/offer/{{offer_id:str}}/withdraw", status_code=200)
    async def withdraw_offer(
        offer_id: FromPath[str], request: Request[Any, Any, Any]
    ) -> Response[Any]:
        offer = known_offer(offer_id, request)
        if isinstance(offer, Response):
            return offer
        if offer["status"] != "PUBLISHED":
            return ebay_error(
                400,
                25713,
                f"This Offer is not available : {offer_id} is not published.",
                parameters=[{"name": "offerId", "value": offer_id}],
            )
        offer["status"] = "UNPUBLISHED"
        listing = offer.get("listing") or {}
        listing["listingStatus"] = "ENDED"
        offer["listing"] = listing
        return Response(
            content={"listingId": listing.get("listingId"), "warnings": []}, status_code=200
        )

    return [get_offers, create_offer, get_offer, update_offer, publish_offer, withdraw_offer]
