"""Decoding the JSON bodies sent to the sandbox's own /_sandbox/... control routes."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from litestar import Request, Response

_S = TypeVar("_S")


async def decode_control_body(
    request: Request[Any, Any, Any], kind: type[_S]
) -> _S | Response[Any]:
    """The body decoded as `kind`, or the 400 `invalid_request` that says why it is not one."""
    try:
        return msgspec.json.decode(await request.body(), type=kind)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        return Response(
            {"error": "invalid_request", "detail": str(exc)},
            status_code=400,
            media_type="application/json",
        )
