"""The marketplaces' consent pages, so the console's OAuth connect runs end to end locally.

Served under the real paths:
- eBay `GET /oauth2/authorize?client_id&redirect_uri&response_type=code&scope&state`
  (auth.ebay.com). The sandbox has no RuNames: `redirect_uri` must be the accept URL itself.
  Agreeing redirects there with `code` and `state` (and `expires_in`); declining with
  `error=access_denied`.
- Amazon Seller Central `GET /apps/authorize/consent?application_id&state&redirect_uri`
  (`version=beta` accepted). Confirming redirects with `state`, `selling_partner_id` and
  `spapi_oauth_code`.
- Shopify `GET /admin/oauth/authorize?client_id&scope&redirect_uri&state` (on the shop's
  host; here `shop=` names the shop) and `POST /admin/oauth/access_token`
  `{client_id, client_secret, code}` -> `{access_token, scope}`. The callback carries
  `code, hmac, host, shop, state, timestamp`, `hmac` signed with the app secret
  (`POST /_sandbox/shopify/app {"client_secret"}` changes it; default "sandbox").

Codes issued here start with "good", so the token endpoints of sandbox.ebay and
sandbox.amazon accept them; a Shopify code works once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import secrets
import time
from typing import Any, Final
from urllib.parse import urlencode, urlsplit

import msgspec
from litestar import Request, Response, Router, get, post

from sandbox.control_body import decode_control_body
from sandbox.ebay.oauth import KNOWN_SCOPES
from sandbox.state import SandboxState

EBAY_PATH: Final = "/oauth2/authorize"
AMAZON_PATH: Final = "/apps/authorize/consent"
SHOPIFY_PATH: Final = "/admin/oauth/authorize"
SHOPIFY_TOKEN_PATH: Final = "/admin/oauth/access_token"
SANDBOX_SELLER: Final = "ASANDBOXSELLER1"


class ShopifyApp(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Body of POST /_sandbox/shopify/app."""

    client_secret: str


def _page(title: str, body: str, status: int = 200) -> Response[str]:
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title></head><body><main>"
        f"<h1>{html.escape(title)}</h1>{body}</main></body></html>"
    )
    return Response(document, status_code=status, media_type="text/html")


def _refusal(problem: str) -> Response[str]:
    return _page("Request refused", f"<p>{html.escape(problem)}</p>", 400)


def _hidden(fields: dict[str, str]) -> str:
    return "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in fields.items()
    )


def _buttons(yes: str, no: str | None) -> str:
    decline = f'<button type="submit" name="decision" value="no">{no}</button>' if no else ""
    return f'<button type="submit" name="decision" value="yes">{yes}</button>{decline}'


def _redirect(url: str, params: dict[str, str]) -> Response[str]:
    joiner = "&" if urlsplit(url).query else "?"
    return Response("", status_code=302, headers={"Location": url + joiner + urlencode(params)})


def _web_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _missing(query: dict[str, str], *names: str) -> str | None:
    for name in names:
        if not query.get(name):
            return f"the request is missing the parameter {name}"
    return None


def _ebay_problem(query: dict[str, str]) -> str | None:
    problem = _missing(query, "client_id", "redirect_uri", "response_type", "scope")
    if problem:
        return problem
    if query["response_type"] != "code":
        return "response_type must be code"
    if not _web_url(query["redirect_uri"]):
        return "redirect_uri must be the accept URL (the sandbox has no RuNames)"
    unknown = set(query["scope"].split()) - KNOWN_SCOPES
    if unknown:
        return f"unknown scope {sorted(unknown)[0]}"
    return None


def _amazon_problem(query: dict[str, str]) -> str | None:
    problem = _missing(query, "application_id", "state", "redirect_uri")
    if problem:
        return problem
    if not _web_url(query["redirect_uri"]):
        return "redirect_uri must be an http(s) URL"
    return None


def _shopify_problem(query: dict[str, str]) -> str | None:
    problem = _missing(query, "client_id", "scope", "redirect_uri", "state", "shop")
    if problem:
        return problem
    if not _web_url(query["redirect_uri"]):
        return "redirect_uri must be an http(s) URL"
    return None


def shopify_hmac(params: dict[str, str], secret: str) -> str:
    """Shopify's signature of a callback: HMAC-SHA256 hex of the sorted `k=v&...`."""
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def _query(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in request.query_params.items()}


async def _form(request: Request[Any, Any, Any]) -> dict[str, str]:
    form = await request.form()
    return {k: str(v) for k, v in form.items()}


