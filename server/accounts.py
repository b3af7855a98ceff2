"""Connecting a merchant's channel account: check the body, then exchange it with the channel.

The service exchanges the code (or refresh token) itself through the
connectors; the caller stores the resulting ChannelAccount sealed with the
service key (`server.db.credentials`). Nothing of the body or the tokens is
ever logged or echoed back.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx
import msgspec

from connectors.base import ChannelAccount
from connectors.config import ApiConfig
from connectors.http import ApiClient
from connectors.rate_budget import RateBudget
from connectors.registry import EXTERNAL_CHANNELS, STORES, external_channel, store
from server.api.types import ChannelCredentials
from server.db.credentials import CredentialStore
from server.errors import InvalidInput, NotFound, Unavailable

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
# Every channel an account can be connected for: the marketplaces and the store platforms.
CONNECTABLE: tuple[str, ...] = (*EXTERNAL_CHANNELS, *STORES)


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


async def connect_and_save(
    store: CredentialStore,
    merchant_id: str,
    channel: str,
    credentials: Mapping[str, str],
    client: httpx.AsyncClient | None,
    env: Mapping[str, str],
    budget: RateBudget | None = None,
) -> None:
    """The one connect path (API and console): exchange with the channel, store sealed."""
    store.require_writable()  # never spend a single-use code on an account we cannot keep
    if client is None:
        raise Unavailable("the service is not started")
    account = await connect_account(channel, credentials, client, env, budget=budget)
    await store.save(merchant_id, channel, account)


class Connection(msgspec.Struct, frozen=True, omit_defaults=True):
    """What may be shown of a connected account: who and until when, never a token."""

    channel: str
    connected: bool
    seller_id: str | None = None
    marketplace_id: str | None = None
    access_token_expires_at: datetime | None = None
    refresh_token_expires_at: datetime | None = None
    connected_at: datetime | None = None


async def connection(store: CredentialStore, merchant_id: str, channel: str) -> Connection:
    """The connection state of one channel of a merchant."""
    raw = await store.load(merchant_id, channel)
    if raw is None:
        return Connection(channel=channel, connected=False)
    account = msgspec.json.decode(raw, type=ChannelAccount)
    return Connection(
        channel=channel,
        connected=True,
        seller_id=account.seller_id,
        marketplace_id=account.marketplace_id,
        access_token_expires_at=account.tokens.expires_at,
        refresh_token_expires_at=account.tokens.refresh_token_expires_at,
        connected_at=await store.connected_at(merchant_id, channel),
    )
