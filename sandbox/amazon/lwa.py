"""Login with Amazon: POST /auth/o2/token, and the `x-amz-access-token` check the SP-API routes
run first (403 `Unauthorized`, as the SP-API answers)."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import parse_qs

from litestar import Request, Response, post
from litestar.handlers import HTTPRouteHandler

from sandbox.amazon.errors import sp_error
from sandbox.amazon.state import AmazonState
from sandbox.amazon.wire import request_id
from sandbox.state import SandboxState

UNAUTHORIZED_MESSAGE: Final = "Access to requested resource is denied."


def _lwa_error(status: int, error: str, description: str) -> Response[bytes]:
    return Response(
        content=json.dumps({"error_description": description, "error": error}).encode(),
        status_code=status,
        media_type="application/json",
        headers={"x-amzn-RequestId": request_id(), "Cache-Control": "no-store"},
    )


def _issue_access_token(root: SandboxState) -> tuple[str, int]:
    ttl = int(root.token_ttl_seconds)
    token = "Atza|" + secrets.token_urlsafe(24)
    root.tokens[token] = ("amazon", datetime.now(UTC) + timedelta(seconds=ttl))
    return token, ttl


def token_refusal(root: SandboxState, request: Request[Any, Any, Any]) -> Response[bytes] | None:
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


def lwa_routes(state: SandboxState) -> list[HTTPRouteHandler]:
    """The LWA token endpoint: authorization_code and refresh_token grants."""
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

    return [lwa_token]
