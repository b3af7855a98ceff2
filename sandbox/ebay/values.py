"""Clock, timestamp and money helpers shared by the eBay routes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any


def now_utc() -> datetime:
    """The current time, timezone-aware (eBay compares and stamps in UTC)."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """eBay's timestamp format: UTC with milliseconds and a Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


def money(value: Any) -> Decimal | None:
    """A finite Decimal from eBay's string amounts, or None (never a float)."""
    if not isinstance(value, str):
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None
