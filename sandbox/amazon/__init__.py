"""Stand-in for Login with Amazon and the SP-API paths the Amazon connector calls.

Served under the real paths:
- POST /auth/o2/token (LWA; form-encoded; codes starting with "good" are accepted, "bad" refused)
- PUT/PATCH/GET/DELETE /listings/2021-08-01/items/{sellerId}/{sku}
- GET /orders/v0/orders and GET /orders/v0/orders/{orderId}/orderItems
with the real shapes: `{"errors": [{"code", "message", "details"}]}` for SP-API errors, 403
`Unauthorized` for a missing/unknown/expired `x-amz-access-token` (the SP-API does not answer 401),
LWA's `{"error", "error_description"}`. Query parameters are checked against the models' parameter
lists and bodies against the models' schemas (sandbox.specs); problems answer 400 `InvalidInput`.

Listing lifecycle: PUT answers `ACCEPTED` (not live). The listing becomes BUYABLE when the sandbox
"processes" it: after `process_after_gets` GETs (default 1: the first GET still shows it pending)
or on POST /_sandbox/amazon/process {"sku"?, "reject"?: message}; with `reject` it is processed
with an ERROR issue and never becomes BUYABLE. Required listing attributes are not in the static
model (they come from the Product Type Definitions API); the sandbox stands in with a small fixed
set per `requirements` value and answers 200 `INVALID` with `MISSING_ATTRIBUTE`/`INVALID_ATTRIBUTE`
issues as Amazon does.

Inspection and control (JSON): GET /_sandbox/amazon/state, GET /_sandbox/amazon/listings,
GET /_sandbox/amazon/orders, POST /_sandbox/amazon/orders, POST /_sandbox/amazon/process,
POST /_sandbox/amazon/config; drift: POST /_sandbox/amazon/listings/{sellerId}/{sku}/edit
{"quantity"?, "price"?} and .../end {"suppress"?: message} (deleted, or suppressed by Amazon).

Modules: `state` (AmazonState and its records), `wire` (JSON in and out), `errors` (SP-API error
shapes), `params` (query-parameter checks against the model), `lwa` (token endpoint, access-token
check), `attributes` (listing attribute checks), `listings`, `orders`, `new_orders` and `inspection`
(/_sandbox/amazon/...).
"""

from __future__ import annotations

from litestar import Router

from sandbox.amazon.attributes import attribute_issues, listing_price, listing_quantity
from sandbox.amazon.drift import drift_routes
from sandbox.amazon.errors import sp_error
from sandbox.amazon.inspection import inspect_routes
from sandbox.amazon.listings import listing_routes
from sandbox.amazon.lwa import lwa_routes
from sandbox.amazon.orders import order_routes
from sandbox.amazon.params import check_query
from sandbox.amazon.state import AmazonListing, AmazonOrder, AmazonOrderItem, AmazonState
from sandbox.state import SandboxState

__all__ = [
    "AmazonListing",
    "AmazonOrder",
    "AmazonOrderItem",
    "AmazonState",
    "attribute_issues",
    "check_query",
    "listing_price",
    "listing_quantity",
    "router",
    "sp_error",
]


def router(state: SandboxState) -> Router:
    """Routes for Login with Amazon, Listings Items, Orders v0 and /_sandbox/amazon/..."""
    return Router(
        path="/",
        route_handlers=[
            *lwa_routes(state),
            *listing_routes(state),
            *order_routes(state),
            *inspect_routes(state),
            *drift_routes(state),
        ],
    )
