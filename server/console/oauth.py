""" "Connect account": each channel's OAuth authorization-code flow, and its `state`.

A flow knows two things about its marketplace: the consent URL to send the
merchant to, and how to turn the query of the redirect back into the fields
of the one connect path (`server.accounts.connect_and_save`), which exchanges
the code with the service's own client credentials and stores the account
sealed. Adding a channel's consent = one flow here + one line in FLOWS.

`state` is 32 random bytes, stored hashed, bound to the login session that
asked for it, single-use (deleted in the same statement that reads it) and
valid for a few minutes (docs/console.md).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import msgspec

from connectors.config import ApiConfig
from connectors.ebay import CONSENT_SCOPES as EBAY_SCOPES
from connectors.http import ApiClient
from connectors.shopify import (
    INSTALL_SCOPES,
    ShopifyStore,
    install_signature_ok,
    shop_domain_ok,
)
from server.console.config import ConsoleConfig
from server.console.sessions import hashed
from server.db.tables import Tables


class ConsentRefused(Exception):
    """The redirect back does not carry a usable grant (declined, forged, incomplete)."""


@dataclass(frozen=True)
class Pending:
    """A connect started by a session: for whom, which channel, what it asked."""

    merchant_id: str
    channel: str
    data: dict[str, str]


class OAuthStates:
    """Issued `state` values in `console_oauth_state`."""

    def __init__(self, tables: Tables, ttl: timedelta) -> None:
        self._table = tables.console_oauth_state
        self._ttl = ttl

    async def issue(
        self, session_key: str, merchant_id: str, channel: str, data: dict[str, str]
    ) -> str:
        """A fresh state for this session's connect of `channel`."""
        table = self._table
        now = datetime.now(UTC)
        await table.delete().where(table.expires_at <= now).run()
        state = secrets.token_urlsafe(32)
        await table.insert(
            table(
                state_key=hashed(state),
                session_key=session_key,
                merchant_id=merchant_id,
                channel=channel,
                data=msgspec.json.encode(data).decode(),
                expires_at=now + self._ttl,
            )
        ).run()
        return state

    async def consume(self, state: str, session_key: str, channel: str) -> Pending:
        """The connect this state belongs to, used up; ConsentRefused when it is unknown,
        used already, expired, from another session or for another channel."""
        if not state or len(state) > 200:
            raise ConsentRefused("the answer carries no valid state")
        table = self._table
        rows = await (
            table.delete()
            .where((table.state_key == hashed(state)) & (table.session_key == session_key))
            .returning(table.merchant_id, table.channel, table.data, table.expires_at)
            .run()
        )
        if not rows:
            raise ConsentRefused(
                "this answer does not belong to a connect started in this session "
                "(or it was used already)"
            )
        row = rows[0]
        if row["expires_at"] <= datetime.now(UTC):
            raise ConsentRefused("the connect took too long; start it again")
        if row["channel"] != channel:
            raise ConsentRefused("the answer came back for another channel")
        data = msgspec.json.decode(row["data"].encode(), type=dict[str, str])
        return Pending(merchant_id=row["merchant_id"], channel=row["channel"], data=data)


def with_query(url: str, params: dict[str, str]) -> str:
    """`url` with `params` added to the query it may already have (e.g. version=beta)."""
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *params.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))


@dataclass(frozen=True)
class FlowContext:
    """What a flow works with: the settings, our callback URL and the HTTP client."""

    console: ConsoleConfig
    api: ApiConfig
    callback: str
    client: httpx.AsyncClient


class Flow:
    """One channel's consent: where to send the merchant and what comes back."""

    channel: ClassVar[str]
    label: ClassVar[str]
    # Fields the merchant gives before leaving (name -> label), e.g. the shop's domain.
    asks: ClassVar[dict[str, str]] = {}

    def missing_setting(self, console: ConsoleConfig, api: ApiConfig) -> str | None:
        """The variable to set before this flow can run, or None."""
        return None

    def check_asked(self, given: dict[str, str], api: ApiConfig) -> dict[str, str]:
        """Field -> problem for what the merchant typed before leaving."""
        return {}

    def consent_url(self, ctx: FlowContext, state: str, asked: dict[str, str]) -> str:
        raise NotImplementedError

    async def credentials(
        self, ctx: FlowContext, query: dict[str, str], pending: Pending
    ) -> dict[str, str]:
        """The connect-path fields for the redirect back; ConsentRefused otherwise."""
        raise NotImplementedError


def _declined(query: dict[str, str]) -> None:
    if query.get("error"):
        reason = query.get("error_description") or query["error"].replace("_", " ")
        raise ConsentRefused(f"the marketplace did not grant access ({reason})")


