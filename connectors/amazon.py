"""Amazon Selling Partner API connector (Listings Items 2021-08-01, Orders v0, Login with Amazon).

Why it looks the way it does:
- Tokens come from Login with Amazon (LWA) and travel in the `x-amz-access-token` header; the
  SP-API reports an expired or invalid token as HTTP 403 with `errors[].code == "Unauthorized"`
  (not 401), so the connector refreshes once on that answer as well as on a 401.
- Listings are keyed by seller + SKU, so PUT is a full, idempotent replace: a retried create
  updates. The answer is asynchronous: `ACCEPTED` means queued, so the listing is reported as
  "pending" until `getListingsItem` shows `BUYABLE` in its summary.
- Cancelling first PATCHes `fulfillment_availability` to quantity 0, then DELETEs the listings
  item: both are processed asynchronously, and the zero quantity stops sales even when the delete
  fails or lags.
- `validate_listing` sends the same PUT with `mode=VALIDATION_PREVIEW`: Amazon validates it against
  the product type and answers VALID or INVALID with issues, and changes nothing.
- Sales come from Orders v0 getOrders/getOrderItems (deprecated but supported); `ItemPrice` is
  already the total for the quantity ordered, so it is the revenue as is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Final, TypeVar
from urllib.parse import quote

import httpx
import msgspec

from connectors.base import (
    ChannelAccount,
    ExternalChannel,
    ListingProblem,
    ListingRequest,
    ListingState,
    ListingStatus,
    ListingValidation,
    SyncedSale,
    TokenSet,
    authorization_code_form,
)
from connectors.errors import AuthenticationError, PermanentChannelError
from connectors.http import redact
from connectors.rate_budget import BudgetRequest

log = logging.getLogger(__name__)
_T = TypeVar("_T")

API: Final = "amazon"
# Amazon.com (US). The real marketplace id is ATVPDKIKX0DER.
DEFAULT_MARKETPLACE_ID: Final = "ATVPDKIKX0DER"
# The API contract spells the US default "ATVPDKIKX0D"; callers following it get the real id.
MARKETPLACE_ALIASES: Final = {"ATVPDKIKX0D": DEFAULT_MARKETPLACE_ID}
DEFAULT_PRODUCT_TYPE: Final = "PRODUCT"
LISTINGS_PREFIX: Final = "/listings/2021-08-01/items"
ORDERS_PATH: Final = "/orders/v0/orders"
MONITOR_INCLUDED_DATA: Final = "summaries,offers,fulfillmentAvailability,issues"
# Orders in these states carry no settled sale: Pending has no prices yet, Canceled never sold.
NOT_SOLD_STATUSES: Final = frozenset(
    {"Pending", "PendingAvailability", "Canceled", "Unfulfillable"}
)

_LANGUAGE_TAGS: Final = {
    "ATVPDKIKX0DER": "en_US",
    "A2EUQ1WTGCTBG2": "en_CA",
    "A1F83G8C2ARO7P": "en_GB",
    "A1PA6795UKMFR9": "de_DE",
    "A13V1IB3VIYZZH": "fr_FR",
    "APJ6JRA9NG5V4": "it_IT",
    "A1RKKUPIHCS9HS": "es_ES",
    "A1VC38T7YXB528": "ja_JP",
}

# Our generic condition names -> Amazon `condition_type` values (ItemSummaryByMarketplace enum).
_CONDITIONS: Final = {
    "NEW": "new_new",
    "NEW_OPEN_BOX": "new_open_box",
    "NEW_OEM": "new_oem",
    "REFURBISHED": "refurbished_refurbished",
    "USED": "used_good",
    "USED_LIKE_NEW": "used_like_new",
    "USED_VERY_GOOD": "used_very_good",
    "USED_GOOD": "used_good",
    "USED_ACCEPTABLE": "used_acceptable",
}
_AMAZON_CONDITIONS: Final = frozenset(
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

_ENCODER: Final = msgspec.json.Encoder(decimal_format="number")


# ---------------------------------------------------------------------------------------------
# Wire shapes decoded from Amazon (unknown fields allowed: Amazon adds fields without notice).


class _LwaToken(msgspec.Struct, frozen=True):
    access_token: str
    expires_in: int
    token_type: str = "bearer"
    refresh_token: str | None = None


class _Issue(msgspec.Struct, frozen=True):
    code: str = ""
    message: str = ""
    severity: str = ""
    attributeNames: list[str] = []


class _Submission(msgspec.Struct, frozen=True):
    sku: str
    status: str
    submissionId: str
    issues: list[_Issue] = []


class _Money(msgspec.Struct, frozen=True):
    amount: str
    currencyCode: str


class _Summary(msgspec.Struct, frozen=True):
    marketplaceId: str
    status: list[str] = []


class _Offer(msgspec.Struct, frozen=True):
    marketplaceId: str
    price: _Money | None = None


class _Availability(msgspec.Struct, frozen=True):
    fulfillmentChannelCode: str
    quantity: int | None = None


class _Item(msgspec.Struct, frozen=True):
    sku: str
    summaries: list[_Summary] = []
    offers: list[_Offer] = []
    fulfillmentAvailability: list[_Availability] = []
    issues: list[_Issue] = []


class _OrderMoney(msgspec.Struct, frozen=True):
    CurrencyCode: str | None = None
    Amount: str | None = None


class _Order(msgspec.Struct, frozen=True):
    AmazonOrderId: str
    PurchaseDate: str
    OrderStatus: str


class _OrdersPayload(msgspec.Struct, frozen=True):
    Orders: list[_Order]
    NextToken: str | None = None


class _OrdersResponse(msgspec.Struct, frozen=True):
    payload: _OrdersPayload


class _OrderItem(msgspec.Struct, frozen=True):
    OrderItemId: str
    QuantityOrdered: int
    SellerSKU: str | None = None
    ItemPrice: _OrderMoney | None = None


class _OrderItemsPayload(msgspec.Struct, frozen=True):
    AmazonOrderId: str
    OrderItems: list[_OrderItem]
    NextToken: str | None = None


class _OrderItemsResponse(msgspec.Struct, frozen=True):
    payload: _OrderItemsPayload


# ---------------------------------------------------------------------------------------------
# Error text helpers


def sp_api_error_text(response: httpx.Response) -> str:
    """The SP-API's own message from `{"errors": [{"code", "message", "details"}]}`."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code} from Amazon SP-API"
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list) or not errors:
        return f"HTTP {response.status_code} from Amazon SP-API"
    parts: list[str] = []
    for err in errors:
        if not isinstance(err, dict):
            continue
        text = f"{err.get('code', '')}: {err.get('message', '')}".strip(": ")
        details = err.get("details")
        if details:
            text = f"{text} ({details})"
        parts.append(text)
    return "; ".join(parts) or f"HTTP {response.status_code} from Amazon SP-API"


