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
POST /_sandbox/amazon/config.
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Final
from urllib.parse import parse_qs

import msgspec
from litestar import Request, Response, Router, delete, get, patch, post, put
from litestar.params import FromPath

from sandbox import specs
from sandbox.state import SandboxState

LISTINGS_SPEC: Final = "amazon-listings-items-2021-08-01.json"
ORDERS_SPEC: Final = "amazon-orders-v0.json"
LISTING_PATH: Final = "/listings/2021-08-01/items/{sellerId}/{sku}"
ORDERS_PATH: Final = "/orders/v0/orders"
ORDER_ITEMS_PATH: Final = "/orders/v0/orders/{orderId}/orderItems"
DEFAULT_MARKETPLACE: Final = "ATVPDKIKX0DER"

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
UNAUTHORIZED_MESSAGE: Final = "Access to requested resource is denied."


@dataclass
class AmazonListing:
    """One listings item, keyed by seller + sku (as Amazon keys them)."""

    seller_id: str
    sku: str
    marketplace_id: str
    product_type: str
    requirements: str
    attributes: dict[str, Any]
    asin: str
    created_at: datetime
    updated_at: datetime
    processed: bool = False
    issues: list[dict[str, Any]] = field(default_factory=list)
    gets_since_submission: int = 0
    submissions: int = 1


@dataclass
class AmazonOrderItem:
    """An order line; `item_price` is the total for the quantity, as ItemPrice is in Orders v0."""

    order_item_id: str
    sku: str
    quantity: int
    item_price: Decimal
    currency: str
    title: str = ""
    asin: str = "B000SANDBOX"


@dataclass
class AmazonOrder:
    """An order created through POST /_sandbox/amazon/orders."""

    order_id: str
    marketplace_id: str
    purchase_date: datetime
    status: str
    items: list[AmazonOrderItem]


@dataclass
class AmazonState:
    """Everything the Amazon stand-in holds in memory."""

    listings: dict[tuple[str, str], AmazonListing] = field(default_factory=dict)
    orders: list[AmazonOrder] = field(default_factory=list)
    refresh_tokens: set[str] = field(default_factory=set)
    used_codes: set[str] = field(default_factory=set)
    next_tokens: dict[str, tuple[str, int, str]] = field(default_factory=dict)
    process_after_gets: int | None = 1
    orders_page_size: int = 100
    order_items_page_size: int = 100
    token_requests: int = 0
    token_grants: dict[str, int] = field(default_factory=dict)
    token_rejections: int = 0
    requests: list[str] = field(default_factory=list)
    order_counter: int = 0

    def reset(self) -> None:
        """Forget everything, in place (POST /_sandbox/reset; routers keep this object)."""
        fresh = AmazonState()
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(fresh, name))

    def summary(self) -> dict[str, Any]:
        """What GET /_sandbox/state and GET /_sandbox/amazon/state show."""
        return {
            "listings": len(self.listings),
            "orders": len(self.orders),
            "token_requests": self.token_requests,
            "token_grants": dict(self.token_grants),
            "token_rejections": self.token_rejections,
            "process_after_gets": self.process_after_gets,
            "orders_page_size": self.orders_page_size,
            "order_items_page_size": self.order_items_page_size,
            "requests": list(self.requests),
        }


# ---------------------------------------------------------------------------------------------
# Response helpers


def _request_id() -> str:
    return str(uuid.uuid4())


_ENCODER: Final = msgspec.json.Encoder(decimal_format="number")


def _decode_json(raw: bytes) -> Any:
    """JSON with numbers kept exact (prices must not drift through float)."""
    return json.loads(raw or b"null", parse_float=Decimal)


