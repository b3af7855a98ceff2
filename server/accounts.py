"""Connecting a merchant's channel account: check the body, then exchange it with the channel.

The service exchanges the code (or refresh token) itself through the
connectors; the caller stores the resulting ChannelAccount sealed with the
service key (`server.db.credentials`). Nothing of the body or the tokens is
ever logged or echoed back.
"""

from __future__ import annotations

import asyncio
import logging
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
from server.api.decoding import explain
from server.api.types import (
    AmazonCredentials,
    ChannelCredentials,
    EbayCredentials,
    ShopifyCredentials,
)
from server.db.credentials import CredentialStore
from server.db.faults import unavailable_reason
from server.errors import InvalidFields, NotFound, Unavailable

log = logging.getLogger(__name__)

# The body each channel takes (each field's own rules; the OpenAPI document shows them).
BODIES: dict[str, type[msgspec.Struct]] = {
    "ebay": EbayCredentials,
    "amazon": AmazonCredentials,
    "shopify": ShopifyCredentials,
}
# Every channel an account can be connected for: the marketplaces and the store platforms.
CONNECTABLE: tuple[str, ...] = (*EXTERNAL_CHANNELS, *STORES)
# After the channel accepted a code, storing the account is retried this long
# (the code is spent: giving up loses the connection).
SAVE_RETRY_SECONDS = (0.1, 0.3, 1.0, 2.0)


def credential_fields(channel: str, body: ChannelCredentials) -> dict[str, str]:
    """The given fields as the connector expects them; InvalidFields names everything
    that does not fit the channel's own body (unknown, missing, malformed fields)."""
    given = {k: v for k, v in msgspec.structs.asdict(body).items() if v is not None}
    shape = BODIES.get(channel)
    if shape is None:
        raise NotFound(f"unknown channel {channel!r}")
    problems = explain(given, shape, "")
    if problems:
        fields = [(p.name, f"{p.reason} (for channel {channel})") for p in problems]
        raise InvalidFields(f"{len(fields)} field(s) do not fit channel {channel}", fields)
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
    """The one connect path (API and console): exchange with the channel, store sealed.

    Authorization codes are single-use, so the code is spent only once the account can
    be kept: the key must be there and the database must take a write (a pending
    connection is recorded first; a locked or read-only database fails here, with the
    code still good). Storing the account is then retried for a few seconds if the
    database falters meanwhile.
    """
    store.require_writable()
    if client is None:
        raise Unavailable("the service is not started")
    await store.begin(merchant_id, channel)
    try:
        account = await connect_account(channel, credentials, client, env, budget=budget)
    except BaseException:
        await _quietly(store.abandon(merchant_id, channel))
        raise
    for delay in (*SAVE_RETRY_SECONDS, None):
        try:
            await store.save(merchant_id, channel, account)
            return
        except Exception as exc:
            if unavailable_reason(exc) is None:
                raise
            if delay is None:
                log.error(
                    "the %s account of %r was accepted by the channel but not stored (%s)",
                    channel,
                    merchant_id,
                    type(exc).__name__,
                )
                raise Unavailable(
                    f"the {channel} account was accepted but could not be stored; "
                    "connect it again (with a new authorization code)"
                ) from exc
            await asyncio.sleep(delay)


async def _quietly(step: Any) -> None:
    try:
        await step
    except Exception as exc:  # the pending row is harmless; the caller's error matters
        log.warning("could not clear a pending connection: %s", type(exc).__name__)


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