def router(state: SandboxState) -> Router:
    """The three consent pages and Shopify's code exchange, bound to `state`."""
    shop = state.shopify

    @get(EBAY_PATH)
    async def ebay_consent(request: Request[Any, Any, Any]) -> Response[str]:
        query = _query(request)
        problem = _ebay_problem(query)
        if problem:
            return _refusal(problem)
        scopes = "".join(f"<li>{html.escape(s)}</li>" for s in query["scope"].split())
        keep = {k: query.get(k, "") for k in ("redirect_uri", "state")}
        return _page(
            "Grant application access: eBay sandbox",
            f"<p>The application {html.escape(query['client_id'])} asks to act for you:</p>"
            f"<ul>{scopes}</ul>"
            f'<form method="post" action="{EBAY_PATH}">{_hidden(keep)}'
            f"{_buttons('Agree', 'Disagree')}</form>",
        )

    @post(EBAY_PATH, status_code=302)
    async def ebay_decision(request: Request[Any, Any, Any]) -> Response[str]:
        form = await _form(request)
        if not _web_url(form.get("redirect_uri", "")):
            return _refusal("redirect_uri must be an http(s) URL")
        back = {"state": form["state"]} if form.get("state") else {}
        if form.get("decision") != "yes":
            return _redirect(form["redirect_uri"], {**back, "error": "access_denied"})
        code = "good-v^1.1#i^1#" + secrets.token_urlsafe(24)
        return _redirect(form["redirect_uri"], {**back, "code": code, "expires_in": "299"})

    @get(AMAZON_PATH)
    async def amazon_consent(request: Request[Any, Any, Any]) -> Response[str]:
        query = _query(request)
        problem = _amazon_problem(query)
        if problem:
            return _refusal(problem)
        keep = {k: query[k] for k in ("redirect_uri", "state")}
        return _page(
            "Authorize application: Amazon Seller Central sandbox",
            f"<p>The application {html.escape(query['application_id'])} asks to access your "
            "selling account.</p>"
            f'<form method="post" action="{AMAZON_PATH}">{_hidden(keep)}'
            '<p><label for="seller">Selling partner id</label> '
            f'<input id="seller" name="selling_partner_id" value="{SANDBOX_SELLER}"></p>'
            f"{_buttons('Confirm', 'Cancel')}</form>",
        )

    @post(AMAZON_PATH, status_code=302)
    async def amazon_decision(request: Request[Any, Any, Any]) -> Response[str]:
        form = await _form(request)
        if not _web_url(form.get("redirect_uri", "")):
            return _refusal("redirect_uri must be an http(s) URL")
        if form.get("decision") != "yes":
            return _page("Authorization cancelled", "<p>Nothing was shared.</p>")
        return _redirect(
            form["redirect_uri"],
            {
                "state": form.get("state", ""),
                "selling_partner_id": form.get("selling_partner_id") or SANDBOX_SELLER,
                "spapi_oauth_code": "good-" + secrets.token_urlsafe(16),
            },
        )

    @get(SHOPIFY_PATH)
    async def shopify_install(request: Request[Any, Any, Any]) -> Response[str]:
        query = _query(request)
        problem = _shopify_problem(query)
        if problem:
            return _refusal(problem)
        keep = {k: query[k] for k in ("redirect_uri", "state", "shop")}
        return _page(
            f"Install app on {query['shop']}",
            f"<p>The app {html.escape(query['client_id'])} asks for: "
            f"{html.escape(query['scope'])}.</p>"
            f'<form method="post" action="{SHOPIFY_PATH}">{_hidden(keep)}'
            f"{_buttons('Install app', None)}</form>",
        )

    @post(SHOPIFY_PATH, status_code=302)
    async def shopify_decision(request: Request[Any, Any, Any]) -> Response[str]:
        form = await _form(request)
        if not _web_url(form.get("redirect_uri", "")) or not form.get("shop"):
            return _refusal("redirect_uri and shop are required")
        code = "good" + secrets.token_hex(16)
        shop.install_codes[code] = form["shop"]
        params = {
            "code": code,
            "host": base64.b64encode(f"{form['shop']}/admin".encode()).decode(),
            "shop": form["shop"],
            "state": form.get("state", ""),
            "timestamp": str(int(time.time())),
        }
        params["hmac"] = shopify_hmac(params, shop.app_secret)
        return _redirect(form["redirect_uri"], params)

    @post(SHOPIFY_TOKEN_PATH, status_code=200)
    async def shopify_token(request: Request[Any, Any, Any]) -> Response[Any]:
        try:
            body = msgspec.json.decode(await request.body(), type=dict[str, str])
        except (msgspec.DecodeError, msgspec.ValidationError):
            body = {}
        if not body.get("client_id") or body.get("client_secret") != shop.app_secret:
            return Response(
                {"error": "invalid_client", "error_description": "client authentication failed"},
                status_code=401,
            )
        if shop.install_codes.pop(body.get("code", ""), None) is None:
            return Response(
                {
                    "error": "invalid_request",
                    "error_description": "The authorization code was not found or was already used",
                },
                status_code=400,
            )
        return Response(
            {
                "access_token": "shpat_good" + secrets.token_hex(16),
                "scope": "read_products,write_products",
            },
            status_code=200,
        )

    @post("/_sandbox/shopify/app", status_code=200)
    async def shopify_app(request: Request[Any, Any, Any]) -> Response[Any]:
        app = await decode_control_body(request, ShopifyApp)
        if isinstance(app, Response):
            return app
        shop.app_secret = app.client_secret
        return Response({"client_secret_set": True}, status_code=200)

    return Router(
        path="/",
        route_handlers=[
            ebay_consent,
            ebay_decision,
            amazon_consent,
            amazon_decision,
            shopify_install,
            shopify_decision,
            shopify_token,
            shopify_app,
        ],
    )
