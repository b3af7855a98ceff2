"""Connecting a merchant's channel account: check the body, then exchange it with the channel.

The service exchanges the code (or refresh token) itself through the
connectors; the caller stores the resulting ChannelAccount sealed with the
service key (`server.db.credentials`). Nothing of the body or the tokens is
ever logged or echoed back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import msgspec

from connectors.config import ApiConfig
from connectors.http import ApiClient
from connectors.rate_budget import RateBudget
from connectors.registry import EXTERNAL_CHANNELS, STORES, external_channel, store
from server.api.types import ChannelCredentials
from server.errors import InvalidInput, NotFound

# Which body fields each channel accepts, and which it needs.
_ALLOWED: dict[str, set[str]] = {
    "ebay": {"authorization_code", "refresh_token", "redirect_uri", "marketplace_id"},
    "amazon": {
        "authorization_code",
        "refresh_token",
        "redirect_uri",
        "marketplace_id",
        "seller_id",
    },
    "shopify": {"shop_domain", "access_token", "api_version"},
}
_REQUIRED: dict[str, set[str]] = {
    "ebay": set(),
    "amazon": {"seller_id"},
    "shopify": {"shop_domain", "access_token"},
}
_GRANTS = ("authorization_code", "refresh_token")


def credential_fields(channel: str, body: ChannelCredentials) -> dict[str, str]:
    """The given fields as the connector expects them; InvalidInput names what is wrong."""
    given = {k: v for k, v in msgspec.structs.asdict(body).items() if v is not None}
    allowed = _ALLOWED.get(channel)
    if allowed is None:
        raise NotFound(f"unknown channel {channel!r}")
    for name in sorted(set(given) - allowed):
        raise InvalidInput(f"not accepted for channel {channel}", name)
    for name in sorted(_REQUIRED[channel] - set(given)):
        raise InvalidInput(f"required for channel {channel}", name)
    if channel in ("ebay", "amazon"):
        grants = [g for g in _GRANTS if g in given]
        if len(grants) != 1:
            raise InvalidInput(
                "give exactly one of authorization_code or refresh_token", "authorization_code"
            )
    return given


async def connect_account(
    channel: str,
    credentials: Mapping[str, str],
    client: httpx.AsyncClient,
    env: Mapping[str, str],
    budget: RateBudget | None = None,
) -> Any:
    """Exchange the credentials with the channel's API (within the rate budgets, when given);
    returns a ChannelAccount."""
    config = ApiConfig.from_env(env)
    api = ApiClient(client, config, budget=budget)
    if channel in STORES:
        return await store(channel, api, config).connect(credentials)
    if channel in EXTERNAL_CHANNELS:
        return await external_channel(channel, api, config).authenticate(credentials)
    raise NotFound(f"unknown channel {channel!r}")
