"""Replacing a merchant's settings: the one path for the API and the console, so both
validate alike (PUT /v1/merchants/{id}/settings semantics)."""

from __future__ import annotations

import msgspec

from connectors.registry import EXTERNAL_CHANNELS
from engine.types import Settings
from server.db.merchants import MerchantStore
from server.errors import InvalidInput


def check_channels(settings: Settings | None, prefix: str = "") -> None:
    """Only channels with a connector may be enabled, each once: units routed to
    any other name could never be listed."""
    channels = settings.enabled_external_channels if settings else msgspec.UNSET
    if channels is msgspec.UNSET:
        return
    for i, name in enumerate(channels):
        field = f"{prefix}enabled_external_channels[{i}]"
        if name not in EXTERNAL_CHANNELS:
            known = ", ".join(sorted(EXTERNAL_CHANNELS))
            raise InvalidInput(f"unknown external channel {name!r} (known: {known})", field)
        if name in channels[:i]:
            raise InvalidInput(f"channel {name!r} is listed twice", field)


async def replace_settings(
    merchants: MerchantStore, merchant_id: str, settings: Settings
) -> Settings:
    """Check, then store exactly the fields given (left-out ones fall back to lower layers)."""
    check_channels(settings)
    return await merchants.put_settings(merchant_id, settings)