async def _control_body(request: Request[Any, Any, Any]) -> dict[str, Any] | None:
    try:
        data = _decode_json(await request.body())
    except ValueError:
        return None
    if data is None:
        return {}
    return data if isinstance(data, dict) else None


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response[bytes]:
    all_headers = {"x-amzn-RequestId": _request_id()}
    if headers:
        all_headers.update(headers)
    return Response(
        content=_ENCODER.encode(body),
        status_code=status,
        media_type="application/json",
        headers=all_headers,
    )


def sp_error(status: int, code: str, message: str, details: str = "") -> Response[bytes]:
    """The SP-API error shape `{"errors": [{"code", "message", "details"}]}`."""
    return _json({"errors": [{"code": code, "message": message, "details": details}]}, status)


def _invalid_input(problems: list[str]) -> Response[bytes]:
    return _json(
        {
            "errors": [
                {"code": "InvalidInput", "message": problem, "details": ""} for problem in problems
            ]
        },
        400,
        {"x-amzn-RateLimit-Limit": "5.0"},
    )


def _lwa_error(status: int, error: str, description: str) -> Response[bytes]:
    return Response(
        content=json.dumps({"error_description": description, "error": error}).encode(),
        status_code=status,
        media_type="application/json",
        headers={"x-amzn-RequestId": _request_id(), "Cache-Control": "no-store"},
    )


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_iso(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# ---------------------------------------------------------------------------------------------
# Parameter checks against the model's own parameter definitions


def _operation_parameters(spec_name: str, path: str, method: str) -> list[dict[str, Any]]:
    document = specs.load_spec(spec_name)
    item = document["paths"][path]
    params: list[dict[str, Any]] = list(item.get("parameters", []))
    params.extend(item[method.lower()].get("parameters", []))
    return params


def check_query(
    spec_name: str, path: str, method: str, request: Request[Any, Any, Any]
) -> list[str]:
    """Problems with the query string, judged by the operation's Swagger 2.0 parameters."""
    problems: list[str] = []
    query = request.query_params
    for param in _operation_parameters(spec_name, path, method):
        if param.get("in") != "query":
            continue
        name = param["name"]
        raw = query.getall(name, []) if hasattr(query, "getall") else query.get(name)
        values = [v for v in (raw if isinstance(raw, list) else [raw]) if v is not None]
        if not values:
            if param.get("required"):
                problems.append(f"Missing required parameter '{name}'.")
            continue
        problems.extend(_check_param_value(param, values))
    return problems


def _check_param_value(param: dict[str, Any], values: list[str]) -> list[str]:
    name = param["name"]
    kind = param.get("type")
    if kind == "array":
        items: list[str] = []
        for value in values:
            items.extend(p for p in value.split(",") if p != "")
        if not items and param.get("required"):
            return [f"Missing required parameter '{name}'."]
        problems: list[str] = []
        if "maxItems" in param and len(items) > param["maxItems"]:
            problems.append(f"'{name}' accepts at most {param['maxItems']} value(s).")
        allowed = param.get("items", {}).get("enum")
        if allowed:
            problems.extend(
                f"'{item}' is not a valid value for '{name}'."
                for item in items
                if item not in allowed
            )
        return problems
    if len(values) > 1:
        return [f"'{name}' must be given once."]
    value = values[0]
    if kind == "integer":
        try:
            int(value)
        except ValueError:
            return [f"'{name}' must be an integer."]
    if kind == "boolean" and value not in ("true", "false"):
        return [f"'{name}' must be true or false."]
    if "enum" in param and value not in param["enum"]:
        return [f"'{value}' is not a valid value for '{name}'."]
    return []


def _query_problems(
    state: SandboxState, spec_name: str, path: str, method: str, request: Request[Any, Any, Any]
) -> list[str]:
    return check_query(spec_name, path, method, request) if state.validate else []


def _marketplace(request: Request[Any, Any, Any], name: str) -> str:
    return (_csv(request, name) or [DEFAULT_MARKETPLACE])[0]


def _csv(request: Request[Any, Any, Any], name: str) -> list[str]:
    values: list[str] = []
    query = request.query_params
    for raw in query.getall(name, []):
        values.extend(p for p in raw.split(",") if p)
    return values


# ---------------------------------------------------------------------------------------------
# Token checks


def _issue_access_token(root: SandboxState) -> tuple[str, int]:
    ttl = int(root.token_ttl_seconds)
    token = "Atza|" + secrets.token_urlsafe(24)
    root.tokens[token] = ("amazon", datetime.now(UTC) + timedelta(seconds=ttl))
    return token, ttl


def _token_refusal(root: SandboxState, request: Request[Any, Any, Any]) -> Response[bytes] | None:
    """403 `Unauthorized` (the SP-API's answer) unless the access token is known and unexpired."""
    token = request.headers.get("x-amz-access-token")
    details = ""
    entry = root.tokens.get(token) if token else None
    if token and entry is None:
        details = "The access token you provided is revoked, malformed or invalid."
    elif entry is not None:
        api, expires_at = entry
        if api != "amazon":
            details = "The access token you provided is revoked, malformed or invalid."
        elif expires_at <= datetime.now(UTC):
            details = "The access token you provided has expired."
        else:
            return None
    root.amazon.token_rejections += 1
    return sp_error(403, "Unauthorized", UNAUTHORIZED_MESSAGE, details)


# ---------------------------------------------------------------------------------------------
# Listing attribute checks (Product Type Definitions stand-in)


def _issue(
    code: str, message: str, attribute: str, category: str, marketplace: str
) -> dict[str, Any]:
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
                _issue(
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
                _issue(
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
        issues.append(_issue("4000001", problem, name, category, marketplace))
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


def _apply_patches(
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
                _issue(
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
                _issue(
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


def _item_body(listing: AmazonListing, included: list[str]) -> dict[str, Any]:
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
            "createdDate": _iso(listing.created_at),
            "lastUpdatedDate": _iso(listing.updated_at),
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


def _listing_json(listing: AmazonListing) -> dict[str, Any]:
    price, currency = listing_price(listing)
    return {
        "seller_id": listing.seller_id,
        "sku": listing.sku,
        "marketplace_id": listing.marketplace_id,
        "product_type": listing.product_type,
        "requirements": listing.requirements,
        "processed": listing.processed,
        "status": _item_body(listing, ["summaries"])["summaries"][0]["status"],
        "price": str(price) if price is not None else None,
        "currency": currency,
        "quantity": listing_quantity(listing),
        "submissions": listing.submissions,
        "attributes": listing.attributes,
    }


# ---------------------------------------------------------------------------------------------
# Orders


def _order_json(order: AmazonOrder) -> dict[str, Any]:
    total = sum((i.item_price for i in order.items), Decimal(0))
    currency = order.items[0].currency if order.items else "USD"
    return {
        "AmazonOrderId": order.order_id,
        "PurchaseDate": _iso(order.purchase_date),
        "LastUpdateDate": _iso(order.purchase_date),
        "OrderStatus": order.status,
        "FulfillmentChannel": "MFN",
        "SalesChannel": "Amazon.com",
        "OrderTotal": {"CurrencyCode": currency, "Amount": f"{total:.2f}"},
        "NumberOfItemsShipped": 0,
        "NumberOfItemsUnshipped": sum(i.quantity for i in order.items),
        "PaymentMethod": "Other",
        "MarketplaceId": order.marketplace_id,
        "OrderType": "StandardOrder",
        "IsBusinessOrder": False,
        "IsPrime": False,
        "IsPremiumOrder": False,
        "IsReplacementOrder": False,
    }


def _order_item_json(order: AmazonOrder, item: AmazonOrderItem) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ASIN": item.asin,
        "SellerSKU": item.sku,
        "OrderItemId": item.order_item_id,
        "Title": item.title or item.sku,
        "QuantityOrdered": item.quantity,
        "QuantityShipped": 0,
    }
    if order.status not in ("Pending", "PendingAvailability"):
        body["ItemPrice"] = {"CurrencyCode": item.currency, "Amount": f"{item.item_price:.2f}"}
        body["ItemTax"] = {"CurrencyCode": item.currency, "Amount": "0.00"}
    return body


def _new_next_token(state: AmazonState, kind: str, offset: int, key: str) -> str:
    token = secrets.token_urlsafe(18)
    state.next_tokens[token] = (kind, offset, key)
    return token


def _page_size(value: str | None, default: int) -> int | None:
    if value is None:
        return default
    try:
        size = int(value)
    except ValueError:
        return None
    return size if 1 <= size <= 100 else None


# ---------------------------------------------------------------------------------------------


def router(state: SandboxState) -> Router:
    """Routes for Login with Amazon, Listings Items, Orders v0 and /_sandbox/amazon/..."""
    amazon: AmazonState = state.amazon

    @post("/auth/o2/token", status_code=200)
    async def lwa_token(request: Request[Any, Any, Any]) -> Response[bytes]:
        amazon.token_requests += 1
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("application/x-www-form-urlencoded"):
            return _lwa_error(400, "invalid_request", "The Content-Type must be form-encoded.")
        raw_form = parse_qs((await request.body()).decode(errors="replace"), keep_blank_values=True)
        form = {k: v[0] for k, v in raw_form.items()}
        grant = form.get("grant_type", "")
        amazon.token_grants[grant] = amazon.token_grants.get(grant, 0) + 1
        for name in ("grant_type", "client_id", "client_secret"):
            if name not in form:
                return _lwa_error(
                    400, "invalid_request", f"The request is missing a required parameter : {name}"
                )
        if form["client_secret"].startswith("bad"):
            return _lwa_error(401, "invalid_client", "Client authentication failed")
        if grant == "authorization_code":
            code = form.get("code")
            if not code:
                return _lwa_error(
                    400, "invalid_request", "The request is missing a required parameter : code"
                )
            if not code.startswith("good") or code in amazon.used_codes:
                return _lwa_error(
                    400, "invalid_grant", "The authorization code is invalid or has expired."
                )
            amazon.used_codes.add(code)
            refresh_token = "Atzr|" + secrets.token_urlsafe(24)
            amazon.refresh_tokens.add(refresh_token)
        elif grant == "refresh_token":
            refresh_token = form.get("refresh_token", "")
            if not refresh_token:
                return _lwa_error(
                    400,
                    "invalid_request",
                    "The request is missing a required parameter : refresh_token",
                )
            known = refresh_token in amazon.refresh_tokens or refresh_token.startswith("good")
            if not known:
                return _lwa_error(
                    400,
                    "invalid_grant",
                    "The request has an invalid grant parameter : refresh_token",
                )
        else:
            return _lwa_error(
                400, "unsupported_grant_type", f"Unsupported grant_type: {grant or 'none'}"
            )
        access_token, ttl = _issue_access_token(state)
        return Response(
            content=json.dumps(
                {
                    "access_token": access_token,
                    "refresh_token": refresh_token,
                    "token_type": "bearer",
                    "expires_in": ttl,
                }
            ).encode(),
            status_code=200,
            media_type="application/json",
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

    @put("/listings/2021-08-01/items/{seller_id:str}/{sku:str}", status_code=200)
    async def put_listings_item(
        request: Request[Any, Any, Any], seller_id: FromPath[str], sku: FromPath[str]
    ) -> Response[bytes]:
        amazon.requests.append(f"PUT {sku}")
        refusal = _token_refusal(state, request)
        if refusal is not None:
            return refusal
        problems = _query_problems(state, LISTINGS_SPEC, LISTING_PATH, "put", request)
        try:
            body = _decode_json(await request.body())
        except ValueError:
            return _invalid_input([*problems, "Request body is not valid JSON."])
        if body is None:
            problems.append("Request body is required.")
        else:
            if state.validate:
                problems.extend(specs.validate_body("amazon", "putListingsItem", body))
            if not problems and not (
                isinstance(body, dict) and isinstance(body.get("attributes"), dict)
            ):
                problems.append("body.attributes: must be an object")
        if problems:
            return _invalid_input(problems)
        marketplace = _marketplace(request, "marketplaceIds")
        requirements = body.get("requirements") or "LISTING"
        attributes: dict[str, Any] = body["attributes"]
        issues = attribute_issues(requirements, attributes, marketplace)
        submission_id = uuid.uuid4().hex
        if issues:
            return _json(
                {"sku": sku, "status": "INVALID", "submissionId": submission_id, "issues": issues},
                headers={"x-amzn-RateLimit-Limit": "5.0"},
            )
        preview = request.query_params.get("mode") == "VALIDATION_PREVIEW"
        if preview:
            return _json(
                {"sku": sku, "status": "VALID", "submissionId": submission_id, "issues": []}
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
        else:
            existing.product_type = body["productType"]
            existing.requirements = requirements
            existing.attributes = attributes
            existing.marketplace_id = marketplace
            existing.updated_at = now
            existing.submissions += 1
            existing.issues = []
        return _json(
            {"sku": sku, "status": "ACCEPTED", "submissionId": submission_id, "issues": []},
            headers={"x-amzn-RateLimit-Limit": "5.0"},
        )

    @get("/listings/2021-08-01/items/{seller_id:str}/{sku:str}")
    async def get_listings_item(
        request: Request[Any, Any, Any], seller_id: FromPath[str], sku: FromPath[str]
    ) -> Response[bytes]:
        amazon.requests.append(f"GET {sku}")
        refusal = _token_refusal(state, request)
        if refusal is not None:
            return refusal
        problems = _query_problems(state, LISTINGS_SPEC, LISTING_PATH, "get", request)
        if problems:
            return _invalid_input(problems)
        marketplaces = _csv(request, "marketplaceIds") or [DEFAULT_MARKETPLACE]
        listing = amazon.listings.get((seller_id, sku))
        if listing is None or listing.marketplace_id not in marketplaces:
            return sp_error(
                404, "NOT_FOUND", f"SKU '{sku}' not found in marketplace {marketplaces[0]}"
            )
        included = _csv(request, "includedData") or ["summaries"]
        body = _item_body(listing, included)
        if not listing.processed:
            listing.gets_since_submission += 1
            limit = amazon.process_after_gets
            if limit is not None and listing.gets_since_submission >= limit:
                listing.processed = True
        return _json(body, headers={"x-amzn-RateLimit-Limit": "5.0"})

    @patch("/listings/2021-08-01/items/{seller_id:str}/{sku:str}", status_code=200)
    async def patch_listings_item(
        request: Request[Any, Any, Any], seller_id: FromPath[str], sku: FromPath[str]
    ) -> Response[bytes]:
        amazon.requests.append(f"PATCH {sku}")
        refusal = _token_refusal(state, request)
        if refusal is not None:
            return refusal
        problems = _query_problems(state, LISTINGS_SPEC, LISTING_PATH, "patch", request)
        try:
            body = _decode_json(await request.body())
        except ValueError:
            return _invalid_input([*problems, "Request body is not valid JSON."])
        if body is None:
            problems.append("Request body is required.")
        else:
            if state.validate:
                problems.extend(specs.validate_body("amazon", "patchListingsItem", body))
            if not problems and not (
                isinstance(body, dict) and isinstance(body.get("patches"), list)
            ):
                problems.append("body.patches: must be an array")
        if problems:
            return _invalid_input(problems)
        marketplace = _marketplace(request, "marketplaceIds")
        listing = amazon.listings.get((seller_id, sku))
        if listing is None or listing.marketplace_id != marketplace:
            return sp_error(404, "NOT_FOUND", f"SKU '{sku}' not found in marketplace {marketplace}")
        attributes, issues = _apply_patches(listing.attributes, body["patches"], marketplace)
        if not issues:
            issues = attribute_issues(listing.requirements, attributes, marketplace)
        submission_id = uuid.uuid4().hex
        if issues:
            return _json(
                {"sku": sku, "status": "INVALID", "submissionId": submission_id, "issues": issues}
            )
        if request.query_params.get("mode") != "VALIDATION_PREVIEW":
            listing.attributes = attributes
            listing.updated_at = datetime.now(UTC)
            listing.submissions += 1
        status = "VALID" if request.query_params.get("mode") == "VALIDATION_PREVIEW" else "ACCEPTED"
        return _json({"sku": sku, "status": status, "submissionId": submission_id, "issues": []})

    @delete("/listings/2021-08-01/items/{seller_id:str}/{sku:str}", status_code=200)
    async def delete_listings_item(
        request: Request[Any, Any, Any], seller_id: FromPath[str], sku: FromPath[str]
    ) -> Response[bytes]:
        amazon.requests.append(f"DELETE {sku}")
        refusal = _token_refusal(state, request)
        if refusal is not None:
            return refusal
        problems = _query_problems(state, LISTINGS_SPEC, LISTING_PATH, "delete", request)
        if problems:
            return _invalid_input(problems)
        marketplace = _marketplace(request, "marketplaceIds")
        listing = amazon.listings.get((seller_id, sku))
        if listing is None or listing.marketplace_id != marketplace:
            return sp_error(404, "NOT_FOUND", f"SKU '{sku}' not found in marketplace {marketplace}")
        del amazon.listings[(seller_id, sku)]
        return _json(
            {"sku": sku, "status": "ACCEPTED", "submissionId": uuid.uuid4().hex, "issues": []}
        )

    @get("/orders/v0/orders")
    async def get_orders(request: Request[Any, Any, Any]) -> Response[bytes]:
        amazon.requests.append("GET orders")
        refusal = _token_refusal(state, request)
        if refusal is not None:
            return refusal
        problems = _query_problems(state, ORDERS_SPEC, ORDERS_PATH, "get", request)
        if problems:
            return _invalid_input(problems)
        query = request.query_params
        marketplaces = _csv(request, "MarketplaceIds") or [DEFAULT_MARKETPLACE]
        created_after = query.get("CreatedAfter")
        updated_after = query.get("LastUpdatedAfter")
        next_token = query.get("NextToken")
        offset = 0
        if next_token:
            entry = amazon.next_tokens.get(next_token)
            if entry is None or entry[0] != "orders":
                return _invalid_input(["Invalid NextToken."])
            _, offset, key = entry
            created_after = created_after or key
        if not created_after and not updated_after:
            return _invalid_input(["Either CreatedAfter or LastUpdatedAfter must be provided."])
        if created_after and updated_after:
            return _invalid_input(["LastUpdatedAfter cannot be set when CreatedAfter is set."])
        since = _parse_iso(created_after or updated_after or "")
        if since is None:
            return _invalid_input(["CreatedAfter/LastUpdatedAfter must be in ISO 8601 format."])
        page_size = _page_size(query.get("MaxResultsPerPage"), amazon.orders_page_size)
        if page_size is None:
            return _invalid_input(["MaxResultsPerPage must be between 1 and 100."])
        page_size = min(page_size, amazon.orders_page_size)
        statuses = set(_csv(request, "OrderStatuses"))
        matching = [
            o
            for o in sorted(amazon.orders, key=lambda o: (o.purchase_date, o.order_id))
            if o.marketplace_id in marketplaces
            and o.purchase_date >= since
            and (not statuses or o.status in statuses)
        ]
        page = matching[offset : offset + page_size]
        payload: dict[str, Any] = {
            "Orders": [_order_json(o) for o in page],
            "CreatedBefore": _iso(datetime.now(UTC) - timedelta(minutes=2)),
        }
        if offset + page_size < len(matching):
            payload["NextToken"] = _new_next_token(
                amazon, "orders", offset + page_size, created_after or updated_after or ""
            )
        return _json({"payload": payload}, headers={"x-amzn-RateLimit-Limit": "0.0167"})

    @get("/orders/v0/orders/{order_id:str}/orderItems")
    async def get_order_items(
        request: Request[Any, Any, Any], order_id: FromPath[str]
    ) -> Response[bytes]:
        amazon.requests.append(f"GET orderItems {order_id}")
        refusal = _token_refusal(state, request)
        if refusal is not None:
            return refusal
        problems = _query_problems(state, ORDERS_SPEC, ORDER_ITEMS_PATH, "get", request)
        if problems:
            return _invalid_input(problems)
        order = next((o for o in amazon.orders if o.order_id == order_id), None)
        if order is None:
            return sp_error(404, "NotFound", f"Order {order_id} was not found.")
        offset = 0
        next_token = request.query_params.get("NextToken")
        if next_token:
            entry = amazon.next_tokens.get(next_token)
            if entry is None or entry[0] != "items" or entry[2] != order_id:
                return _invalid_input(["Invalid NextToken."])
            offset = entry[1]
        size = amazon.order_items_page_size
        payload: dict[str, Any] = {
            "AmazonOrderId": order.order_id,
            "OrderItems": [_order_item_json(order, i) for i in order.items[offset : offset + size]],
        }
        if offset + size < len(order.items):
            payload["NextToken"] = _new_next_token(amazon, "items", offset + size, order_id)
        return _json({"payload": payload}, headers={"x-amzn-RateLimit-Limit": "0.5"})

    # -- /_sandbox/amazon/... -----------------------------------------------------------------

    @get("/_sandbox/amazon/state")
    async def inspect_state() -> dict[str, Any]:
        return amazon.summary()

    @get("/_sandbox/amazon/listings")
    async def inspect_listings() -> Response[bytes]:
        return _json([_listing_json(listing) for listing in amazon.listings.values()])

    @get("/_sandbox/amazon/orders")
    async def inspect_orders() -> Response[bytes]:
        return _json(
            [
                {**_order_json(o), "OrderItems": [_order_item_json(o, i) for i in o.items]}
                for o in amazon.orders
            ]
        )

    @post("/_sandbox/amazon/orders", status_code=201)
    async def create_order(request: Request[Any, Any, Any]) -> Response[bytes]:
        data = await _control_body(request)
        if data is None:
            return _json({"errors": ["body must be a JSON object"]}, 400)
        problems, order = _order_from_request(amazon, data)
        if order is None:
            return _json({"errors": problems}, 400)
        amazon.orders.append(order)
        return _json(
            {**_order_json(order), "OrderItems": [_order_item_json(order, i) for i in order.items]},
            201,
        )

    @post("/_sandbox/amazon/process", status_code=200)
    async def process(request: Request[Any, Any, Any]) -> Response[bytes]:
        data = await _control_body(request)
        if data is None:
            return _json({"errors": ["body must be a JSON object"]}, 400)
        sku = data.get("sku")
        reject = data.get("reject")
        if reject is not None and not isinstance(reject, str):
            return _json({"errors": ["reject must be a message string"]}, 400)
        done = []
        for listing in amazon.listings.values():
            if sku is None or listing.sku == sku:
                listing.processed = True
                if reject:
                    listing.issues = [
                        _issue(
                            "99300",
                            reject,
                            "item_name",
                            "INVALID_ATTRIBUTE",
                            listing.marketplace_id,
                        )
                    ]
                done.append(listing.sku)
        return _json({"processed": done})

    @post("/_sandbox/amazon/config", status_code=200)
    async def configure(request: Request[Any, Any, Any]) -> Response[bytes]:
        data = await _control_body(request)
        if data is None:
            return _json({"errors": ["body must be a JSON object"]}, 400)
        problems: list[str] = []
        if "process_after_gets" in data:
            value = data["process_after_gets"]
            if value is None or (isinstance(value, int) and value >= 0):
                amazon.process_after_gets = value
            else:
                problems.append("process_after_gets must be null or an integer >= 0")
        for name in ("orders_page_size", "order_items_page_size"):
            if name in data:
                value = data[name]
                if isinstance(value, int) and 1 <= value <= 100:
                    setattr(amazon, name, value)
                else:
                    problems.append(f"{name} must be an integer 1..100")
        if problems:
            return _json({"errors": problems}, 400)
        return _json(
            {
                "process_after_gets": amazon.process_after_gets,
                "orders_page_size": amazon.orders_page_size,
                "order_items_page_size": amazon.order_items_page_size,
            }
        )

    return Router(
        path="/",
        route_handlers=[
            lwa_token,
            put_listings_item,
            get_listings_item,
            patch_listings_item,
            delete_listings_item,
            get_orders,
            get_order_items,
            inspect_state,
            inspect_listings,
            inspect_orders,
            create_order,
            process,
            configure,
        ],
    )


def _order_from_request(
    amazon: AmazonState, data: dict[str, Any]
) -> tuple[list[str], AmazonOrder | None]:
    """An order from `{"sku", "quantity", "price"}` or `{"items": [...]}` (price = unit price)."""
    problems: list[str] = []
    raw_items = data.get("items")
    lines: list[Any] = raw_items if isinstance(raw_items, list) else [data]
    currency = str(data.get("currency") or "USD")
    amazon.order_counter += 1
    n = amazon.order_counter
    order_id = f"113-{n:07d}-{secrets.randbelow(10**7):07d}"
    items: list[AmazonOrderItem] = []
    for index, line in enumerate(lines):
        if not isinstance(line, dict):
            problems.append(f"items[{index}] must be an object")
            continue
        sku = line.get("sku")
        quantity = line.get("quantity", 1)
        try:
            unit_price = Decimal(str(line.get("price")))
        except InvalidOperation:
            unit_price = Decimal(-1)
        if not isinstance(sku, str) or not sku:
            problems.append(f"items[{index}].sku is required")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
            problems.append(f"items[{index}].quantity must be an integer >= 1")
        if not unit_price.is_finite() or unit_price < 0:
            problems.append(f"items[{index}].price must be a decimal >= 0")
        if problems:
            continue
        items.append(
            AmazonOrderItem(
                order_item_id=f"{n:07d}{index:04d}{secrets.randbelow(1000):03d}",
                sku=str(sku),
                quantity=int(quantity),
                item_price=(unit_price * quantity).quantize(Decimal("0.01")),
                currency=str(line.get("currency") or currency),
                title=str(line.get("title") or ""),
            )
        )
    purchase_date = datetime.now(UTC)
    if data.get("purchase_date"):
        parsed = _parse_iso(str(data["purchase_date"]))
        if parsed is None:
            problems.append("purchase_date must be ISO 8601")
        else:
            purchase_date = parsed
    status = str(data.get("status") or "Unshipped")
    if status not in (
        "Pending",
        "Unshipped",
        "PartiallyShipped",
        "Shipped",
        "Canceled",
        "Unfulfillable",
        "InvoiceUnconfirmed",
        "PendingAvailability",
    ):
        problems.append(f"status {status!r} is not an Orders v0 OrderStatus")
    if not items and not problems:
        problems.append("an order needs at least one item")
    if problems:
        return problems, None
    return [], AmazonOrder(
        order_id=order_id,
        marketplace_id=str(data.get("marketplace_id") or DEFAULT_MARKETPLACE),
        purchase_date=purchase_date,
        status=status,
        items=items,
    )