def lwa_error_text(response: httpx.Response) -> str:
    """LWA's own message from `{"error", "error_description"}`."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code} from Login with Amazon"
    if isinstance(body, dict) and (body.get("error") or body.get("error_description")):
        desc = body.get("error_description") or ""
        return f"{body.get('error', 'error')}: {desc}".rstrip(": ")
    return f"HTTP {response.status_code} from Login with Amazon"


def _is_token_rejection(response: httpx.Response) -> bool:
    """SP-API answers a bad/expired access token with 403 and code `Unauthorized`."""
    if response.status_code == 401:
        return True
    if response.status_code != 403:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    errors = body.get("errors") if isinstance(body, dict) else None
    return isinstance(errors, list) and any(
        isinstance(e, dict) and e.get("code") == "Unauthorized" for e in errors
    )


def _redact(text: str, secrets: Sequence[str | None]) -> str:
    """Belt and braces: never let a token or client secret leak into an error string."""
    return redact(text, [s for s in secrets if s])


def _error_reader(
    rejected: list[bool], secrets: Sequence[str | None]
) -> Callable[[httpx.Response], str]:
    """Error text for ApiClient; notes in `rejected` whether the answer refused our token."""

    def read(response: httpx.Response) -> str:
        if _is_token_rejection(response):
            rejected.append(True)
        return _redact(sp_api_error_text(response), secrets)

    return read


def _issue_text(issues: Sequence[_Issue]) -> str:
    return "; ".join(
        f"{i.code}: {i.message}" if i.code else i.message for i in issues if i.message or i.code
    )


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------------


class AmazonChannel(ExternalChannel):
    """Lists clearance stock on Amazon and pulls back what sold there."""

    name: ClassVar[str] = "amazon"

    # -- tokens --------------------------------------------------------------------------------

    async def authenticate(self, credentials: Mapping[str, str]) -> ChannelAccount:
        """Exchange an authorization code (or a refresh token) for LWA tokens."""
        seller_id = (credentials.get("seller_id") or "").strip()
        if not seller_id:
            raise AuthenticationError("seller_id is required for Amazon", api=API)
        refresh_token = credentials.get("refresh_token")
        form = authorization_code_form(credentials)
        if form is None and refresh_token:
            form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        if form is None:
            raise AuthenticationError(
                "authorization_code or refresh_token is required for Amazon", api=API
            )
        tokens = await self._token_request(form, keep_refresh_token=refresh_token)
        if tokens.refresh_token is None:
            raise AuthenticationError("Login with Amazon returned no refresh_token", api=API)
        return ChannelAccount(
            channel=self.name,
            tokens=tokens,
            marketplace_id=_marketplace(credentials.get("marketplace_id")),
            seller_id=seller_id,
        )

    async def refresh(self, account: ChannelAccount) -> None:
        """New access token from the stored refresh token (LWA keeps the refresh token)."""
        refresh_token = account.tokens.refresh_token
        if not refresh_token:
            raise AuthenticationError("no refresh token stored for this Amazon account", api=API)
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        account.tokens = await self._token_request(form, keep_refresh_token=refresh_token)

    async def _token_request(
        self, form: dict[str, str], *, keep_refresh_token: str | None
    ) -> TokenSet:
        form = {
            **form,
            "client_id": self.config.amazon_client_id,
            "client_secret": self.config.amazon_client_secret,
        }
        secrets = [form.get("code"), form.get("refresh_token"), self.config.amazon_client_secret]
        try:
            response = await self.api.request(
                API,
                "POST",
                self.config.amazon_token_url,
                data=form,
                headers={"Accept": "application/json"},
                error_message=lambda r: _redact(lwa_error_text(r), secrets),
            )
        except PermanentChannelError as exc:
            raise AuthenticationError(
                _redact(exc.message, secrets), api=API, status=exc.status
            ) from None
        if response.status_code >= 300:
            raise AuthenticationError(
                _redact(lwa_error_text(response), secrets), api=API, status=response.status_code
            )
        try:
            token = msgspec.json.decode(response.content, type=_LwaToken)
        except msgspec.DecodeError as exc:
            raise AuthenticationError(
                f"unexpected Login with Amazon answer: {exc}", api=API, status=response.status_code
            ) from None
        return TokenSet(
            access_token=token.access_token,
            expires_at=datetime.now(UTC) + timedelta(seconds=token.expires_in),
            refresh_token=token.refresh_token or keep_refresh_token,
        )

    # -- SP-API calls --------------------------------------------------------------------------

    async def _sp_call(
        self,
        account: ChannelAccount,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> httpx.Response | None:
        """One SP-API call: fresh token first, one refresh + retry on a token rejection.

        Returns None on 404 (callers decide what "not there" means).
        """
        await self._ensure_fresh(account)
        url = self.config.amazon_base_url.rstrip("/") + path
        content = _ENCODER.encode(body) if body is not None else None
        for attempt in range(2):
            secrets = [
                account.tokens.access_token,
                account.tokens.refresh_token,
                self.config.amazon_client_secret,
            ]
            rejected: list[bool] = []
            error_message = _error_reader(rejected, secrets)
            headers = {
                "x-amz-access-token": account.tokens.access_token,
                "Accept": "application/json",
                "user-agent": "channel-router/0.1 (Language=Python)",
            }
            if content is not None:
                headers["Content-Type"] = "application/json"
            try:
                response = await self.api.request(
                    API,
                    method,
                    url,
                    headers=headers,
                    params=dict(params) if params else None,
                    content=content,
                    error_message=error_message,
                    budget_request=BudgetRequest(account_key=account.seller_id or ""),
                )
            except PermanentChannelError as exc:
                if rejected and attempt == 0:
                    log.info("amazon: access token rejected (HTTP %s); refreshing once", exc.status)
                    await self.refresh(account)
                    continue
                if rejected:
                    raise AuthenticationError(
                        f"access token refused after a refresh: {exc.message}",
                        api=API,
                        status=exc.status,
                    ) from None
                if exc.status == 404:
                    return None
                raise
            if response.status_code == 401:
                if attempt == 0:
                    log.info("amazon: access token rejected (HTTP 401); refreshing once")
                    await self.refresh(account)
                    continue
                raise AuthenticationError(
                    "access token refused after a refresh: "
                    + _redact(sp_api_error_text(response), secrets),
                    api=API,
                    status=401,
                )
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _listing_path(self, account: ChannelAccount, sku: str) -> str:
        seller = account.seller_id
        if not seller:
            raise PermanentChannelError("Amazon account has no seller_id", api=API)
        return f"{LISTINGS_PREFIX}/{quote(seller, safe='')}/{quote(sku, safe='')}"

    # -- listings ------------------------------------------------------------------------------

    def listing_body(self, account: ChannelAccount, listing: ListingRequest) -> dict[str, Any]:
        """ListingsItemPutRequest for an offer with price and quantity (public for tests/docs)."""
        marketplace = account.marketplace_id
        language = _LANGUAGE_TAGS.get(marketplace, "en_US")
        condition = _condition_type(listing.condition)
        attributes: dict[str, Any] = {
            "item_name": [
                {"value": listing.title, "language_tag": language, "marketplace_id": marketplace}
            ],
            "condition_type": [{"value": condition, "marketplace_id": marketplace}],
            "purchasable_offer": [
                {
                    "marketplace_id": marketplace,
                    "currency": listing.currency,
                    "audience": "ALL",
                    "our_price": [{"schedule": [{"value_with_tax": listing.price}]}],
                }
            ],
            "fulfillment_availability": [
                {"fulfillment_channel_code": "DEFAULT", "quantity": listing.quantity}
            ],
        }
        if listing.description:
            attributes["product_description"] = [
                {
                    "value": listing.description,
                    "language_tag": language,
                    "marketplace_id": marketplace,
                }
            ]
        return {
            "productType": account.extra.get("product_type") or DEFAULT_PRODUCT_TYPE,
            "requirements": "LISTING",
            "attributes": attributes,
        }

    async def create_listing(
        self, account: ChannelAccount, listing: ListingRequest
    ) -> ListingState:
        """PUT the listings item (full replace, so a retry updates rather than duplicates)."""
        if listing.quantity < 0:
            raise PermanentChannelError("quantity must be >= 0", api=API)
        path = self._listing_path(account, listing.sku)
        response = await self._sp_call(
            account,
            "PUT",
            path,
            params={"marketplaceIds": account.marketplace_id},
            body=self.listing_body(account, listing),
        )
        if response is None:
            raise PermanentChannelError("putListingsItem answered 404", api=API, status=404)
        submission = _decode(response, _Submission)
        errors = [i for i in submission.issues if i.severity == "ERROR"]
        if submission.status != "ACCEPTED" or errors:
            text = _issue_text(errors or submission.issues) or f"submission {submission.status}"
            raise PermanentChannelError(f"Amazon refused listing {listing.sku}: {text}", api=API)
        return ListingState(
            channel=self.name,
            sku=listing.sku,
            external_listing_id=listing.sku,
            status="pending",
            quantity_available=listing.quantity,
            price=listing.price,
            detail=f"submission {submission.submissionId} ACCEPTED; not live until BUYABLE",
        )

    async def validate_listing(
        self, account: ChannelAccount, listing: ListingRequest
    ) -> ListingValidation:
        """putListingsItem with mode=VALIDATION_PREVIEW: Amazon's verdict, nothing stored."""
        problems = _local_problems(listing)
        try:
            body = self.listing_body(account, listing)
        except PermanentChannelError as exc:
            return ListingValidation(
                channel=self.name,
                checked_by="local",
                problems=[*problems, ListingProblem(self.name, "condition", exc.message)],
            )
        if problems:
            return ListingValidation(channel=self.name, checked_by="local", problems=problems)
        response = await self._sp_call(
            account,
            "PUT",
            self._listing_path(account, listing.sku),
            params={"marketplaceIds": account.marketplace_id, "mode": "VALIDATION_PREVIEW"},
            body=body,
        )
        if response is None:
            raise PermanentChannelError("putListingsItem answered 404", api=API, status=404)
        submission = _decode(response, _Submission)
        found = [
            ListingProblem(
                channel=self.name,
                field=(
                    "attributes." + issue.attributeNames[0]
                    if issue.attributeNames
                    else "attributes"
                ),
                message=issue.message,
                code=issue.code,
                severity="error" if issue.severity == "ERROR" else "warning",
            )
            for issue in submission.issues
            if issue.severity in ("ERROR", "WARNING")
        ]
        if submission.status not in ("VALID", "INVALID"):
            found.append(
                ListingProblem(
                    self.name, "mode", f"VALIDATION_PREVIEW answered {submission.status}"
                )
            )
        elif submission.status == "INVALID" and not any(p.severity == "error" for p in found):
            found.append(
                ListingProblem(self.name, "attributes", "Amazon found the listing INVALID")
            )
        return ListingValidation(
            channel=self.name,
            checked_by="marketplace",
            problems=found,
            detail=f"VALIDATION_PREVIEW {submission.status} (submission {submission.submissionId})",
        )

    async def monitor_listing(
        self, account: ChannelAccount, sku: str, external_listing_id: str
    ) -> ListingState:
        """getListingsItem: BUYABLE -> active; 404 -> ended; not buyable with ERROR issues ->
        rejected; otherwise pending (accepted, still being processed)."""
        sku = external_listing_id or sku
        response = await self._sp_call(
            account,
            "GET",
            self._listing_path(account, sku),
            params={
                "marketplaceIds": account.marketplace_id,
                "includedData": MONITOR_INCLUDED_DATA,
            },
        )
        if response is None:
            return self._ended(sku, "listings item not found")
        item = _decode(response, _Item)
        marketplace = account.marketplace_id
        summary_status = [
            s
            for summary in item.summaries
            if summary.marketplaceId == marketplace
            for s in summary.status
        ]
        errors = [i for i in item.issues if i.severity == "ERROR"]
        status: ListingStatus
        if "BUYABLE" in summary_status:
            status = "active"
        elif errors:
            status = "rejected"
        else:
            status = "pending"
        quantity: int | None = None
        for availability in item.fulfillmentAvailability:
            if availability.quantity is not None:
                quantity = (quantity or 0) + availability.quantity
        price: Decimal | None = None
        for offer in item.offers:
            if offer.marketplaceId == marketplace and offer.price is not None:
                price = _decimal(offer.price.amount)
                break
        if errors:
            detail = _issue_text(errors)
        elif status == "pending":
            detail = "accepted; not yet BUYABLE" + (
                f" ({','.join(summary_status)})" if summary_status else ""
            )
        else:
            detail = ",".join(summary_status)
        return ListingState(
            channel=self.name,
            sku=sku,
            external_listing_id=sku,
            status=status,
            quantity_available=quantity,
            price=price,
            detail=detail,
        )

    async def cancel_listing(
        self, account: ChannelAccount, sku: str, external_listing_id: str
    ) -> ListingState:
        """Take the offer down: PATCH quantity to 0, then deleteListingsItem.

        The PATCH stops sales even if the delete then fails; a listings item that is already
        gone (404 on either call) counts as ended.
        """
        sku = external_listing_id or sku
        path = self._listing_path(account, sku)
        params = {"marketplaceIds": account.marketplace_id}
        zero = {
            "productType": account.extra.get("product_type") or DEFAULT_PRODUCT_TYPE,
            "patches": [
                {
                    "op": "replace",
                    "path": "/attributes/fulfillment_availability",
                    "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 0}],
                }
            ],
        }
        patched = await self._sp_call(account, "PATCH", path, params=params, body=zero)
        response = None
        if patched is not None:
            submission = _decode(patched, _Submission)
            if submission.status != "ACCEPTED":
                log.info("amazon: quantity-0 patch for a listing was %s", submission.status)
            response = await self._sp_call(account, "DELETE", path, params=params)
        detail = "listings item already gone"
        if response is not None:
            submission = _decode(response, _Submission)
            errors = [i for i in submission.issues if i.severity == "ERROR"]
            if submission.status != "ACCEPTED" or errors:
                text = _issue_text(errors or submission.issues) or f"submission {submission.status}"
                raise PermanentChannelError(f"Amazon refused to delete {sku}: {text}", api=API)
            detail = f"deletion submission {submission.submissionId} ACCEPTED"
        return self._ended(sku, detail)

    def _ended(self, sku: str, detail: str) -> ListingState:
        """A listing that is no longer (or never was) on Amazon: nothing left to sell."""
        return ListingState(
            channel=self.name,
            sku=sku,
            external_listing_id=sku,
            status="ended",
            quantity_available=0,
            detail=detail,
        )

    # -- sales ---------------------------------------------------------------------------------

    async def sync_sales(self, account: ChannelAccount, since: datetime) -> list[SyncedSale]:
        """Orders created since `since` (all pages), one SyncedSale per order item sold."""
        sales: list[SyncedSale] = []
        # Amazon refuses dates in the future (and very recent ones for CreatedBefore); asking a
        # little further back only widens the window, never loses an order.
        latest = datetime.now(UTC) - timedelta(minutes=2)
        created_after = min(since if since.tzinfo else since.replace(tzinfo=UTC), latest)
        params: dict[str, str] = {
            "MarketplaceIds": account.marketplace_id,
            "CreatedAfter": _iso(created_after),
        }
        next_token: str | None = None
        seen_tokens: set[str] = set()
        while True:
            page_params = dict(params)
            if next_token:
                page_params["NextToken"] = next_token
            response = await self._sp_call(account, "GET", ORDERS_PATH, params=page_params)
            if response is None:
                raise PermanentChannelError("getOrders answered 404", api=API, status=404)
            page = _decode(response, _OrdersResponse).payload
            for order in page.Orders:
                if order.OrderStatus in NOT_SOLD_STATUSES:
                    continue
                sales.extend(await self._order_sales(account, order))
            next_token = page.NextToken or None
            if not next_token:
                return sales
            _check_progress(next_token, seen_tokens, "getOrders")

    async def _order_sales(self, account: ChannelAccount, order: _Order) -> list[SyncedSale]:
        sold_at = _parse_time(order.PurchaseDate)
        path = f"{ORDERS_PATH}/{quote(order.AmazonOrderId, safe='')}/orderItems"
        sales: list[SyncedSale] = []
        next_token: str | None = None
        seen_tokens: set[str] = set()
        while True:
            params = {"NextToken": next_token} if next_token else None
            response = await self._sp_call(account, "GET", path, params=params)
            if response is None:
                raise PermanentChannelError(
                    f"order {order.AmazonOrderId} not found", api=API, status=404
                )
            page = _decode(response, _OrderItemsResponse).payload
            for item in page.OrderItems:
                if not item.SellerSKU or item.QuantityOrdered <= 0:
                    continue
                price = item.ItemPrice
                if price is None or price.Amount is None:
                    continue  # no price yet (Pending): not a settled sale
                sales.append(
                    SyncedSale(
                        channel=self.name,
                        order_id=order.AmazonOrderId,
                        sku=item.SellerSKU,
                        units_sold=item.QuantityOrdered,
                        revenue=_decimal(price.Amount),
                        currency=price.CurrencyCode or "",
                        sold_at=sold_at,
                        external_listing_id=item.SellerSKU,
                    )
                )
            next_token = page.NextToken or None
            if not next_token:
                return sales
            _check_progress(next_token, seen_tokens, "getOrderItems")


