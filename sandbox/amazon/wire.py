"""JSON in and out the way the SP-API does it: exact decimals, `x-amzn-RequestId` on every
answer, ISO 8601 timestamps in UTC."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

import msgspec
from litestar import Request, Response


def request_id() -> str:
    """A fresh `x-amzn-RequestId` value."""
    return str(uuid.uuid4())


_ENCODER: Final = msgspec.json.Encoder(decimal_format="number")


def decode_json(raw: bytes) -> Any:
    """JSON with numbers kept exact (prices must not drift through float)."""
    return json.loads(raw or b"null", parse_float=Decimal)


async def control_body(request: Request[Any, Any, Any]) -> dict[str, Any] | None:
    """A /_sandbox/ control body as a dict ({} when empty), or None if it is not one."""
    try:
        data = decode_json(await request.body())
    except ValueError:
        return None
    if data is None:
        return {}
    return data if isinstance(data, dict) else None


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response[bytes]:
    """A JSON answer with the `x-amzn-RequestId` header every SP-API answer carries."""
    all_headers = {"x-amzn-RequestId": request_id()}
    if headers:
        all_headers.update(headers)
    return Response(
        content=_ENCODER.encode(body),
        status_code=status,
        media_type="application/json",
        headers=all_headers,
    )


def iso(value: datetime) -> str:
    """The SP-API's timestamp format: UTC, whole seconds, with a Z."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
