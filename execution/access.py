"""How the stock steps reach a merchant's store and marketplace accounts: the port the worker's
runtime fills (connectors by name, the merchant's store platform, accounts opened per use and
saved back when a call refreshed their tokens)."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Protocol

from connectors.base import ChannelAccount, ExternalChannel, StoreConnector


class Access(Protocol):
    def channel(self, name: str) -> ExternalChannel: ...

    async def store_platform(self, merchant_id: str) -> str: ...

    def store_connector(self, platform: str) -> StoreConnector: ...

    def account(
        self, merchant_id: str, channel: str
    ) -> AbstractAsyncContextManager[ChannelAccount]: ...
