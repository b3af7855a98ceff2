"""A way to the merchant's accounts for the stock tests (execution.drift_check.Access), made of
the same connectors and credential store the service uses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import msgspec

from connectors.base import ChannelAccount, ExternalChannel, StoreConnector
from connectors.config import ApiConfig
from connectors.http import ApiClient
from connectors.registry import external_channel, store
from server.db.credentials import CredentialStore
from server.services import Services


class ServiceAccess:
    """Connectors over the service's HTTP client, accounts from its credential store."""

    def __init__(self, svc: Services) -> None:
        assert svc.http is not None
        self.config = ApiConfig.from_env(svc.config.env)
        self.api = ApiClient(svc.http, self.config)
        self.credentials = CredentialStore(svc.tables, svc.secret_box)

    def channel(self, name: str) -> ExternalChannel:
        return external_channel(name, self.api, self.config)

    async def store_platform(self, merchant_id: str) -> str:
        return "shopify"

    def store_connector(self, platform: str) -> StoreConnector:
        return store(platform, self.api, self.config)

    @asynccontextmanager
    async def account(self, merchant_id: str, channel: str) -> AsyncIterator[ChannelAccount]:
        raw = await self.credentials.load(merchant_id, channel)
        assert raw is not None, f"{channel} not connected"
        account = msgspec.json.decode(raw, type=ChannelAccount)
        yield account
        if msgspec.json.encode(account) != raw:
            await self.credentials.save(merchant_id, channel, account)
