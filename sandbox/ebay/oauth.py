"""POST /identity/v1/oauth2/token (client credentials in Basic auth, form body) and the bearer
token check the Sell API routes run first."""

from __future__ import annotations

import base64
import binascii
import secrets
from datetime import timedelta
from typing import Any, Final

from litestar import Request, Response, post
from litestar.handlers import HTTPRouteHandler

from sandbox.ebay.errors import unauthorized
from sandbox.ebay.state import EbayState
from sandbox.ebay.values import now_utc
from sandbox.state import SandboxState

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
        "https://api.ebay.com/oauth/api_scope/commerce.identity.readonly",
    }
)
REFRESH_TOKEN_TTL: Final = 47_304_000  # 18 months, as eBay issues them


def _oauth_error(status: int, error: str, description: str) -> Response[Any]:
    return Response(
        content={"error": error, "error_description": description},
        status_code=status,
        media_type="application/json",
    )


def _issue_access_token(sandbox: SandboxState) -> tuple[str, int]:
    token = "v^1.1#i^1#" + secrets.token_urlsafe(24)
    ttl = int(sandbox.token_ttl_seconds)
    sandbox.tokens[token] = ("ebay", now_utc() + timedelta(seconds=ttl))
    return token, ttl


def check_token(sandbox: SandboxState, request: Request[Any, Any, Any]) -> Response[Any] | None:
    """None when the bearer token is one we issued for eBay and still valid; else eBay's 401."""
    header = request.headers.get("authorization", "")
    token = header[len("Bearer ") :] if header.startswith("Bearer ") else None
    if sandbox.token_api(token, now_utc()) != "ebay":
        return unauthorized()
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


def oauth_routes(state: SandboxState) -> list[HTTPRouteHandler]:
    """The token endpoint: authorization_code and refresh_token grants."""

    def ebay() -> EbayState:
        return state.ebay

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

    return [token]
