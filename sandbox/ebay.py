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
SKU (and counts the units as sold on the SKU's published offer).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Final
from urllib.parse import quote

from litestar import Request, Response, Router, get, post, put
from litestar.params import FromPath

from sandbox import specs
from sandbox.state import SandboxState

INVENTORY: Final = "/sell/inventory/v1"
ACCOUNT: Final = "/sell/account/v1"
FULFILLMENT: Final = "/sell/fulfillment/v1"
TOKEN_PATH: Final = "/identity/v1/oauth2/token"
KNOWN_SCOPES: Final = frozenset(
    {
        "https://api.ebay.com/oauth/api_scope",
        "https://api.ebay.com/oauth/api_scope/sell.inventory",
        "https://api.ebay.com/oauth/api_scope/sell.inventory.readonly",
        "https://api.ebay.com/oauth/api_scope/sell.account",
        "https://api.ebay.com/oauth/api_scope/sell.account.readonly",
        "https://api.ebay.com/oauth/api_scope/sell.fulfillment",
        "https://api.ebay.com/oauth/api_scope/sell.fulfillment.readonly",
    }
)
REFRESH_TOKEN_TTL: Final = 47_304_000  # 18 months, as eBay issues them
MAX_SKU: Final = 50
MAX_ORDERS_LIMIT: Final = 200
SELLER: Final = "sandbox_seller"
POLICY_KINDS: Final = ("fulfillment", "payment", "return")
FILTER_RE: Final = re.compile(r"^(?P<name>[a-z]+):(?P<value>.*)$")
RANGE_RE: Final = re.compile(r"^\[(?P<start>[^\]]*?)\.\.(?P<end>[^\]]*)\]$")
INVENTORY_DOMAIN: Final = "API_INVENTORY"
ACCOUNT_DOMAIN: Final = "API_ACCOUNT"
FULFILLMENT_DOMAIN: Final = "API_FULFILLMENT"


@dataclass
class EbayState:
    """Everything the eBay stand-in holds for its one seller; reset by replacing it."""

    policies: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {kind: {} for kind in POLICY_KINDS}
    )
    locations: dict[str, dict[str, Any]] = field(default_factory=dict)
    inventory_items: dict[str, dict[str, Any]] = field(default_factory=dict)
    item_languages: dict[str, str] = field(default_factory=dict)  # sku -> Content-Language sent
    offers: dict[str, dict[str, Any]] = field(default_factory=dict)
    orders: list[dict[str, Any]] = field(default_factory=list)
    refresh_tokens: set[str] = field(default_factory=set)
    token_grants: list[str] = field(default_factory=list)
    counter: int = 0

    def new_id(self) -> str:
        """Numeric ids like eBay's (offers, listings, policies), unique within this state."""
        self.counter += 1
        return str(5_000_000_000 + self.counter)

    def new_order_id(self) -> str:
        """Order ids shaped like eBay's ("12-34567-89012")."""
        self.counter += 1
        return f"{10 + self.counter % 90:02d}-{self.counter:05d}-{secrets.randbelow(100_000):05d}"

    def reset(self) -> None:
        """Forget everything, in place. Ids keep counting: like eBay's, they are never reused, so
        a late request from before the reset cannot touch a new object with the same id."""
        counter = self.counter
        self.__dict__.update(EbayState().__dict__)
        self.counter = counter

    def summary(self) -> dict[str, Any]:
        """Counts for GET /_sandbox/state."""
        return {
            "policies": {kind: len(items) for kind, items in self.policies.items()},
            "locations": len(self.locations),
            "inventory_items": len(self.inventory_items),
            "offers": len(self.offers),
            "orders": len(self.orders),
            "token_grants": list(self.token_grants),
        }


# --- response helpers ---


def ebay_error(
    status: int,
    error_id: int,
    message: str,
    *,
    domain: str = INVENTORY_DOMAIN,
    long_message: str | None = None,
    parameters: list[dict[str, str]] | None = None,
    category: str = "REQUEST",
) -> Response[Any]:
    """An answer in eBay's error shape (the `Error` schema of the Sell OAS3 files)."""
    error: dict[str, Any] = {
        "errorId": error_id,
        "domain": domain,
        "category": category,
        "message": message,
    }
    if long_message:
        error["longMessage"] = long_message
    if parameters:
        error["parameters"] = parameters
    return Response(content={"errors": [error]}, status_code=status, media_type="application/json")


