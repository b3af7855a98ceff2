"""Connecting a merchant's channel account: check the body, exchange, encrypt, store.

The service exchanges the code (or refresh token) itself through the
connectors, then stores the resulting ChannelAccount sealed with the service
key. Nothing of the body or the tokens is ever logged or echoed back.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec

from connectors.config import ApiConfig
from connectors.http import ApiClient
from connectors.registry import EXTERNAL_CHANNELS, STORES, external_channel, store
from server.api_types import ChannelCredentials
from server.errors import InvalidInput, NotFound, Unavailable
from server.secrets_box import SecretBox
from server.tables import Tables

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


class CredentialStore:
    """Encrypted channel accounts per merchant and channel."""

    def __init__(self, tables: Tables, box: SecretBox | None) -> None:
        self._table = tables.channel_credential
        self._box = box

    def _require_box(self) -> SecretBox:
        if self._box is None:
            raise Unavailable("credentials cannot be stored: CHANNEL_ROUTER_SECRET_KEY is not set")
        return self._box

    async def save(self, merchant_id: str, channel: str, account: Any) -> None:
        """Seal the msgspec-encoded account and upsert it."""
        box = self._require_box()
        ciphertext = box.seal(msgspec.json.encode(account))
        table = self._table
        now = datetime.now(UTC)
        # One statement: two concurrent connects of the same account cannot collide.
        await (
            table.insert(
                table(
                    credential_key=f"{merchant_id}:{channel}",
                    merchant_id=merchant_id,
                    channel=channel,
                    ciphertext=ciphertext,
                    updated_at=now,
                )
            )
            .on_conflict(
                target=table.credential_key,
                action="DO UPDATE",
                values=[table.ciphertext, table.updated_at],
            )
            .run()
        )

    async def load(self, merchant_id: str, channel: str) -> bytes | None:
        """The decrypted msgspec JSON of the stored account, or None."""
        table = self._table
        rows = await (
            table.select(table.ciphertext)
            .where(table.credential_key == f"{merchant_id}:{channel}")
            .run()
        )
        if not rows:
            return None
        return self._require_box().open(rows[0]["ciphertext"])


async def connect_account(
    channel: str,
    credentials: Mapping[str, str],
    client: httpx.AsyncClient,
    env: Mapping[str, str],
) -> Any:
    """Exchange the credentials with the channel's API; returns a ChannelAccount."""
    config = ApiConfig.from_env(env)
    api = ApiClient(client, config)
    if channel in STORES:
        return await store(channel, api, config).connect(credentials)
    if channel in EXTERNAL_CHANNELS:
        return await external_channel(channel, api, config).authenticate(credentials)
    raise NotFound(f"unknown channel {channel!r}")
