"""eBay connector: Sell Inventory, Account and Fulfillment APIs with eBay user OAuth tokens.

Why it looks the way it does:
- Tokens come from `POST {ebay_base_url}/identity/v1/oauth2/token` (Basic auth with the service's
  own client id and secret, form body). Access tokens live about two hours; a refresh grant returns
  a new access token only, so the refresh token is kept. Token errors arrive in OAuth's shape
  (`{"error", "error_description"}`) and become `AuthenticationError` with that description.
- A listing is inventory item (PUT, full replace) + offer (one per SKU, marketplace and format) +
  publish. The SKU is the idempotency key: a retry finds the existing offer through `getOffers` and
  updates it instead of creating a second one; a published offer is revised by `updateOffer` alone.
- `external_listing_id` is the **offerId**: it is stable for the life of the SKU's offer (a
  listingId changes when an offer is withdrawn and published again) and every call we make is
  keyed by it. The listingId is reported in `ListingState.detail`.
- Fixed-price listings are good-till-cancelled, so a campaign's end is our `withdrawOffer`.
- `validate_listing` checks the docs' "required to publish" rules on our side (`publish_problems`:
  business policies, inventory location, category, quantity, price, title, condition) and then,
  reading only, that the account's policies and location still exist on eBay.
- Revenue is the line item's price (`discountedLineItemCost` when a promotion applied, else
  `lineItemCost`): what the buyer paid for the units, without shipping and tax, and never a fee.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Final
from urllib.parse import parse_qs, quote, urlsplit

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
from connectors.errors import AuthenticationError, ChannelError, PermanentChannelError
from connectors.rate_budget import BudgetRequest

log = logging.getLogger(__name__)

API: Final = "ebay"
TOKEN_PATH: Final = "/identity/v1/oauth2/token"
INVENTORY: Final = "/sell/inventory/v1"
ACCOUNT: Final = "/sell/account/v1"
FULFILLMENT: Final = "/sell/fulfillment/v1"
SCOPES: Final = (
    "https://api.ebay.com/oauth/api_scope/sell.inventory",
    "https://api.ebay.com/oauth/api_scope/sell.account",
    "https://api.ebay.com/oauth/api_scope/sell.fulfillment",
)
# Asked for on the consent page only (on top of SCOPES): it lets the code exchange read the
# seller's user name (Commerce Identity getUser), shown as who the account is connected as.
# Refreshes ask for SCOPES alone, a subset of any consent, so an account consented without it
# (a refresh token given to the API) keeps working.
IDENTITY_SCOPE: Final = "https://api.ebay.com/oauth/api_scope/commerce.identity.readonly"
CONSENT_SCOPES: Final = (*SCOPES, IDENTITY_SCOPE)
IDENTITY_USER_PATH: Final = "/commerce/identity/v1/user/"
DEFAULT_MARKETPLACE: Final = "EBAY_US"
LOCATION_KEY: Final = "channel-router-default"
FORMAT: Final = "FIXED_PRICE"
# eBay's maximum page size for getOrders.
ORDERS_PAGE_LIMIT: Final = 200
MAX_TITLE: Final = 80
# Used when neither the listing's category nor account.extra["category_id"] is an eBay category id.
# 88433 is eBay US "Everything Else > Other"; override per account for anything else.
DEFAULT_CATEGORY_ID: Final = "88433"
NON_MOTORS: Final = "ALL_EXCLUDING_MOTORS_VEHICLES"
# Offer/listing states -> our status.
ENDED_LISTING_STATUSES: Final = frozenset({"ENDED", "INACTIVE"})


class Marketplace(msgspec.Struct, frozen=True):
    """What a marketplace needs for defaults: request language, currency, country, shipping."""

    language: str
    currency: str
    country: str
    shipping_carrier: str
    shipping_service: str
    postal_code: str


MARKETPLACES: Final[dict[str, Marketplace]] = {
    "EBAY_US": Marketplace("en-US", "USD", "US", "USPS", "USPSPriority", "95125"),
    "EBAY_GB": Marketplace(
        "en-GB", "GBP", "GB", "RoyalMail", "UK_RoyalMailFirstClassStandard", "EC1A 1BB"
    ),
    "EBAY_DE": Marketplace("de-DE", "EUR", "DE", "DHL", "DE_DHLPaket", "10115"),
}


# --- wire shapes we decode (only the fields we use; eBay adds fields freely, so no forbid) ---


class _TokenResponse(msgspec.Struct, frozen=True):
    access_token: str
    expires_in: int
    refresh_token: str | None = None
    refresh_token_expires_in: int | None = None


class _OAuthError(msgspec.Struct, frozen=True):
    error: str = ""
    error_description: str = ""


class _ErrorParameter(msgspec.Struct, frozen=True):
    name: str = ""
    value: str = ""


class _Error(msgspec.Struct, frozen=True):
    errorId: int = 0
    message: str = ""
    longMessage: str = ""
    parameters: list[_ErrorParameter] = []


class _Errors(msgspec.Struct, frozen=True):
    errors: list[_Error] = []


class _Amount(msgspec.Struct, frozen=True):
    value: str = "0"
    currency: str = ""


class _ListingDetails(msgspec.Struct, frozen=True):
    listingId: str | None = None
    listingStatus: str | None = None
    soldQuantity: int = 0


class _PricingSummary(msgspec.Struct, frozen=True):
    price: _Amount | None = None


class _Offer(msgspec.Struct, frozen=True):
    offerId: str
    sku: str = ""
    marketplaceId: str = ""
    format: str = ""
    status: str = ""
    availableQuantity: int | None = None
    pricingSummary: _PricingSummary | None = None
    listing: _ListingDetails | None = None


class _Offers(msgspec.Struct, frozen=True):
    offers: list[_Offer] = []
    total: int = 0


class _OfferResponse(msgspec.Struct, frozen=True):
    offerId: str


class _PublishResponse(msgspec.Struct, frozen=True):
    listingId: str | None = None


class _LineItem(msgspec.Struct, frozen=True):
    sku: str | None = None
    quantity: int = 0
    lineItemCost: _Amount | None = None
    discountedLineItemCost: _Amount | None = None
    total: _Amount | None = None
    legacyItemId: str | None = None


class _CancelStatus(msgspec.Struct, frozen=True):
    cancelState: str | None = None


class _Order(msgspec.Struct, frozen=True):
    orderId: str
    creationDate: str
    lineItems: list[_LineItem] = []
    cancelStatus: _CancelStatus | None = None


class _OrderPage(msgspec.Struct, frozen=True):
    orders: list[_Order] = []
    total: int = 0
    limit: int = 0
    offset: int = 0
    next: str | None = None


def ebay_error_message(response: httpx.Response) -> str:
    """The API's own error text from an eBay response (`errors[]`, or OAuth's shape)."""
    try:
        payload = msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        return f"HTTP {response.status_code} from eBay"
    if isinstance(payload, dict) and "errors" in payload:
        try:
            errors = msgspec.convert(payload, _Errors).errors
        except msgspec.ValidationError:
            errors = []
        parts = [f"{e.longMessage or e.message} (errorId {e.errorId})" for e in errors if e.message]
        if parts:
            return "; ".join(parts)
    if isinstance(payload, dict) and "error" in payload:
        try:
            oauth = msgspec.convert(payload, _OAuthError)
        except msgspec.ValidationError:
            oauth = _OAuthError()
        return oauth.error_description or oauth.error or f"HTTP {response.status_code} from eBay"
    return f"HTTP {response.status_code} from eBay"


def _decimal(value: str) -> Decimal:
    try:
        return Decimal(value)
    except InvalidOperation as exc:
        raise PermanentChannelError(f"eBay sent an invalid amount {value!r}", api=API) from exc


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _iso(moment: datetime) -> str:
    """eBay's timestamp format: UTC, milliseconds, trailing Z."""
    utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