def _local_problems(listing: ListingRequest) -> list[ListingProblem]:
    """What Amazon would refuse that we can tell without asking (the preview needs a body)."""
    problems: list[ListingProblem] = []
    if not listing.title.strip():
        problems.append(ListingProblem(API, "attributes.item_name", "a title is required"))
    if listing.quantity < 0:
        problems.append(
            ListingProblem(API, "attributes.fulfillment_availability", "quantity must be >= 0")
        )
    if not listing.price.is_finite() or listing.price <= 0:
        problems.append(
            ListingProblem(API, "attributes.purchasable_offer", "the price must be more than 0")
        )
    return problems


def _check_progress(token: str, seen: set[str], operation: str) -> None:
    """Stop instead of looping forever when Amazon hands back a NextToken it gave before."""
    if token in seen:
        raise PermanentChannelError(f"{operation} repeated a NextToken; stopping", api=API)
    seen.add(token)


def _condition_type(condition: str) -> str:
    value = condition.strip()
    if value in _AMAZON_CONDITIONS:
        return value
    mapped = _CONDITIONS.get(value.upper().replace(" ", "_").replace("-", "_"))
    if mapped is None:
        raise PermanentChannelError(f"unsupported condition for Amazon: {condition!r}", api=API)
    return mapped


def _decimal(value: str) -> Decimal:
    try:
        return Decimal(value)
    except InvalidOperation:
        raise PermanentChannelError(
            f"Amazon sent a non-decimal amount: {value!r}", api=API
        ) from None


def _decode(response: httpx.Response, type_: type[_T]) -> _T:
    try:
        return msgspec.json.decode(response.content, type=type_)
    except msgspec.DecodeError as exc:
        raise PermanentChannelError(
            f"unexpected Amazon answer (HTTP {response.status_code}): {exc}",
            api=API,
            status=response.status_code,
        ) from None


def _marketplace(given: str | None) -> str:
    """The marketplace id to use: given (aliases resolved) or the US default."""
    if not given:
        return DEFAULT_MARKETPLACE_ID
    return MARKETPLACE_ALIASES.get(given, given)
