"""Reading the ISO 8601 timestamps callers send to every simulated API."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_iso(value: str) -> datetime | None:
    """An ISO 8601 timestamp (naive ones taken as UTC), or None if unreadable."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
