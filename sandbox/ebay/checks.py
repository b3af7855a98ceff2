"""Request checks every eBay route shares: JSON body, Content-Language, required fields and the
OpenAPI schema of the operation (sandbox.specs)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from litestar import Request, Response

from sandbox import specs
from sandbox.ebay.errors import ebay_error, problems_response
from sandbox.ebay.oauth import check_token
from sandbox.state import SandboxState


async def json_body(request: Request[Any, Any, Any]) -> tuple[Any, Response[Any] | None]:
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


def need_content_language(request: Request[Any, Any, Any]) -> Response[Any] | None:
    """eBay's 400 when the required Content-Language header is absent."""
    if not request.headers.get("content-language"):
        return ebay_error(
            400,
            25709,
            "Invalid value for header Content-Language.",
            long_message="Invalid value for header Content-Language. It is required (e.g. en-US).",
            parameters=[{"name": "fieldName", "value": "Content-Language"}],
        )
    return None


def write_refusal(state: SandboxState, request: Request[Any, Any, Any]) -> Response[Any] | None:
    """eBay's answer to a write without a valid token (401) or without Content-Language (400)."""
    denied = check_token(state, request)
    if denied:
        return denied
    return need_content_language(request)


def missing(body: dict[str, Any], *paths: str) -> list[str]:
    """Dotted paths that are absent or empty in body."""
    problems = []
    for dotted in paths:
        node: Any = body
        for part in dotted.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is None or node == "" or node == []:
            problems.append(f"Missing field {dotted}.")
    return problems


async def checked_body(
    state: SandboxState,
    request: Request[Any, Any, Any],
    operation_id: str,
    error: tuple[int, str],
    rules: Callable[[dict[str, Any]], list[str]] | None = None,
) -> tuple[Any, Response[Any] | None]:
    """The decoded body, or eBay's 400 for an unreadable one, for one that fails the operation's
    schema in the shipped specs (when the sandbox validates) or for one that breaks `rules`.

    `error` is the (errorId, domain) eBay reports the schema and rule problems under."""
    body, bad = await json_body(request)
    if bad:
        return None, bad
    problems = specs.validate_body("ebay", operation_id, body) if state.validate else []
    if not problems and rules is not None and isinstance(body, dict):
        problems = rules(body)
    if problems:
        return None, problems_response(problems, *error)
    return body, None