class EbayChannel(ExternalChannel):
    """eBay through the Sell APIs; see the module docstring for the choices made."""

    name: ClassVar[str] = "ebay"
    pending_may_go_live: ClassVar[bool] = False  # an unpublished offer stays unpublished

    # --- OAuth ---

    async def authenticate(self, credentials: Mapping[str, str]) -> ChannelAccount:
        """Exchange the code (or take the refresh token), then set up policies and the location."""
        marketplace_id = credentials.get("marketplace_id") or DEFAULT_MARKETPLACE
        refresh_token = credentials.get("refresh_token")
        form = authorization_code_form(credentials)
        if form is not None:
            tokens = await self._token_request(form, previous=None)
        elif refresh_token:
            tokens = await self._token_request(
                {
                    "grant_type": "refresh_token",
                    "refresh_token": refresh_token,
                    "scope": " ".join(SCOPES),
                },
                previous=TokenSet(
                    access_token="", expires_at=datetime.now(UTC), refresh_token=refresh_token
                ),
            )
        else:
            raise AuthenticationError(
                "eBay credentials need an authorization_code or a refresh_token", api=API
            )
        account = ChannelAccount(
            channel=self.name,
            tokens=tokens,
            marketplace_id=marketplace_id,
            seller_id=credentials.get("seller_id") or None,
            extra={},
        )
        if credentials.get("category_id"):
            account.extra["category_id"] = credentials["category_id"]
        if form is not None and account.seller_id is None:
            account.seller_id = await self._user_name(account)
        await self._ensure_policies(account)
        await self._ensure_location(account, credentials)
        return account

    async def _user_name(self, account: ChannelAccount) -> str | None:
        """The seller's eBay user name (Commerce Identity `getUser`), or None when eBay does
        not say (the consent lacked IDENTITY_SCOPE, or the call failed): the name is only
        shown to people, no call needs it, so it never fails a connect."""
        url = identity_base_url(self.config.ebay_base_url) + IDENTITY_USER_PATH
        headers = {
            "Authorization": f"Bearer {account.tokens.access_token}",
            "Accept": "application/json",
        }
        try:
            response = await self.api.request(
                API, "GET", url, headers=headers, error_message=ebay_error_message
            )
        except ChannelError as exc:
            log.info("eBay did not give the seller's user name (HTTP %s)", exc.status)
            return None
        if response.status_code != 200:
            log.info("eBay did not give the seller's user name (HTTP %s)", response.status_code)
            return None
        try:
            user = msgspec.json.decode(response.content, type=_IdentityUser)
        except (msgspec.DecodeError, msgspec.ValidationError):
            log.info("eBay's getUser answer has no user name")
            return None
        return user.username or None

    async def refresh(self, account: ChannelAccount) -> None:
        """New access token from the refresh token, in place (eBay keeps the refresh token)."""
        refresh_token = account.tokens.refresh_token
        if not refresh_token:
            raise AuthenticationError("no eBay refresh token to renew the access token", api=API)
        account.tokens = await self._token_request(
            {
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "scope": " ".join(SCOPES),
            },
            previous=account.tokens,
        )

    async def _token_request(self, form: dict[str, str], previous: TokenSet | None) -> TokenSet:
        basic = base64.b64encode(
            f"{self.config.ebay_client_id}:{self.config.ebay_client_secret}".encode()
        ).decode()
        headers = {
            "Authorization": f"Basic {basic}",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        url = self.config.ebay_base_url.rstrip("/") + TOKEN_PATH
        grant = form.get("grant_type", "")
        budget = BudgetRequest(
            account_key=_token_key(previous), operation=f"oauth_{grant}" if grant else None
        )
        try:
            response = await self.api.request(
                API,
                "POST",
                url,
                headers=headers,
                data=form,
                error_message=ebay_error_message,
                budget_request=budget,
            )
        except AuthenticationError:
            raise
        except PermanentChannelError as exc:
            raise AuthenticationError(
                self._scrub(exc.message, previous), api=API, status=exc.status
            ) from None
        if response.status_code == 401:
            raise AuthenticationError(
                self._scrub(ebay_error_message(response), previous), api=API, status=401
            )
        try:
            body = msgspec.json.decode(response.content, type=_TokenResponse)
        except (msgspec.DecodeError, msgspec.ValidationError):
            raise AuthenticationError(
                "eBay token endpoint answered without an access token", api=API
            ) from None
        now = datetime.now(UTC)
        refresh_token = body.refresh_token or (previous.refresh_token if previous else None)
        if body.refresh_token_expires_in is not None:
            refresh_expires: datetime | None = now + timedelta(
                seconds=body.refresh_token_expires_in
            )
        else:
            refresh_expires = previous.refresh_token_expires_at if previous else None
        return TokenSet(
            access_token=body.access_token,
            expires_at=now + timedelta(seconds=body.expires_in),
            refresh_token=refresh_token,
            refresh_token_expires_at=refresh_expires,
        )

    def _scrub(self, text: str, tokens: TokenSet | None) -> str:
        """Remove any secret we hold from a message (eBay should never echo one; be sure)."""
        secrets = [self.config.ebay_client_secret]
        if tokens is not None:
            secrets += [tokens.access_token, tokens.refresh_token or ""]
        for secret in secrets:
            if secret and len(secret) >= 4:
                text = text.replace(secret, "***")
        return text

    # --- authorised calls ---

    async def _call(
        self,
        account: ChannelAccount,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        language: bool = False,
    ) -> httpx.Response:
        """One eBay call: fresh token first, one refresh and one retry on a 401 (base helper)."""

        async def send(access_token: str) -> httpx.Response:
            headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
            if json is not None:
                headers["Content-Type"] = "application/json"
            if language:
                headers["Content-Language"] = _marketplace(account).language
            return await self.api.request(
                API,
                method,
                self.config.ebay_base_url.rstrip("/") + path,
                headers=headers,
                params=dict(params) if params else None,
                json=json,
                error_message=ebay_error_message,
                budget_request=BudgetRequest(account_key=account_key(account)),
            )

        return await self._authorized(account, send)

    async def _json(self, call: Awaitable[httpx.Response], into: type[Any]) -> Any:
        response = await call
        try:
            return msgspec.json.decode(response.content, type=into)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise PermanentChannelError(
                f"eBay answered with an unexpected body: {exc}",
                api=API,
                status=response.status_code,
            ) from None

    # --- account set-up: business policies and inventory location ---

    async def _ensure_policies(self, account: ChannelAccount) -> None:
        """Use the marketplace's first non-motors policy of each kind, or create a default one."""
        market = account.marketplace_id
        for kind, list_key, create_path, make_default in _POLICY_KINDS:
            id_key = f"{kind}PolicyId"
            response = await self._call(
                account, "GET", f"{ACCOUNT}/{kind}_policy", params={"marketplace_id": market}
            )
            chosen = _pick_policy(_decode_dict(response).get(list_key) or [], id_key)
            if chosen is None:
                if market not in MARKETPLACES:
                    raise PermanentChannelError(
                        f"no eBay {kind} policy exists for {market} and channel-router only "
                        f"creates defaults for {', '.join(sorted(MARKETPLACES))}",
                        api=API,
                    )
                created = await self._call(
                    account, "POST", ACCOUNT + create_path, json=make_default(market)
                )
                chosen = str(_decode_dict(created).get(id_key) or "")
                if not chosen:
                    raise PermanentChannelError(
                        f"eBay created a {kind} policy without returning its id", api=API
                    )
                log.info("created default eBay %s policy for %s", kind, market)
            account.extra[f"{kind}_policy_id"] = chosen

    async def _ensure_location(
        self, account: ChannelAccount, credentials: Mapping[str, str]
    ) -> None:
        """Look up our inventory location by key; create it (warehouse: postal code + country)."""
        path = f"{INVENTORY}/location/{LOCATION_KEY}"
        try:
            await self._call(account, "GET", path)
        except PermanentChannelError as exc:
            if exc.status != 404:
                raise
            market = MARKETPLACES.get(account.marketplace_id, MARKETPLACES[DEFAULT_MARKETPLACE])
            body = {
                "location": {
                    "address": {
                        "postalCode": credentials.get("postal_code") or market.postal_code,
                        "country": credentials.get("country") or market.country,
                    }
                },
                "locationTypes": ["WAREHOUSE"],
                "name": "channel-router default",
                "merchantLocationStatus": "ENABLED",
            }
            try:
                await self._call(account, "POST", path, json=body)
            except PermanentChannelError as create_exc:
                if create_exc.status != 409:  # created concurrently: fine
                    raise
            log.info("created eBay inventory location %s", LOCATION_KEY)
        account.extra["merchant_location_key"] = LOCATION_KEY

    # --- listings ---

    async def create_listing(
        self, account: ChannelAccount, listing: ListingRequest
    ) -> ListingState:
        """Inventory item (full replace), the SKU's one offer (update or create), publish."""
        self._require_setup(account)
        sku_path = quote(listing.sku, safe="")
        await self._call(
            account,
            "PUT",
            f"{INVENTORY}/inventory_item/{sku_path}",
            json=_inventory_item(listing),
            language=True,
        )
        offer_body = _offer_body(account, listing)
        existing = await self._find_offer(account, listing.sku)
        if existing is None:
            offer_id = await self._create_offer(account, listing, offer_body)
            published = False
        else:
            offer_id = existing.offerId
            # A live listing is revised by updateOffer alone; an ended one is published again.
            published = existing.status == "PUBLISHED" and not (
                existing.listing and existing.listing.listingStatus in ENDED_LISTING_STATUSES
            )
            await self._call(
                account,
                "PUT",
                f"{INVENTORY}/offer/{quote(offer_id, safe='')}",
                json=offer_body,
                language=True,
            )
        listing_id: str | None = None
        if not published:
            result = await self._json(
                self._call(
                    account, "POST", f"{INVENTORY}/offer/{quote(offer_id, safe='')}/publish"
                ),
                _PublishResponse,
            )
            listing_id = result.listingId
        else:
            listing_id = existing.listing.listingId if existing and existing.listing else None
        return ListingState(
            channel=self.name,
            sku=listing.sku,
            external_listing_id=offer_id,
            status="active",
            quantity_available=listing.quantity,
            units_sold=existing.listing.soldQuantity if existing and existing.listing else 0,
            price=listing.price,
            detail=f"listingId={listing_id}" if listing_id else "",
        )

    def _require_setup(self, account: ChannelAccount) -> None:
        missing = [
            key
            for key in (
                "fulfillment_policy_id",
                "payment_policy_id",
                "return_policy_id",
                "merchant_location_key",
            )
            if not account.extra.get(key)
        ]
        if missing:
            raise PermanentChannelError(
                f"eBay account is not set up (missing {', '.join(missing)}); authenticate again",
                api=API,
            )

    async def find_listing_id(self, account: ChannelAccount, sku: str) -> str | None:
        """The offer id of the SKU's offer (what this connector calls the listing id)."""
        offer = await self._find_offer(account, sku)
        return offer.offerId if offer is not None else None

    async def _find_offer(self, account: ChannelAccount, sku: str) -> _Offer | None:
        """The SKU's fixed-price offer on this marketplace, if any (eBay answers 404 when none)."""
        try:
            found: _Offers = await self._json(
                self._call(
                    account,
                    "GET",
                    f"{INVENTORY}/offer",
                    params={"sku": sku, "marketplace_id": account.marketplace_id, "format": FORMAT},
                ),
                _Offers,
            )
        except PermanentChannelError as exc:
            if exc.status == 404:
                return None
            raise
        markets = ("", account.marketplace_id)
        matching = (
            offer
            for offer in found.offers
            if offer.sku == sku and offer.format in ("", FORMAT) and offer.marketplaceId in markets
        )
        return next(matching, None)

    async def _create_offer(
        self, account: ChannelAccount, listing: ListingRequest, offer_body: dict[str, Any]
    ) -> str:
        """createOffer; if refused because the offer exists (a concurrent attempt), update it."""
        body = {
            "sku": listing.sku,
            "marketplaceId": account.marketplace_id,
            "format": FORMAT,
            **offer_body,
        }
        try:
            created: _OfferResponse = await self._json(
                self._call(account, "POST", f"{INVENTORY}/offer", json=body, language=True),
                _OfferResponse,
            )
        except PermanentChannelError as exc:
            if exc.status != 400:
                raise
            existing = await self._find_offer(account, listing.sku)
            if existing is None:
                raise
            await self._call(
                account,
                "PUT",
                f"{INVENTORY}/offer/{quote(existing.offerId, safe='')}",
                json=offer_body,
                language=True,
            )
            return existing.offerId
        return created.offerId

    async def validate_listing(
        self, account: ChannelAccount, listing: ListingRequest
    ) -> ListingValidation:
        """Publish rules on our side, then (reads only) the account's policies and location."""
        problems = publish_problems(account, listing)
        market = account.marketplace_id
        for kind, list_key, _path, _default in _POLICY_KINDS:
            policy_id = account.extra.get(f"{kind}_policy_id")
            if not policy_id:
                continue  # publish_problems reported it
            response = await self._call(
                account, "GET", f"{ACCOUNT}/{kind}_policy", params={"marketplace_id": market}
            )
            ids = {
                str(p.get(f"{kind}PolicyId"))
                for p in _decode_dict(response).get(list_key) or []
                if isinstance(p, dict)
            }
            if policy_id not in ids:
                problems.append(
                    ListingProblem(
                        self.name,
                        f"listingPolicies.{kind}PolicyId",
                        f"the {kind} policy {policy_id} no longer exists on eBay for {market}; "
                        "connect the account again",
                        code="25035",
                    )
                )
        location = account.extra.get("merchant_location_key")
        if location:
            try:
                await self._call(account, "GET", f"{INVENTORY}/location/{quote(location, safe='')}")
            except PermanentChannelError as exc:
                if exc.status != 404:
                    raise
                problems.append(
                    ListingProblem(
                        self.name,
                        "merchantLocationKey",
                        f"the inventory location {location} no longer exists on eBay",
                        code="25012",
                    )
                )
        return ListingValidation(
            channel=self.name,
            checked_by="local",
            problems=problems,
            detail="eBay has no validate-only call: its publish requirements were checked here",
        )

    async def monitor_listing(
        self, account: ChannelAccount, sku: str, external_listing_id: str
    ) -> ListingState:
        """Read the offer and its listing: status, quantity left, units sold."""
        offer = await self._get_offer(account, external_listing_id)
        if offer is None:
            return ListingState(
                channel=self.name,
                sku=sku,
                external_listing_id=external_listing_id,
                status="ended",
                detail="offer not found on eBay",
            )
        return _offer_state(self.name, sku, offer)

    async def _get_offer(self, account: ChannelAccount, offer_id: str) -> _Offer | None:
        try:
            offer: _Offer = await self._json(
                self._call(account, "GET", f"{INVENTORY}/offer/{quote(offer_id, safe='')}"), _Offer
            )
        except PermanentChannelError as exc:
            if exc.status == 404:
                return None
            raise
        return offer

    async def cancel_listing(
        self, account: ChannelAccount, sku: str, external_listing_id: str
    ) -> ListingState:
        """Withdraw the offer (ends the listing, keeps the offer). Already ended is not an error."""
        path = f"{INVENTORY}/offer/{quote(external_listing_id, safe='')}/withdraw"
        try:
            await self._call(account, "POST", path)
        except PermanentChannelError as exc:
            if exc.status not in (400, 404):
                raise
            offer = await self._get_offer(account, external_listing_id)
            if offer is not None and offer.status == "PUBLISHED":
                raise  # still live: the withdraw really failed
            detail = "offer not found on eBay" if offer is None else "already withdrawn"
            state = (
                _offer_state(self.name, sku, offer)
                if offer is not None
                else ListingState(
                    channel=self.name,
                    sku=sku,
                    external_listing_id=external_listing_id,
                    status="ended",
                )
            )
            return msgspec.structs.replace(state, status="ended", detail=detail)
        offer = await self._get_offer(account, external_listing_id)
        if offer is None:
            return ListingState(
                channel=self.name, sku=sku, external_listing_id=external_listing_id, status="ended"
            )
        return msgspec.structs.replace(_offer_state(self.name, sku, offer), status="ended")

    # --- sales ---

    async def sync_sales(self, account: ChannelAccount, since: datetime) -> list[SyncedSale]:
        """Orders created since `since`, every page; one sale per line item with a SKU."""
        params = {
            "filter": f"creationdate:[{_iso(since)}..]",
            "limit": str(ORDERS_PAGE_LIMIT),
            "offset": "0",
        }
        sales: list[SyncedSale] = []
        seen_offsets: set[str] = set()
        while True:
            seen_offsets.add(params["offset"])
            page: _OrderPage = await self._json(
                self._call(account, "GET", f"{FULFILLMENT}/order", params=params), _OrderPage
            )
            for order in page.orders:
                sales.extend(_order_sales(self.name, order))
            if not page.next or not page.orders:
                break
            # Follow `next` by its query only: the path is ours and the host is the configured one.
            query = parse_qs(urlsplit(page.next).query)
            next_offset = (query.get("offset") or [str(page.offset + len(page.orders))])[0]
            if next_offset in seen_offsets:
                break
            params = {
                "filter": (query.get("filter") or [params["filter"]])[0],
                "limit": (query.get("limit") or [params["limit"]])[0],
                "offset": next_offset,
            }
        return sales


# --- pure helpers ---

# ConditionEnum values of the Sell Inventory API (slr:ConditionEnum).
CONDITIONS: Final = frozenset(
    {
        "NEW",
        "LIKE_NEW",
        "NEW_OTHER",
        "NEW_WITH_DEFECTS",
        "CERTIFIED_REFURBISHED",
        "EXCELLENT_REFURBISHED",
        "VERY_GOOD_REFURBISHED",
        "GOOD_REFURBISHED",
        "SELLER_REFURBISHED",
        "MANUFACTURER_REFURBISHED",
        "USED_EXCELLENT",
        "USED_VERY_GOOD",
        "USED_GOOD",
        "USED_ACCEPTABLE",
        "FOR_PARTS_OR_NOT_WORKING",
        "PRE_OWNED_EXCELLENT",
        "PRE_OWNED_FAIR",
    }
)


class _IdentityUser(msgspec.Struct):
    username: str | None = None


def identity_base_url(base_url: str) -> str:
    """Where the Commerce Identity API lives: eBay serves it from apiz.ebay.com (and
    apiz.sandbox.ebay.com) rather than api.; a stand-in (the sandbox) serves it itself."""
    base = base_url.rstrip("/")
    parts = urlsplit(base)
    if parts.hostname in ("api.ebay.com", "api.sandbox.ebay.com"):
        return f"{parts.scheme}://apiz{parts.hostname[len('api') :]}"
    return base


def account_key(account: ChannelAccount) -> str:
    """Whose share of eBay's application-wide daily quotas a call spends: the seller, else a
    digest of the refresh token (stable for the account, reveals nothing)."""
    if account.seller_id:
        return account.seller_id
    return _token_key(account.tokens)


def _token_key(tokens: TokenSet | None) -> str:
    secret = (tokens.refresh_token if tokens else None) or ""
    if not secret:
        return "new-account"
    return "rt-" + hashlib.sha256(secret.encode()).hexdigest()[:16]


def publish_problems(account: ChannelAccount, listing: ListingRequest) -> list[ListingProblem]:
    """Every "required to publish" rule of eBay's docs the listing or the account breaks, each
    with the offer or item field it concerns. Pure: no call is made."""
    problems: list[ListingProblem] = []

    def problem(field: str, message: str, code: str, severity: str = "error") -> None:
        problems.append(
            ListingProblem(
                API, field, message, code, "warning" if severity == "warning" else "error"
            )
        )

    for kind, code in (("fulfillment", "25007"), ("payment", "25008"), ("return", "25009")):
        if not account.extra.get(f"{kind}_policy_id"):
            problem(
                f"listingPolicies.{kind}PolicyId",
                f"no {kind} business policy is set up for this account; connect it again",
                code,
            )
    if not account.extra.get("merchant_location_key"):
        problem(
            "merchantLocationKey",
            "no inventory location is set up for this account; connect it again",
            "25012",
        )
    configured = account.extra.get("category_id", "")
    if configured and not configured.isdigit():
        problem("categoryId", f"the account's category_id {configured!r} is not a number", "25005")
    elif listing.category and not listing.category.isdigit() and not configured:
        problem(
            "categoryId",
            f"{listing.category!r} is not an eBay category id: the listing goes to the default "
            f"category {DEFAULT_CATEGORY_ID} (Everything Else > Other)",
            "CATEGORY_DEFAULTED",
            "warning",
        )
    if listing.quantity < 1:
        problem("availableQuantity", "eBay publishes only a quantity of at least 1", "25004")
    market = MARKETPLACES.get(account.marketplace_id)
    if not listing.price.is_finite() or listing.price <= 0:
        problem("pricingSummary.price.value", "the price must be more than 0", "25003")
    elif listing.price != listing.price.quantize(Decimal("0.01")):
        problem("pricingSummary.price.value", "the price has more than two decimals", "25003")
    if market is not None and listing.currency != market.currency:
        problem(
            "pricingSummary.price.currency",
            f"{account.marketplace_id} sells in {market.currency}, not {listing.currency}",
            "25003",
        )
    if not listing.title.strip():
        problem("product.title", "a title is required to publish", "25016")
    elif len(listing.title) > MAX_TITLE:
        problem(
            "product.title",
            f"the title is cut to eBay's {MAX_TITLE} characters",
            "TITLE_SHORTENED",
            "warning",
        )
    if (listing.condition or "NEW") not in CONDITIONS:
        problem("condition", f"{listing.condition!r} is not an eBay condition", "25021")
    return problems


def _marketplace(account: ChannelAccount) -> Marketplace:
    return MARKETPLACES.get(account.marketplace_id, MARKETPLACES[DEFAULT_MARKETPLACE])


def _decode_dict(response: httpx.Response) -> dict[str, Any]:
    try:
        payload = msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _pick_policy(policies: list[Any], id_key: str) -> str | None:
    """First policy that covers ordinary (non-motors) listings; else the first one."""
    usable = [p for p in policies if isinstance(p, dict) and p.get(id_key)]
    for policy in usable:
        names = {c.get("name") for c in policy.get("categoryTypes") or [] if isinstance(c, dict)}
        if not names or NON_MOTORS in names:
            return str(policy[id_key])
    return str(usable[0][id_key]) if usable else None


def _default_fulfillment_policy(marketplace_id: str) -> dict[str, Any]:
    market = MARKETPLACES[marketplace_id]
    return {
        "name": "channel-router default shipping",
        "description": "Created by channel-router for clearance listings",
        "marketplaceId": marketplace_id,
        "categoryTypes": [{"name": NON_MOTORS}],
        "handlingTime": {"value": 3, "unit": "DAY"},
        "shippingOptions": [
            {
                "optionType": "DOMESTIC",
                "costType": "FLAT_RATE",
                "shippingServices": [
                    {
                        "sortOrder": 1,
                        "shippingCarrierCode": market.shipping_carrier,
                        "shippingServiceCode": market.shipping_service,
                        "freeShipping": True,
                        "shippingCost": {"value": "0.00", "currency": market.currency},
                    }
                ],
            }
        ],
    }


def _default_payment_policy(marketplace_id: str) -> dict[str, Any]:
    return {
        "name": "channel-router default payment",
        "description": "Created by channel-router for clearance listings",
        "marketplaceId": marketplace_id,
        "categoryTypes": [{"name": NON_MOTORS}],
        "immediatePay": True,
    }


def _default_return_policy(marketplace_id: str) -> dict[str, Any]:
    return {
        "name": "channel-router default returns",
        "description": "Created by channel-router for clearance listings",
        "marketplaceId": marketplace_id,
        "categoryTypes": [{"name": NON_MOTORS}],
        "returnsAccepted": True,
        "returnPeriod": {"value": 30, "unit": "DAY"},
        "returnShippingCostPayer": "BUYER",
        "refundMethod": "MONEY_BACK",
    }


# (kind, list field of the get answer, create path, default body). eBay's spec spells the create
# path of fulfillment policies with a trailing slash; the others without.
_POLICY_KINDS: Final[tuple[tuple[str, str, str, Callable[[str], dict[str, Any]]], ...]] = (
    ("fulfillment", "fulfillmentPolicies", "/fulfillment_policy/", _default_fulfillment_policy),
    ("payment", "paymentPolicies", "/payment_policy", _default_payment_policy),
    ("return", "returnPolicies", "/return_policy", _default_return_policy),
)


def _inventory_item(listing: ListingRequest) -> dict[str, Any]:
    """The full inventory item record (createOrReplaceInventoryItem replaces, never merges)."""
    return {
        "availability": {"shipToLocationAvailability": {"quantity": listing.quantity}},
        "condition": listing.condition or "NEW",
        "product": {
            "title": listing.title[:MAX_TITLE],
            "description": listing.description or listing.title,
        },
    }


def _offer_body(account: ChannelAccount, listing: ListingRequest) -> dict[str, Any]:
    """The fields updateOffer needs in full (it replaces the offer); createOffer adds the keys."""
    category = listing.category if listing.category.isdigit() else ""
    return {
        "availableQuantity": listing.quantity,
        "categoryId": category or account.extra.get("category_id") or DEFAULT_CATEGORY_ID,
        "listingDescription": listing.description or listing.title,
        "listingDuration": "GTC",
        "listingPolicies": {
            "fulfillmentPolicyId": account.extra["fulfillment_policy_id"],
            "paymentPolicyId": account.extra["payment_policy_id"],
            "returnPolicyId": account.extra["return_policy_id"],
        },
        "merchantLocationKey": account.extra["merchant_location_key"],
        "pricingSummary": {
            "price": {"value": f"{listing.price:.2f}", "currency": listing.currency},
        },
    }


def _offer_state(channel: str, sku: str, offer: _Offer) -> ListingState:
    listing = offer.listing
    listing_status = (listing.listingStatus or "") if listing else ""
    status: ListingStatus
    if offer.status == "PUBLISHED":
        status = "ended" if listing_status in ENDED_LISTING_STATUSES else "active"
    elif listing is not None and listing.listingId:
        status = "ended"  # was live, then withdrawn
    else:
        status = "pending"  # created, never published
    price = None
    if offer.pricingSummary and offer.pricingSummary.price:
        price = _decimal(offer.pricingSummary.price.value)
    detail_parts = [f"offer {offer.status or 'UNKNOWN'}"]
    if listing is not None and listing.listingId:
        detail_parts.append(f"listingId={listing.listingId}")
    if listing_status:
        detail_parts.append(f"listing {listing_status}")
    return ListingState(
        channel=channel,
        sku=offer.sku or sku,
        external_listing_id=offer.offerId,
        status=status,
        quantity_available=offer.availableQuantity,
        units_sold=listing.soldQuantity if listing else 0,
        price=price,
        detail=", ".join(detail_parts),
    )


def _order_sales(channel: str, order: _Order) -> list[SyncedSale]:
    if order.cancelStatus and order.cancelStatus.cancelState == "CANCELED":
        return []
    sold_at = _parse_time(order.creationDate)
    sales = []
    for item in order.lineItems:
        amount = item.discountedLineItemCost or item.lineItemCost
        if not item.sku or amount is None or item.quantity <= 0:
            continue
        sales.append(
            SyncedSale(
                channel=channel,
                order_id=order.orderId,
                sku=item.sku,
                units_sold=item.quantity,
                revenue=_decimal(amount.value),
                currency=amount.currency,
                sold_at=sold_at,
            )
        )
    return sales
