"""Replacing a merchant's settings: the one path for the API and the console, so both
validate alike (PUT /v1/merchants/{id}/settings semantics)."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from connectors.registry import EXTERNAL_CHANNELS
from engine.types import Settings
from server.db.merchants import MerchantStore
from server.errors import InvalidFields


def channel_problems(channels: Sequence[str], field: str) -> list[tuple[str, str]]:
    """Only channels with a connector may be enabled, each once: units routed to any
    other name could never be listed. (field, reason) for every offending entry."""
    problems = []
    known = ", ".join(sorted(EXTERNAL_CHANNELS))
    for i, name in enumerate(channels):
        at = f"{field}[{i}]"
        if name not in EXTERNAL_CHANNELS:
            problems.append((at, f"unknown external channel {name!r} (known: {known})"))
        elif name in channels[:i]:
            problems.append((at, f"channel {name!r} is listed twice"))
    return problems


def settings_problems(settings: Settings | None, prefix: str = "") -> list[tuple[str, str]]:
    """What is wrong with settings beyond their types (their channels)."""
    channels = settings.enabled_external_channels if settings else msgspec.UNSET
    if channels is msgspec.UNSET:
        return []
    return channel_problems(channels, f"{prefix}enabled_external_channels")


def check_channels(settings: Settings | None, prefix: str = "") -> None:
    """InvalidFields (422) naming every channel that cannot be enabled."""
    problems = settings_problems(settings, prefix)
    if problems:
        raise InvalidFields(f"{len(problems)} channel(s) cannot be enabled", problems)


async def replace_settings(
    merchants: MerchantStore, merchant_id: str, settings: Settings
) -> Settings:
    """Check, then store exactly the fields given (left-out ones fall back to lower layers)."""
    check_channels(settings)
    return await merchants.put_settings(merchant_id, settings)