class EbayFlow(Flow):
    """eBay's authorization-code grant (auth.ebay.com/oauth2/authorize)."""

    channel = "ebay"
    label = "eBay"

    def missing_setting(self, console: ConsoleConfig, api: ApiConfig) -> str | None:
        return None if api.ebay_client_id else "CHANNEL_ROUTER_EBAY_CLIENT_ID"

    def _redirect_uri(self, console: ConsoleConfig, callback: str) -> str:
        # eBay names the redirect by RuName; the RuName's accept URL is our callback.
        return console.ebay_runame or callback

    def consent_url(self, ctx: FlowContext, state: str, asked: dict[str, str]) -> str:
        return with_query(
            ctx.console.ebay_auth_url,
            {
                "client_id": ctx.api.ebay_client_id,
                "redirect_uri": self._redirect_uri(ctx.console, ctx.callback),
                "response_type": "code",
                "scope": " ".join(EBAY_SCOPES),
                "state": state,
            },
        )

    async def credentials(
        self, ctx: FlowContext, query: dict[str, str], pending: Pending
    ) -> dict[str, str]:
        _declined(query)
        if not query.get("code"):
            raise ConsentRefused("eBay's answer carries no authorization code")
        return {
            "authorization_code": query["code"],
            "redirect_uri": self._redirect_uri(ctx.console, ctx.callback),
        }


class AmazonFlow(Flow):
    """Selling Partner API website authorization (Seller Central consent page)."""

    channel = "amazon"
    label = "Amazon"

    def missing_setting(self, console: ConsoleConfig, api: ApiConfig) -> str | None:
        if not console.amazon_application_id:
            return "CHANNEL_ROUTER_AMAZON_APPLICATION_ID"
        return None if api.amazon_client_id else "CHANNEL_ROUTER_AMAZON_CLIENT_ID"

    def consent_url(self, ctx: FlowContext, state: str, asked: dict[str, str]) -> str:
        return with_query(
            ctx.console.amazon_auth_url,
            {
                "application_id": ctx.console.amazon_application_id,
                "state": state,
                "redirect_uri": ctx.callback,
            },
        )

    async def credentials(
        self, ctx: FlowContext, query: dict[str, str], pending: Pending
    ) -> dict[str, str]:
        _declined(query)
        code, seller = query.get("spapi_oauth_code"), query.get("selling_partner_id")
        if not code or not seller:
            raise ConsentRefused("Amazon's answer lacks spapi_oauth_code or selling_partner_id")
        return {"authorization_code": code, "redirect_uri": ctx.callback, "seller_id": seller}


class ShopifyFlow(Flow):
    """Shopify app install: https://{shop}/admin/oauth/authorize, signed callback."""

    channel = "shopify"
    label = "Shopify"
    asks = {"shop_domain": "Shop domain (like acme.myshopify.com)"}

    def missing_setting(self, console: ConsoleConfig, api: ApiConfig) -> str | None:
        if not api.shopify_client_id:
            return "CHANNEL_ROUTER_SHOPIFY_CLIENT_ID"
        return None if api.shopify_client_secret else "CHANNEL_ROUTER_SHOPIFY_CLIENT_SECRET"

    def check_asked(self, given: dict[str, str], api: ApiConfig) -> dict[str, str]:
        if not shop_domain_ok(given.get("shop_domain", "").strip().lower(), api):
            return {"shop_domain": "enter the shop's host name, like acme.myshopify.com"}
        return {}

    def consent_url(self, ctx: FlowContext, state: str, asked: dict[str, str]) -> str:
        shop = asked["shop_domain"].strip().lower()
        params = {
            "client_id": ctx.api.shopify_client_id,
            "scope": ",".join(INSTALL_SCOPES),
            "redirect_uri": ctx.callback,
            "state": state,
        }
        if ctx.console.shopify_auth_url:  # a stand-in serves every shop: tell it which one
            return with_query(
                ctx.console.shopify_auth_url + "/admin/oauth/authorize", {**params, "shop": shop}
            )
        return with_query(f"https://{shop}/admin/oauth/authorize", params)

    async def credentials(
        self, ctx: FlowContext, query: dict[str, str], pending: Pending
    ) -> dict[str, str]:
        _declined(query)
        if not install_signature_ok(query, ctx.api.shopify_client_secret):
            raise ConsentRefused("Shopify's signature on the answer does not verify")
        shop = query.get("shop", "").lower()
        if shop != pending.data.get("shop_domain", "").lower():
            raise ConsentRefused("the answer came back for another shop")
        if not query.get("code"):
            raise ConsentRefused("Shopify's answer carries no authorization code")
        store = ShopifyStore(ApiClient(ctx.client, ctx.api), ctx.api)
        token = await store.exchange_install_code(shop, query["code"])
        return {"shop_domain": shop, "access_token": token}


FLOWS: dict[str, Flow] = {flow.channel: flow for flow in (EbayFlow(), AmazonFlow(), ShopifyFlow())}


def query_dict(raw: Any) -> dict[str, str]:
    """A request's query as plain strings (the last value of a repeated name)."""
    return {str(k): str(v) for k, v in raw.items()}
