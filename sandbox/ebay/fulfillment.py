"""Fulfillment API: GET /sell/fulfillment/v1/order with its creationdate filter and paging."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import quote

from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler

from sandbox.ebay.errors import FULFILLMENT_DOMAIN, ebay_error
from sandbox.ebay.oauth import check_token
from sandbox.ebay.state import EbayState
from sandbox.ebay.values import now_utc
from sandbox.state import SandboxState
from sandbox.timestamps import parse_iso

FULFILLMENT: Final = "/sell/fulfillment/v1"
MAX_ORDERS_LIMIT: Final = 200
FILTER_RE: Final = re.compile(r"^(?P<name>[a-z]+):(?P<value>.*)$")
RANGE_RE: Final = re.compile(r"^\[(?P<start>[^\]]*?)\.\.(?P<end>[^\]]*)\]$")


def _parse_order_filter(raw: str) -> tuple[datetime | None, datetime | None] | Response[Any]:
    """creationdate:[start..end] (end optional); other eBay criteria are accepted and ignored."""
    start: datetime | None = None
    end: datetime | None = None
    for criterion in (c for c in re.split(r",(?![^\[{]*[\]}])", raw) if c):
        match = FILTER_RE.match(criterion.strip())
        if not match:
            return ebay_error(
                400, 30700, f"Invalid filter name: {criterion}", domain=FULFILLMENT_DOMAIN
            )
        name, value = match["name"], match["value"]
        if name not in ("creationdate", "lastmodifieddate", "orderfulfillmentstatus"):
            return ebay_error(400, 30700, f"Invalid filter name: {name}", domain=FULFILLMENT_DOMAIN)
        if name != "creationdate":
            continue
        window = RANGE_RE.match(value)
        if not window:
            return ebay_error(
                400,
                30800,
                f"Invalid filter value {value} for filter {name}",
                domain=FULFILLMENT_DOMAIN,
            )
        if not window["start"]:
            return ebay_error(400, 30820, "Start date is missing", domain=FULFILLMENT_DOMAIN)
        start = parse_iso(window["start"])
        end = parse_iso(window["end"]) if window["end"] else None
        if start is None or (window["end"] and end is None):
            return ebay_error(400, 30810, "Invalid date format", domain=FULFILLMENT_DOMAIN)
        if end is not None and end < start:
            return ebay_error(
                400, 30840, "Start date should be before end date", domain=FULFILLMENT_DOMAIN
            )
    return start, end


def fulfillment_routes(state: SandboxState) -> list[HTTPRouteHandler]:
    """getOrders, newest first."""

    def ebay() -> EbayState:
        return state.ebay

    # --- Fulfillment API: orders ---

    @get(f"{FULFILLMENT}/order")
    async def get_orders(request: Request[Any, Any, Any]) -> Response[Any]:
        denied = check_token(state, request)
        if denied:
            return denied
        params = request.query_params
        raw_limit = params.get("limit", "50")
        raw_offset = params.get("offset", "0")
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_ORDERS_LIMIT:
            return ebay_error(400, 31100, f"Invalid limit: {raw_limit}", domain=FULFILLMENT_DOMAIN)
        if not raw_offset.isdigit():
            return ebay_error(
                400, 31000, f"Invalid offset: {raw_offset}", domain=FULFILLMENT_DOMAIN
            )
        limit, offset = int(raw_limit), int(raw_offset)
        raw_filter = params.get("filter", "")
        window = _parse_order_filter(raw_filter)
        if isinstance(window, Response):
            return window
        start, end = window
        if start is None:
            start = now_utc() - timedelta(days=90)
        matching = [
            o
            for o in ebay().orders
            if (created := parse_iso(o["creationDate"])) is not None
            and created >= start
            and (end is None or created <= end)
        ]
        matching.sort(key=lambda o: o["creationDate"], reverse=True)
        page = matching[offset : offset + limit]
        base = f"{str(request.base_url).rstrip('/')}{FULFILLMENT}/order"
        query = f"filter={quote(raw_filter, safe='')}&" if raw_filter else ""
        content: dict[str, Any] = {
            "href": f"{base}?{query}limit={limit}&offset={offset}",
            "limit": limit,
            "offset": offset,
            "total": len(matching),
            "orders": page,
            "warnings": [],
        }
        if offset + limit < len(matching):
            content["next"] = f"{base}?{query}limit={limit}&offset={offset + limit}"
        if offset > 0:
            content["prev"] = f"{base}?{query}limit={limit}&offset={max(0, offset - limit)}"
        return Response(content=content, status_code=200)

    return [get_orders]
