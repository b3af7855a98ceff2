"""Stand-in for the eBay OAuth token endpoint and the Sell Inventory, Account and Fulfillment calls.

Served under the real paths (base URL = the sandbox's):
- POST /identity/v1/oauth2/token (Basic client auth, form body; codes starting with "good" are
  accepted, others refused with OAuth's `{"error", "error_description"}`; refresh tokens issued
  here, or starting with "good", are accepted).
- GET/POST /sell/account/v1/{fulfillment,payment,return}_policy (create of fulfillment: `.../`).
- GET/POST /sell/inventory/v1/location/{merchantLocationKey}
- PUT and GET /sell/inventory/v1/inventory_item/{sku}; GET /sell/inventory/v1/offer?sku=...;
  POST /sell/inventory/v1/offer; GET/PUT /sell/inventory/v1/offer/{offerId};
  POST /sell/inventory/v1/offer/{offerId}/publish and .../withdraw
- GET /sell/fulfillment/v1/order (filter=creationdate:[..], limit <= 200, offset; `next`/`total`).
- GET /commerce/identity/v1/user/ (getUser: the one seller's `username` and `userId`).

Real status codes and shapes: createOffer 201 `{"offerId"}`, inventory item PUT 204, publish and
withdraw 200 `{"listingId"}`, location create 204 (409 if it exists), policy create 201 with the
policy and a Location header; errors `{"errors": [{"errorId", "domain", "category", "message",
"longMessage", "parameters"}]}`; an unknown or expired access token answers 401 (errorId 1001).
Every request body is checked against the OpenAPI schema of its operation (sandbox.specs) plus the
fields the eBay docs call required but the schema cannot say (they mark none as required); problems
answer 400 listing each one. Publishing enforces the docs' "required to publish" rules: the offer's
price, quantity, category, the three business policies (existing ones) and a known inventory
location; the item's title, description, condition and ship-to-location quantity.

Inspection and control (JSON): GET /_sandbox/ebay/state, /_sandbox/ebay/offers,
/_sandbox/ebay/inventory_items, /_sandbox/ebay/policies, /_sandbox/ebay/locations,
/_sandbox/ebay/orders, /_sandbox/ebay/token_grants; POST /_sandbox/ebay/orders creates orders for a
SKU (and counts the units as sold on the SKU's published offer); POST
/_sandbox/ebay/offers/{offerId}/edit {"quantity"?, "price"?} and .../end change a listing outside
channel-router (drift).

Modules: `state` (EbayState), `errors` (eBay's error shapes), `values` and `checks` (shared
helpers), `oauth` (token endpoint, bearer check), `account` (business policies), `inventory`
(locations, inventory items), `offers` and `publish_rules` (offers, publish, withdraw),
`fulfillment` (orders API), `identity` (getUser), `new_orders`, `inspection` and `drift`
(/_sandbox/ebay/...).
"""

from __future__ import annotations

from litestar import Router

from sandbox.ebay.account import account_routes
from sandbox.ebay.drift import drift_routes
from sandbox.ebay.errors import ebay_error
from sandbox.ebay.fulfillment import fulfillment_routes
from sandbox.ebay.identity import identity_routes
from sandbox.ebay.inspection import inspect_routes
from sandbox.ebay.inventory import inventory_routes
from sandbox.ebay.oauth import oauth_routes
from sandbox.ebay.offers import offer_routes
from sandbox.ebay.state import EbayState
from sandbox.state import SandboxState

__all__ = ["EbayState", "ebay_error", "router"]


def router(state: SandboxState) -> Router:
    """Every eBay route, real paths first, then /_sandbox/ebay/... inspection."""
    return Router(
        path="/",
        route_handlers=[
            *oauth_routes(state),
            *identity_routes(state),
            *account_routes(state),
            *inventory_routes(state),
            *offer_routes(state),
            *fulfillment_routes(state),
            *inspect_routes(state),
            *drift_routes(state),
        ],
    )
