"""Checks that run before a request body is read.

They run as the app's `before_request` hook, which Litestar calls before it
extracts the handler's arguments (`HTTPRoute._call_handler_function`), so nothing
of the body is read or decoded for a caller without a valid token, nor for a
body that is not JSON. (Not as a Litestar guard: `authorize_connection` hands
every guard a `copy()` of the route handler, about 5 µs per request on every
route.) The /v1/decide path (server.api.direct) calls `check_request` itself.

1. every `/v1/` route needs a valid bearer token (401);
2. a handler marked `opt={"admin": True}` needs the admin token, and a path that
   names a merchant needs the admin or that merchant's key (403);
3. a handler that takes a JSON body gets `application/json` or 415.

The principal found is kept on the request, so handlers authorize against it
without a second lookup.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.exceptions import HTTPException
from litestar.handlers.base import BaseRouteHandler

from server import auth
from server.api.decoding import body_decoder

API_PREFIX = "/v1/"


class UnsupportedMediaType(HTTPException):
    status_code = 415


async def api_guard(request: Request[Any, Any, Any]) -> None:
    """The app's before_request hook: `check_request` for the request's route handler."""
    await check_request(request.scope)


async def check_request(scope: Any) -> auth.Principal | None:
    """Authenticate, authorize what the path says, and check the body's media type.

    Returns the caller (None for a path that needs no token)."""
    if not scope["path"].startswith(API_PREFIX) or scope.get("method") == "OPTIONS":
        return None  # OPTIONS says which methods exist: no token needed (nor sent by browsers)
    handler: BaseRouteHandler = scope["route_handler"]
    services = scope["litestar_app"].state.services
    principal: auth.Principal = await services.authenticate_scope(scope)
    scope.setdefault("state", {})[auth.PRINCIPAL_STATE_KEY] = principal
    if handler.opt.get("admin") and not principal.is_admin:
        raise auth.Forbidden("this call needs the admin token")
    merchant_id = scope["path_params"].get("merchant_id")
    if isinstance(merchant_id, str) and not principal.may_act_for(merchant_id):
        raise auth.Forbidden("this token may not act for that merchant")
    if body_decoder(handler) is not None:
        check_json_media_type(scope)
    return principal


def _body_headers(scope: Any) -> tuple[str | None, str | None, bool]:
    """(content-type, content-length, has transfer-encoding) read from the raw headers
    (building Litestar's Headers for three names costs more than the check)."""
    content_type = content_length = None
    chunked = False
    for name, value in scope["headers"]:
        if name == b"content-type":
            if content_type is None:
                content_type = value.decode("latin-1")
        elif name == b"content-length":
            if content_length is None:
                content_length = value.decode("latin-1")
        elif name == b"transfer-encoding":
            chunked = True
    return content_type, content_length, chunked


def check_json_media_type(scope: Any) -> None:
    """415 unless the body is JSON; a request without any body is left to say 400."""
    content_type, content_length, chunked = _body_headers(scope)
    if content_type is None:
        if (content_length or "0") == "0" and not chunked:
            return
        raise UnsupportedMediaType(detail="send the body as application/json")
    media, _, params = content_type.partition(";")
    media = media.strip().lower()
    if media != "application/json" and not (
        media.startswith("application/") and media.endswith("+json")
    ):
        raise UnsupportedMediaType(
            detail=f"the body must be application/json, not {media[:100] or 'empty'}"
        )
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in (
            "utf-8",
            "utf8",
        ):
            raise UnsupportedMediaType(detail="JSON bodies are UTF-8; send charset=utf-8 or none")
