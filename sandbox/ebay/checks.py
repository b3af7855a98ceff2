"""Request checks every eBay route shares: JSON body, Content-Language, required fields and the
OpenAPI schema of the operation (sandbox.specs)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from litestar import Request, Response

from sandbox import specs
from sandbox.ebay.errors import ebay_error
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


def body_validator(state: SandboxState) -> Callable[[str, Any], list[str]]:
    """The schema check, honouring the sandbox's `validate` switch at call time."""

    def validate(operation_id: str, body: Any) -> list[str]:
        """Problems with body against the operation's schema in the shipped eBay specs."""
        if not state.validate:
            return []
        return specs.validate_body("ebay", operation_id, body)

    return validate
