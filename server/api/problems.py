"""The one place that turns errors into RFC 9457 problem details.

Every 4xx and 5xx leaves the app as `application/problem+json`. Domain errors
are mapped by type through `PROBLEM_MAP` (tested as a table); Litestar's own
HTTP errors keep their status; body decoding and validation errors name the
offending fields. Nothing here echoes a request header, so no token can leak
into an error.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from server import auth, errors

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
CLIENT_GONE = 499  # nginx's "client closed request": never a 5xx


class InvalidParam(msgspec.Struct, frozen=True):
    name: str
    reason: str


class ProblemDetails(msgspec.Struct, frozen=True, omit_defaults=True):
    """RFC 9457 body; `problems` lists FILE:LINE:COL lines for policy errors."""

    type: str
    title: str
    status: int
    detail: str
    invalid_params: list[InvalidParam] | None = None
    problems: list[str] | None = None


def problem(
    status: int,
    detail: str,
    *,
    invalid_params: list[InvalidParam] | None = None,
    problems: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[ProblemDetails]:
    """A problem+json response with the standard title for `status`."""
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Client Closed Request" if status == CLIENT_GONE else "Error"
    body = ProblemDetails(
        type="about:blank",
        title=title,
        status=status,
        detail=detail,
        invalid_params=invalid_params,
        problems=problems,
    )
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _connector_errors() -> dict[type[Exception], int]:
    """Connector errors: a refused exchange is the caller's input (422), the rest upstream (502)."""
    import httpx

    from connectors.errors import (
        AuthenticationError,
        ChannelError,
        PermanentChannelError,
        TransientChannelError,
    )

    return {
        httpx.TransportError: 502,
        AuthenticationError: 422,
        PermanentChannelError: 422,
        TransientChannelError: 502,
        ChannelError: 502,
    }


def _policy_errors() -> dict[type[Exception], int]:
    from engine.problems import PolicyProblems
    from engine.types import DecisionError

    return {DecisionError: 422, PolicyProblems: 422}


def problem_map() -> dict[type[Exception], int]:
    """Domain error type -> HTTP status, most specific first."""
    table: dict[type[Exception], int] = {
        auth.Unauthenticated: 401,
        auth.Forbidden: 403,
        errors.NotFound: 404,
        errors.Conflict: 409,
        errors.InvalidInput: 422,
        errors.InvalidFields: 422,
        errors.RateLimited: 429,
        errors.UpstreamFailed: 502,
        errors.Unavailable: 503,
    }
    table.update(_connector_errors())
    table.update(_policy_errors())
    return table


_UNKNOWN_FIELD = re.compile(r"^Object contains unknown field `(?P<field>[^`]*)`")
_AT_PATH = re.compile(r" - at `\$(?P<path>[^`]*)`$")


def field_name(path: str) -> str:
    """msgspec's `$.items[3].proposal` -> `items[3].proposal` (the body itself: `body`)."""
    return path.lstrip(".") or "body"


def _validation_params(exc: ValidationException) -> tuple[int, str, list[InvalidParam]]:
    """Status, detail and fields of a Litestar validation error (decode or schema)."""
    params: list[InvalidParam] = []
    malformed = False
    extra = exc.extra if isinstance(exc.extra, list) else [exc.extra] if exc.extra else []
    for item in extra:
        if not isinstance(item, dict):
            continue
        message = str(item.get("message", "invalid"))
        key = str(item.get("key") or "")
        match = _AT_PATH.search(message)
        if match:
            message = message[: match.start()]
            key = field_name(match.group("path"))
        if "malformed" in message.lower() or "truncated" in message.lower():
            malformed = True
        if key == "data" and message == "'data'":  # Litestar: no body at all
            key, message, malformed = "body", "a JSON body is required", True
        elif key == "data":  # Litestar's name for the body itself
            key = "body"
        unknown = _UNKNOWN_FIELD.match(message)
        if unknown:
            prefix = "" if key == "body" else key + "."
            key = prefix + unknown.group("field")
        params.append(InvalidParam(name=key or "body", reason=message[:500]))
    detail_text = str(exc.detail or "")
    if not params:
        malformed = malformed or "malformed" in detail_text.lower()
        params.append(InvalidParam(name="body", reason=detail_text[:500] or "invalid body"))
    if malformed:
        return 400, "The request body is not valid JSON.", params
    return 422, "The request does not match the schema; see invalid_params.", params


