"""Decoding the JSON bodies sent to the sandbox's own /_sandbox/... control routes."""

from __future__ import annotations

from decimal import Decimal
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


class ListingEdit(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Body of the marketplaces' drift controls `.../edit`: a new quantity and/or price, as if the
    seller changed the listing by hand."""

    quantity: int | None = None
    price: Decimal | None = None

    def problem(self) -> str | None:
        """Why the edit is impossible, or None."""
        if self.quantity is not None and self.quantity < 0:
            return "quantity must be >= 0"
        if self.price is not None and (not self.price.is_finite() or self.price <= 0):
            return "price must be > 0"
        return None