def _problems_response(problems: list[str], error_id: int, domain: str) -> Response[Any]:
    """400 listing every problem: one `errors[]` entry each, as eBay reports several at once."""
    errors = [
        {
            "errorId": error_id,
            "domain": domain,
            "category": "REQUEST",
            "message": problem,
            "longMessage": problem,
        }
        for problem in problems
    ]
    return Response(content={"errors": errors}, status_code=400, media_type="application/json")


def _oauth_error(status: int, error: str, description: str) -> Response[Any]:
    return Response(
        content={"error": error, "error_description": description},
        status_code=status,
        media_type="application/json",
    )


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


def _parse_iso(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _path_of(request: Request[Any, Any, Any]) -> str:
    return request.url.path


async def _json_body(request: Request[Any, Any, Any]) -> tuple[Any, Response[Any] | None]:
    """The decoded JSON body, or eBay's answer to an unreadable one."""
    raw = await request.body()
    if not raw:
        return None, ebay_error(
            400, 2004, "Invalid request", long_message="The request has no body."
        )
    try:
        return json.loads(raw), None
    except ValueError:
        return None, ebay_error(
            400,
            2004,
            "Invalid request",
            long_message="The request has errors. Could not serialize field: the body is not JSON.",
        )


def _need_content_language(request: Request[Any, Any, Any]) -> Response[Any] | None:
    if not request.headers.get("content-language"):
        return ebay_error(
            400,
            25709,
            "Invalid value for header Content-Language.",
            long_message="Invalid value for header Content-Language. It is required (e.g. en-US).",
            parameters=[{"name": "fieldName", "value": "Content-Language"}],
        )
    return None


def _missing(body: dict[str, Any], *paths: str) -> list[str]:
    """Dotted paths that are absent or empty in body."""
    problems = []
    for dotted in paths:
        node: Any = body
        for part in dotted.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is None or node == "" or node == []:
            problems.append(f"Missing field {dotted}.")
    return problems


def _money(value: Any) -> Decimal | None:
    if not isinstance(value, str):
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


# --- token handling ---


def _issue_access_token(sandbox: SandboxState) -> tuple[str, int]:
    token = "v^1.1#i^1#" + secrets.token_urlsafe(24)
    ttl = int(sandbox.token_ttl_seconds)
    sandbox.tokens[token] = ("ebay", _now() + timedelta(seconds=ttl))
    return token, ttl


def _unauthorized() -> Response[Any]:
    return Response(
        content={
            "errors": [
                {
                    "errorId": 1001,
                    "domain": "OAuth",
                    "category": "REQUEST",
                    "message": "Invalid access token",
                    "longMessage": "Invalid access token. Check the value of the Authorization "
                    "HTTP request header.",
                }
            ]
        },
        status_code=401,
        media_type="application/json",
        headers={"WWW-Authenticate": 'Bearer realm="ebay"'},
    )


def _check_token(sandbox: SandboxState, request: Request[Any, Any, Any]) -> Response[Any] | None:
    """None when the bearer token is one we issued for eBay and still valid; else eBay's 401."""
    header = request.headers.get("authorization", "")
    token = header[len("Bearer ") :] if header.startswith("Bearer ") else None
    if sandbox.token_api(token, _now()) != "ebay":
        return _unauthorized()
    return None


def _client_ok(request: Request[Any, Any, Any]) -> bool:
    header = request.headers.get("authorization", "")
    if not header.startswith("Basic "):
        return False
    try:
        decoded = base64.b64decode(header[len("Basic ") :], validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return False
    client_id, _, client_secret = decoded.partition(":")
    return bool(client_id) and bool(client_secret)


# --- offers ---


def _offer_view(offer: dict[str, Any]) -> dict[str, Any]:
    """EbayOfferDetailsWithAll as getOffer returns it."""
    return {key: value for key, value in offer.items() if not key.startswith("_")}


def _publish_problems(state: EbayState, offer: dict[str, Any]) -> list[tuple[int, str]]:
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
    amount = _money(price.get("value"))
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


# --- orders ---


def _make_order(
    state: EbayState,
    sku: str,
    quantity: int,
    unit_price: Decimal,
    currency: str,
    created: datetime,
    shipping: Decimal,
) -> dict[str, Any]:
    cost = unit_price * quantity
    fee = (cost * Decimal("0.1325")).quantize(Decimal("0.01"))
    listing_id = None
    title = sku
    for offer in state.offers.values():
        if offer["sku"] == sku and offer.get("listing"):
            listing_id = offer["listing"].get("listingId")
            break
    item = state.inventory_items.get(sku)
    if item:
        title = (item.get("product") or {}).get("title") or sku

    def amount(value: Decimal) -> dict[str, str]:
        return {"value": f"{value:.2f}", "currency": currency}

    order_id = state.new_order_id()
    return {
        "orderId": order_id,
        "legacyOrderId": order_id,
        "creationDate": _iso(created),
        "lastModifiedDate": _iso(created),
        "orderFulfillmentStatus": "NOT_STARTED",
        "orderPaymentStatus": "PAID",
        "sellerId": SELLER,
        "buyer": {"username": f"buyer{state.counter}"},
        "pricingSummary": {
            "priceSubtotal": amount(cost),
            "deliveryCost": amount(shipping),
            "total": amount(cost + shipping),
        },
        "cancelStatus": {"cancelState": "NONE_REQUESTED", "cancelRequests": []},
        "paymentSummary": {"totalDueSeller": amount(cost + shipping - fee)},
        "totalMarketplaceFee": amount(fee),
        "totalFeeBasisAmount": amount(cost + shipping),
        "salesRecordReference": str(state.counter),
        "lineItems": [
            {
                "lineItemId": state.new_id(),
                "legacyItemId": listing_id or "",
                "sku": sku,
                "title": title,
                "quantity": quantity,
                "lineItemCost": amount(cost),
                "total": amount(cost + shipping),
                "deliveryCost": {"shippingCost": amount(shipping)},
                "appliedPromotions": [],
                "taxes": [],
                "refunds": [],
                "soldFormat": "FIXED_PRICE",
                "listingMarketplaceId": "EBAY_US",
                "purchaseMarketplaceId": "EBAY_US",
                "lineItemFulfillmentStatus": "NOT_STARTED",
            }
        ],
    }


def _record_sale(state: EbayState, sku: str, quantity: int) -> None:
    """Count the units as sold on the SKU's published offer and take them off availability."""
    for offer in state.offers.values():
        if offer["sku"] == sku and offer.get("status") == "PUBLISHED" and offer.get("listing"):
            listing = offer["listing"]
            listing["soldQuantity"] = int(listing.get("soldQuantity", 0)) + quantity
            left = max(0, int(offer.get("availableQuantity") or 0) - quantity)
            offer["availableQuantity"] = left
            if left == 0:
                listing["listingStatus"] = "OUT_OF_STOCK"
    item = state.inventory_items.get(sku)
    if item:
        ship = (item.get("availability") or {}).get("shipToLocationAvailability") or {}
        if isinstance(ship.get("quantity"), int):
            ship["quantity"] = max(0, ship["quantity"] - quantity)


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
        start = _parse_iso(window["start"])
        end = _parse_iso(window["end"]) if window["end"] else None
        if start is None or (window["end"] and end is None):
            return ebay_error(400, 30810, "Invalid date format", domain=FULFILLMENT_DOMAIN)
        if end is not None and end < start:
            return ebay_error(
                400, 30840, "Start date should be before end date", domain=FULFILLMENT_DOMAIN
            )
    return start, end


def router(state: SandboxState) -> Router:
    """Every eBay route, real paths first, then /_sandbox/ebay/... inspection."""

    def ebay() -> EbayState:
        return state.ebay

    def validate(operation_id: str, body: Any) -> list[str]:
        """Problems with body against the operation's schema in the shipped eBay specs."""
        if not state.validate:
            return []
        return specs.validate_body("ebay", operation_id, body)

    # --- OAuth ---

    @post(TOKEN_PATH, status_code=200)
    async def token(request: Request[Any, Any, Any]) -> Response[Any]:
        if not _client_ok(request):
            return _oauth_error(401, "invalid_client", "client authentication failed")
        form = await request.form()
        grant = form.get("grant_type")
        store = ebay()
        if grant == "authorization_code":
            code = form.get("code")
            if not code:
                return _oauth_error(
                    400,
                    "invalid_request",
                    "request is missing a required parameter or malformed.",
                )
            if not str(code).startswith("good"):
                return _oauth_error(
                    400,
                    "invalid_grant",
                    "the provided authorization grant code is invalid or was issued to another "
                    "client",
                )
            access, ttl = _issue_access_token(state)
            refresh = "v^1.1#i^1#r^1#" + secrets.token_urlsafe(32)
            store.refresh_tokens.add(refresh)
            store.token_grants.append("authorization_code")
            return Response(
                content={
                    "access_token": access,
                    "expires_in": ttl,
                    "refresh_token": refresh,
                    "refresh_token_expires_in": REFRESH_TOKEN_TTL,
                    "token_type": "User Access Token",
                },
                status_code=200,
            )
        if grant == "refresh_token":
            refresh_token = str(form.get("refresh_token") or "")
            if not refresh_token:
                return _oauth_error(
                    400,
                    "invalid_request",
                    "request is missing a required parameter or malformed.",
                )
            if refresh_token not in store.refresh_tokens and not refresh_token.startswith("good"):
                return _oauth_error(
                    400,
                    "invalid_grant",
                    "the provided authorization refresh token is invalid or was issued to another "
                    "client",
                )
            scope = str(form.get("scope") or "")
            if scope and not set(scope.split()) <= KNOWN_SCOPES:
                return _oauth_error(
                    400,
                    "invalid_scope",
                    "the requested scope is invalid, unknown, malformed, or exceeds the scope "
                    "granted to the client",
                )
            access, ttl = _issue_access_token(state)
            store.token_grants.append("refresh_token")
            return Response(
                content={
                    "access_token": access,
                    "expires_in": ttl,
                    "token_type": "User Access Token",
                },
                status_code=200,
            )
        return _oauth_error(
            400,
            "unsupported_grant_type",
            "grant type in request is not supported by the authorization server",
        )

    # --- Account API: business policies ---

    def _list_policies(kind: str, request: Request[Any, Any, Any]) -> Response[Any]:
        denied = _check_token(state, request)
        if denied:
            return denied
        marketplace = request.query_params.get("marketplace_id")
        if not marketplace:
            return ebay_error(
                400,
                20401,
                "Missing field marketplace_id.",
                domain=ACCOUNT_DOMAIN,
                parameters=[{"name": "fieldName", "value": "marketplace_id"}],
            )
        found = [p for p in ebay().policies[kind].values() if p["marketplaceId"] == marketplace]
        key = f"{kind}Policies"
        return Response(
            content={
                key: found,
                "href": str(request.url),
                "limit": 20,
                "offset": 0,
                "total": len(found),
            },
            status_code=200,
        )

    async def _create_policy(
        kind: str,
        operation_id: str,
        schema_required: tuple[str, ...],
        request: Request[Any, Any, Any],
    ) -> Response[Any]:
        denied = _check_token(state, request)
        if denied:
            return denied
        body, bad = await _json_body(request)
        if bad:
            return bad
        problems = validate(operation_id, body)
        if not problems and isinstance(body, dict):
            problems = _missing(body, *schema_required) + _policy_rules(kind, body)
        if problems:
            return _problems_response(problems, 20401, ACCOUNT_DOMAIN)
        store = ebay()
        for existing in store.policies[kind].values():
            if (
                existing["marketplaceId"] == body["marketplaceId"]
                and existing["name"] == body["name"]
            ):
                return ebay_error(
                    400,
                    20400,
                    "Invalid request. The policy name already exists.",
                    domain=ACCOUNT_DOMAIN,
                    long_message=f"A {kind} policy named {body['name']!r} already exists for "
                    f"{body['marketplaceId']}.",
                )
        policy_id = store.new_id()
        policy = {**body, f"{kind}PolicyId": policy_id}
        store.policies[kind][policy_id] = policy
        location = f"{request.base_url}{ACCOUNT.lstrip('/')}/{kind}_policy/{policy_id}"
        return Response(content=policy, status_code=201, headers={"Location": location})

    @get(f"{ACCOUNT}/fulfillment_policy")
    async def list_fulfillment(request: Request[Any, Any, Any]) -> Response[Any]:
        return _list_policies("fulfillment", request)

    @get(f"{ACCOUNT}/payment_policy")
    async def list_payment(request: Request[Any, Any, Any]) -> Response[Any]:
        return _list_policies("payment", request)

    @get(f"{ACCOUNT}/return_policy")
    async def list_return(request: Request[Any, Any, Any]) -> Response[Any]:
        return _list_policies("return", request)

    required = ("name", "marketplaceId", "categoryTypes")

    @post(f"{ACCOUNT}/fulfillment_policy/")
    async def create_fulfillment(request: Request[Any, Any, Any]) -> Response[Any]:
        return await _create_policy("fulfillment", "createFulfillmentPolicy", required, request)

    @post(f"{ACCOUNT}/payment_policy")
    async def create_payment(request: Request[Any, Any, Any]) -> Response[Any]:
        return await _create_policy("payment", "createPaymentPolicy", required, request)

    @post(f"{ACCOUNT}/return_policy")
    async def create_return(request: Request[Any, Any, Any]) -> Response[Any]:
        return await _create_policy(
            "return", "createReturnPolicy", (*required, "returnsAccepted"), request
        )

    # --- Inventory API: location ---

    @get(f"{INVENTORY}/location/{{key:str}}")
    async def get_location(key: FromPath[str], request: Request[Any, Any, Any]) -> Response[Any]:
        denied = _check_token(state, request)
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
        denied = _check_token(state, request)
        if denied:
            return denied
        body, bad = await _json_body(request)
        if bad:
            return bad
        problems = validate("createInventoryLocation", body)
        if not problems and isinstance(body, dict):
            problems = _location_rules(key, body)
        if problems:
            return _problems_response(problems, 25801, INVENTORY_DOMAIN)
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
        denied = _check_token(state, request)
        if denied:
            return denied
        bad_language = _need_content_language(request)
        if bad_language:
            return bad_language
        if len(sku) > MAX_SKU:
            return ebay_error(
                400,
                25707,
                "This is an invalid value for a SKU. Only alphanumeric characters can be used for "
                "SKUs, and their length must not exceed 50 characters.",
            )
        body, bad = await _json_body(request)
        if bad:
            return bad
        problems = validate("createOrReplaceInventoryItem", body)
        if problems:
            return _problems_response(problems, 25709, INVENTORY_DOMAIN)
        store = ebay()
        # createOrReplaceInventoryItem replaces the whole record.
        store.inventory_items[sku] = {**body, "sku": sku}
        store.item_languages[sku] = request.headers.get("content-language", "")
        return Response(content=None, status_code=204)

    @get(f"{INVENTORY}/inventory_item/{{sku:str}}")
    async def get_item(sku: FromPath[str], request: Request[Any, Any, Any]) -> Response[Any]:
        denied = _check_token(state, request)
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

    # --- Inventory API: offers ---

    @get(f"{INVENTORY}/offer")
    async def get_offers(request: Request[Any, Any, Any]) -> Response[Any]:
        denied = _check_token(state, request)
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
        denied = _check_token(state, request)
        if denied:
            return denied
        bad_language = _need_content_language(request)
        if bad_language:
            return bad_language
        body, bad = await _json_body(request)
        if bad:
            return bad
        problems = validate("createOffer", body)
        if not problems and isinstance(body, dict):
            problems = _missing(body, "sku", "marketplaceId", "format")
        if problems:
            return _problems_response(problems, 25709, INVENTORY_DOMAIN)
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
        return Response(content={"offerId": offer_id}, status_code=201)

    @get(f"{INVENTORY}/offer/{{offer_id:str}}")
    async def get_offer(offer_id: FromPath[str], request: Request[Any, Any, Any]) -> Response[Any]:
        denied = _check_token(state, request)
        if denied:
            return denied
        offer = _offer_or_404(ebay(), offer_id)
        if isinstance(offer, Response):
            return offer
        return Response(content=_offer_view(offer), status_code=200)

    @put(f"{INVENTORY}/offer/{{offer_id:str}}")
    async def update_offer(
        offer_id: FromPath[str], request: Request[Any, Any, Any]
    ) -> Response[Any]:
        denied = _check_token(state, request)
        if denied:
            return denied
        bad_language = _need_content_language(request)
        if bad_language:
            return bad_language
        store = ebay()
        offer = _offer_or_404(store, offer_id)
        if isinstance(offer, Response):
            return offer
        body, bad = await _json_body(request)
        if bad:
            return bad
        problems = validate("updateOffer", body)
        if problems:
            return _problems_response(problems, 25709, INVENTORY_DOMAIN)
        # updateOffer replaces the offer; the keys (sku, marketplace, format) and state stay.
        kept = {k: offer[k] for k in ("offerId", "sku", "marketplaceId", "format", "status")}
        if "listing" in offer:
            kept["listing"] = offer["listing"]
        candidate = {**body, **kept}
        if candidate["status"] == "PUBLISHED":
            # Revising a live listing must keep it publishable.
            issues = _publish_problems(store, candidate)
            if issues:
                return _publish_error(issues)
        listing = candidate.get("listing") or {}
        if listing.get("listingStatus") == "OUT_OF_STOCK" and candidate.get("availableQuantity"):
            listing["listingStatus"] = "ACTIVE"  # out-of-stock control: new stock revives it
        store.offers[offer_id] = candidate
        return Response(content=None, status_code=204)

    @post(f"{INVENTORY}/offer/{{offer_id:str}}/publish", status_code=200)
    async def publish_offer(
        offer_id: FromPath[str], request: Request[Any, Any, Any]
    ) -> Response[Any]:
        denied = _check_token(state, request)
        if denied:
            return denied
        store = ebay()
        offer = _offer_or_404(store, offer_id)
        if isinstance(offer, Response):
            return offer
        issues = _publish_problems(store, offer)
        if issues:
            return _publish_error(issues)
        listing = offer.get("listing") or {}
        if offer["status"] != "PUBLISHED" or listing.get("listingStatus") != "ACTIVE":
            listing = {
                "listingId": store.new_id(),
                "listingStatus": "ACTIVE",
                "soldQuantity": 0,
                "listingOnHold": False,
            }
        offer["listing"] = listing
        offer["status"] = "PUBLISHED"
        return Response(
            content={"listingId": listing["listingId"], "warnings": []}, status_code=200
        )

    @post(f"{INVENTORY}/offer/{{offer_id:str}}/withdraw", status_code=200)
    async def withdraw_offer(
        offer_id: FromPath[str], request: Request[Any, Any, Any]
    ) -> Response[Any]:
        denied = _check_token(state, request)
        if denied:
            return denied
        offer = _offer_or_404(ebay(), offer_id)
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

    # --- Fulfillment API: orders ---

    @get(f"{FULFILLMENT}/order")
    async def get_orders(request: Request[Any, Any, Any]) -> Response[Any]:
        denied = _check_token(state, request)
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
            start = _now() - timedelta(days=90)
        matching = [
            o
            for o in ebay().orders
            if (created := _parse_iso(o["creationDate"])) is not None
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

    # --- /_sandbox/ebay/... inspection and order creation ---

    @get("/_sandbox/ebay/state")
    async def inspect_state() -> dict[str, Any]:
        store = ebay()
        return {
            **store.summary(),
            "policies": store.policies,
            "locations": store.locations,
            "inventory_items": store.inventory_items,
            "offers": list(store.offers.values()),
        }

    @get("/_sandbox/ebay/offers")
    async def inspect_offers() -> list[dict[str, Any]]:
        return list(ebay().offers.values())

    @get("/_sandbox/ebay/inventory_items")
    async def inspect_items() -> dict[str, dict[str, Any]]:
        store = ebay()
        return {
            sku: {**item, "locale": store.item_languages.get(sku, "")}
            for sku, item in store.inventory_items.items()
        }

    @get("/_sandbox/ebay/policies")
    async def inspect_policies() -> dict[str, list[dict[str, Any]]]:
        return {kind: list(items.values()) for kind, items in ebay().policies.items()}

    @get("/_sandbox/ebay/locations")
    async def inspect_locations() -> dict[str, dict[str, Any]]:
        return ebay().locations

    @get("/_sandbox/ebay/orders")
    async def inspect_orders() -> list[dict[str, Any]]:
        return ebay().orders

    @get("/_sandbox/ebay/token_grants")
    async def inspect_grants() -> list[str]:
        return ebay().token_grants

    @post("/_sandbox/ebay/orders", status_code=201)
    async def add_orders(request: Request[Any, Any, Any]) -> Response[Any]:
        """Body {"sku", "quantity", "price" (unit), "currency"?, "count"?, "created_at"?,
        "shipping"?}: `count` orders of `quantity` units each."""
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return Response(content={"error": "body must be a JSON object"}, status_code=400)
        sku = body.get("sku")
        quantity = body.get("quantity", 1)
        count = body.get("count", 1)
        price = _money(str(body.get("price", "")))
        shipping = _money(str(body.get("shipping", "0")))
        created = _parse_iso(str(body["created_at"])) if body.get("created_at") else _now()
        problems = []
        if not isinstance(sku, str) or not sku:
            problems.append("sku must be a non-empty string")
        if not isinstance(quantity, int) or quantity < 1:
            problems.append("quantity must be an integer >= 1")
        if not isinstance(count, int) or not 1 <= count <= 1000:
            problems.append("count must be an integer from 1 to 1000")
        if price is None or price <= 0:
            problems.append("price must be a positive decimal string")
        if shipping is None or shipping < 0:
            problems.append("shipping must be a decimal string >= 0")
        if created is None:
            problems.append("created_at must be an ISO 8601 timestamp")
        if problems:
            return Response(content={"errors": problems}, status_code=400)
        assert isinstance(sku, str) and price is not None and shipping is not None
        assert created is not None
        store = ebay()
        made = []
        for index in range(count):
            order = _make_order(
                store,
                sku,
                quantity,
                price,
                str(body.get("currency", "USD")),
                created + timedelta(milliseconds=index),
                shipping,
            )
            store.orders.append(order)
            _record_sale(store, sku, quantity)
            made.append(order)
        return Response(content={"orders": made}, status_code=201)

    return Router(
        path="/",
        route_handlers=[
            token,
            list_fulfillment,
            list_payment,
            list_return,
            create_fulfillment,
            create_payment,
            create_return,
            get_location,
            create_location,
            put_item,
            get_item,
            get_offers,
            create_offer,
            get_offer,
            update_offer,
            publish_offer,
            withdraw_offer,
            get_orders,
            inspect_state,
            inspect_offers,
            inspect_items,
            inspect_policies,
            inspect_locations,
            inspect_orders,
            inspect_grants,
            add_orders,
        ],
    )


def _publish_error(issues: list[tuple[int, str]]) -> Response[Any]:
    errors = [
        {
            "errorId": error_id,
            "domain": INVENTORY_DOMAIN,
            "category": "REQUEST",
            "message": message,
            "longMessage": message,
        }
        for error_id, message in issues
    ]
    return Response(content={"errors": errors}, status_code=400, media_type="application/json")


def _policy_rules(kind: str, body: dict[str, Any]) -> list[str]:
    """Conditional requirements from the Account API field docs."""
    problems: list[str] = []
    if kind == "return" and body.get("returnsAccepted") is True:
        problems += _missing(body, "returnPeriod", "returnShippingCostPayer")
    if kind == "fulfillment":
        options = body.get("shippingOptions") or []
        if options and not body.get("localPickup") and not body.get("freightShipping"):
            problems += _missing(body, "handlingTime")
        for index, option in enumerate(options):
            if not isinstance(option, dict):
                continue
            for name in ("optionType", "costType"):
                if not option.get(name):
                    problems.append(f"Missing field shippingOptions[{index}].{name}.")
            for s_index, service in enumerate(option.get("shippingServices") or []):
                if isinstance(service, dict) and not service.get("shippingServiceCode"):
                    problems.append(
                        f"Missing field shippingOptions[{index}].shippingServices[{s_index}]."
                        "shippingServiceCode."
                    )
    return problems


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