RETRY_AFTER_SECONDS = 5  # what a 503 for a database or Redis condition asks clients to wait


def _body_problem(exc: Exception) -> Response[ProblemDetails] | None:
    """The answer to a body refused by strict decoding (server.api.decoding), else None."""
    from server.api.decoding import MAX_LISTED, BodyInvalid, BodyMalformed

    if isinstance(exc, BodyMalformed):
        return problem(
            400,
            "The request body is not valid JSON.",
            invalid_params=[InvalidParam(name="body", reason=str(exc))],
        )
    if isinstance(exc, BodyInvalid):
        params = exc.params
        detail = f"The request has {len(params)} invalid field(s); see invalid_params."
        if len(params) > MAX_LISTED:
            detail = f"The request has more than {MAX_LISTED} invalid fields; the first are listed."
            params = params[:MAX_LISTED]
        return problem(422, detail, invalid_params=params)
    return None


def handle_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[ProblemDetails]:
    """Litestar exception handler for every exception type."""
    if isinstance(exc, errors.ClientDisconnected):
        # Nobody is left to read an answer; not a server error (counted apart in /metrics).
        log.info("client disconnected before its request body was complete: %s %s",
                 request.method, request.url.path)  # fmt: skip
        return problem(CLIENT_GONE, "The client disconnected before the request body was complete.")
    body = _body_problem(exc)
    if body is not None:
        return body
    if isinstance(exc, ValidationException):
        status, detail, params = _validation_params(exc)
        return problem(status, detail, invalid_params=params)
    if isinstance(exc, UnicodeDecodeError):
        return problem(400, "The request body is not valid UTF-8.")
    if isinstance(exc, RecursionError):
        return problem(400, "The request body is nested too deeply.")
    if isinstance(exc, HTTPException):
        status = exc.status_code
        detail = str(exc.detail) if exc.detail else HTTPStatus(status).phrase
        if status == 413:
            limit = request.app.request_max_body_size
            detail = f"The request body is larger than the limit of {limit} bytes."
        if status >= 500:
            log.error("HTTP %s on %s %s: %s", status, request.method, request.url.path, detail)
        return problem(status, detail, headers=exc.headers or None)
    for error_type, status in problem_map().items():
        if isinstance(exc, error_type):
            return _domain_problem(exc, status)
    from server.db.faults import unavailable_reason

    reason = unavailable_reason(exc)
    if reason is not None:
        log.warning(
            "database %s on %s %s: %s", reason, request.method, request.url.path, type(exc).__name__
        )
        return problem(
            503,
            f"The database is {reason} right now; nothing was changed. Try again shortly.",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(500, "Internal error; it has been logged.")


def _domain_problem(exc: Exception, status: int) -> Response[ProblemDetails]:
    from engine.problems import PolicyProblems

    if isinstance(exc, PolicyProblems):
        lines = [str(p) for p in exc.problems]
        return problem(status, f"The policy folder has {len(lines)} problem(s).", problems=lines)
    field = getattr(exc, "field", None)
    params = [InvalidParam(name=str(field), reason=str(exc))] if field else None
    if isinstance(exc, errors.InvalidFields):
        params = [InvalidParam(name=name, reason=reason) for name, reason in exc.fields]
    detail = str(exc) or HTTPStatus(status).phrase
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    retry_after = getattr(exc, "retry_after", None)
    if status in (429, 503):
        headers["Retry-After"] = str(max(1, math.ceil(retry_after or RETRY_AFTER_SECONDS)))
    if status >= 500:
        log.warning("%s: %s", type(exc).__name__, detail)
    return problem(status, detail, invalid_params=params, headers=headers or None)


ExceptionHandler = Callable[[Request[Any, Any, Any], Exception], Response[ProblemDetails]]


def exception_handlers() -> dict[type[Exception] | int, ExceptionHandler]:
    """Handlers for the app: everything goes through `handle_exception`."""
    return {Exception: handle_exception, 404: handle_exception, 405: handle_exception}
