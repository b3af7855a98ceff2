"""Listings Items 2021-08-01: PUT, GET, PATCH and DELETE of
/listings/2021-08-01/items/{sellerId}/{sku}, with the sandbox's processing step (ACCEPTED, then
BUYABLE after `process_after_gets` GETs)."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from typing import Any, Final

from litestar import Request, Response, delete, get, patch, put
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

from sandbox.amazon.attributes import (
    apply_patches,
    attribute_issues,
    listing_price,
    listing_quantity,
)
from sandbox.amazon.errors import invalid_input, sp_error
from sandbox.amazon.gate import call_refusal, checked_body
from sandbox.amazon.params import csv_values, first_marketplace
from sandbox.amazon.state import DEFAULT_MARKETPLACE, AmazonListing, AmazonState
from sandbox.amazon.wire import iso, json_response
from sandbox.state import SandboxState

LISTINGS_SPEC: Final = "amazon-listings-items-2021-08-01.json"
LISTING_PATH: Final = "/listings/2021-08-01/items/{sellerId}/{sku}"


def item_body(listing: AmazonListing, included: list[str]) -> dict[str, Any]:
    """The getListingsItem body, with the `includedData` sections asked for."""
    body: dict[str, Any] = {"sku": listing.sku}
    quantity = listing_quantity(listing)
    price, currency = listing_price(listing)
    if "summaries" in included:
        status: list[str] = []
        if listing.processed and not listing.issues:
            status = ["DISCOVERABLE"]
            if quantity and price is not None:
                status = ["BUYABLE", "DISCOVERABLE"]
        names = listing.attributes.get("item_name") or [{}]
        conditions = listing.attributes.get("condition_type") or [{}]
        summary: dict[str, Any] = {
            "marketplaceId": listing.marketplace_id,
            "productType": listing.product_type,
            "status": status,
            "createdDate": iso(listing.created_at),
            "lastUpdatedDate": iso(listing.updated_at),
        }
        if listing.processed:
            summary["asin"] = listing.asin
        if names[0].get("value"):
            summary["itemName"] = names[0]["value"]
        if conditions[0].get("value"):
            summary["conditionType"] = conditions[0]["value"]
        body["summaries"] = [summary]
    if "attributes" in included:
        body["attributes"] = listing.attributes
    if "issues" in included:
        body["issues"] = listing.issues
    if "offers" in included:
        body["offers"] = (
            [
                {
                    "marketplaceId": listing.marketplace_id,
                    "offerType": "B2C",
                    "price": {"currencyCode": currency or "USD", "amount": str(price)},
                    "audience": {"value": "ALL", "displayName": "Sell on Amazon"},
                }
            ]
            if price is not None
            else []
        )
    if "fulfillmentAvailability" in included:
        body["fulfillmentAvailability"] = [
            {
                "fulfillmentChannelCode": e.get("fulfillment_channel_code"),
                "quantity": e.get("quantity"),
            }
            for e in listing.attributes.get("fulfillment_availability", [])
        ]
    if "productTypes" in included:
        body["productTypes"] = [
            {"marketplaceId": listing.marketplace_id, "productType": listing.product_type}
        ]
    return body


def listing_routes(state: SandboxState) -> list[HTTPRouteHandler]:
    """The four Listings Items operations, keyed by seller + sku."""
    amazon: AmazonState = state.amazon

    @put("/listings/2021-08-01/items/{seller_id:str}/{sku:str}", status_code=200)
    async def put_listings_item(
        request: Request[Any, Any, Any], seller_id: FromPath[str], sku: FromPath[str]
    ) -> Response[bytes]:
        amazon.requests.append(f"PUT {sku}")
        body = await checked_body(
            state,
            request,
            spec_name=LISTINGS_SPEC,
            path=LISTING_PATH,
            method="put",
            operation_id="putListingsItem",
            key="attributes",
            kind=dict,
            problem="body.attributes: must be an object",
        )
        if isinstance(body, Response):
            return body
        marketplace = first_marketplace(request, "marketplaceIds")
        preview = request.query_params.get("mode") == "VALIDATION_PREVIEW"
        included = csv_values(request, "includedData") or ["issues"]
        if "identifiers" in included and not preview:
            return invalid_input(
                [
                    "includedData 'identifiers' can only be requested when mode is "
                    "VALIDATION_PREVIEW."
                ]
            )
        requirements = body.get("requirements") or "LISTING"
        attributes: dict[str, Any] = body["attributes"]
        issues = attribute_issues(requirements, attributes, marketplace)
        submission_id = uuid.uuid4().hex
        answer: dict[str, Any] = {"sku": sku, "submissionId": submission_id}
        if "issues" in included:
            answer["issues"] = issues
        if issues:
            return json_response(
                {**answer, "status": "INVALID"}, headers={"x-amzn-RateLimit-Limit": "5.0"}
            )
        if preview:
            # Validated against the product type stand-in; nothing is stored or changed.
            existing = amazon.listings.get((seller_id, sku))
            if "identifiers" in included:
                answer["identifiers"] = (
                    [{"marketplaceId": existing.marketplace_id, "asin": existing.asin}]
                    if existing is not None and existing.processed
                    else []
                )
            return json_response(
                {**answer, "status": "VALID"}, headers={"x-amzn-RateLimit-Limit": "5.0"}
            )
        now = datetime.now(UTC)
        existing = amazon.listings.get((seller_id, sku))
        if existing is None:
            amazon.listings[(seller_id, sku)] = AmazonListing(
                seller_id=seller_id,
                sku=sku,
                marketplace_id=marketplace,
                product_type=body["productType"],
                requirements=requirements,
                attributes=attributes,
                asin="B0" + secrets.token_hex(4).upper(),
                created_at=now,
                updated_at=now,
            )
            amazon.listings_created[sku] = amazon.listings_created.get(sku, 0) + 1
        else:
            existing.product_type = body["productType"]
            existing.requirements = requirements
            existing.attributes = attributes
            existing.marketplace_id = marketplace
            existing.updated_at = now
            existing.submissions += 1
            existing.issues = []
        return json_response(
            {**answer, "status": "ACCEPTED"}, headers={"x-amzn-RateLimit-Limit": "5.0"}
        )

    @get("/listings/2021-08-01/items/{seller_id:str}/{sku:str}")
    async def get_listings_item(
        request: Request[Any, Any, Any], seller_id: FromPath[str], sku: FromPath[str]
    ) -> Response[bytes]:
        amazon.requests.append(f"GET {sku}")
        refusal = call_refusal(state, LISTINGS_SPEC, LISTING_PATH, "get", request)
        if refusal is not None:
            return refusal
        marketplaces = csv_values(request, "marketplaceIds") or [DEFAULT_MARKETPLACE]
        listing = amazon.listings.get((seller_id, sku))
        if listing is None or listing.marketplace_id not in marketplaces:
            return sp_error(
                404, "NOT_FOUND", f"SKU '{sku}' not found in marketplace {marketplaces[0]}"
            )
        included = csv_values(request, "includedData") or ["summaries"]
        body = item_body(listing, included)
        if not listing.processed:
            listing.gets_since_submission += 1
            limit = amazon.process_after_gets
            if limit is not None and listing.gets_since_submission >= limit:
                listing.processed = True
        return json_response(body, headers={"x-amzn-RateLimit-Limit": "5.0"})

    @patch("/listings/2021-08-01/items/{seller_id:str}/{sku:str}", status_code=200)
    async def patch_listings_item(
        request: Request[Any, Any, Any], seller_id: FromPath[str], sku: FromPath[str]
    ) -> Response[bytes]:
        amazon.requests.append(f"PATCH {sku}")
        body = await checked_body(
            state,
            request,
            spec_name=LISTINGS_SPEC,
            path=LISTING_PATH,
            method="patch",
            operation_id="patchListingsItem",
            key="patches",
            kind=list,
            problem="body.patches: must be an array",
        )
        if isinstance(body, Response):
            return body
        marketplace = first_marketplace(request, "marketplaceIds")
        listing = amazon.listings.get((seller_id, sku))
        if listing is None or listing.marketplace_id != marketplace:
            return sp_error(404, "NOT_FOUND", f"SKU '{sku}' not found in marketplace {marketplace}")
        attributes, issues = apply_patches(listing.attributes, body["patches"], marketplace)
        if not issues:
            issues = attribute_issues(listing.requirements, attributes, marketplace)
        submission_id = uuid.uuid4().hex
        if issues:
            return json_response(
                {"sku": sku, "status": "INVALID", "submissionId": submission_id, "issues": issues}
            )
        if request.query_params.get("mode") != "VALIDATION_PREVIEW":
            listing.attributes = attributes
            listing.updated_at = datetime.now(UTC)
            listing.submissions += 1
        status = "VALID" if request.query_params.get("mode") == "VALIDATION_PREVIEW" else "ACCEPTED"
        return json_response(
            {"sku": sku, "status": status, "submissionId": submission_id, "issues": []}
        )

    @delete("/listings/2021-08-01/items/{seller_id:str}/{sku:str}", status_code=200)
    async def delete_listings_item(
        request: Request[Any, Any, Any], seller_id: FromPath[str], sku: FromPath[str]
    ) -> Response[bytes]:
        amazon.requests.append(f"DELETE {sku}")
        refusal = call_refusal(state, LISTINGS_SPEC, LISTING_PATH, "delete", request)
        if refusal is not None:
            return refusal
        marketplace = first_marketplace(request, "marketplaceIds")
        listing = amazon.listings.get((seller_id, sku))
        if listing is None or listing.marketplace_id != marketplace:
            return sp_error(404, "NOT_FOUND", f"SKU '{sku}' not found in marketplace {marketplace}")
        del amazon.listings[(seller_id, sku)]
        return json_response(
            {"sku": sku, "status": "ACCEPTED", "submissionId": uuid.uuid4().hex, "issues": []}
        )

    return [put_listings_item, get_listings_item, patch_listings_item, delete_listings_item]
