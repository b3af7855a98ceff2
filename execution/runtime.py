"""What every job needs, built once in the worker's start-up and kept in arq's ctx:
the campaign store, the merchants' accounts, the connectors and the pacing.

Accounts are opened for one job at a time (`Runtime.account`): the connector refreshes
tokens in place and the account is sealed back when anything changed, so the next job (on
any worker) starts from the fresh tokens.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec

from connectors.base import ChannelAccount, ExternalChannel, StoreConnector
from connectors.config import ApiConfig
from connectors.errors import PermanentChannelError
from connectors.http import ApiClient
from connectors.registry import STORES, external_channel, store
from execution.holds import Holds
from execution.retries import RetryPolicy
from execution.store import CampaignStore
from execution.worker_config import WorkerConfig
from server.db.credentials import CredentialStore
from server.db.retention import Pruner

RUNTIME_KEY = "runtime"


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    """The worker's services (one per worker process)."""

    campaigns: CampaignStore
    credentials: CredentialStore
    api: ApiClient
    api_config: ApiConfig
    config: WorkerConfig
    queue_name: str
    redis_prefix: str
    pruner: Pruner | None = None
    engine: Any = None  # the piccolo engine, closed at shutdown
    holds: Holds | None = None  # stock holds on the store (execution.holds); None: none made
    clock: Callable[[], datetime] = utcnow

    @property
    def retry(self) -> RetryPolicy:
        c = self.config
        return RetryPolicy(
            base_seconds=c.retry_base_seconds,
            cap_seconds=c.retry_max_seconds,
            retry_after_cap_seconds=c.retry_after_max_seconds,
            max_tries=c.max_tries,
        )

    def channel(self, name: str) -> ExternalChannel:
        return external_channel(name, self.api, self.api_config)

    async def store_platform(self, merchant_id: str) -> str:
        """The store platform the merchant connected (the first one with an account)."""
        for name in STORES:
            if await self.credentials.load(merchant_id, name) is not None:
                return name
        raise PermanentChannelError(
            f"merchant {merchant_id!r} has no store account connected "
            f"(connect one of: {', '.join(STORES)})",
            api="store",
        )

    def store_connector(self, platform: str) -> StoreConnector:
        return store(platform, self.api, self.api_config)

    @asynccontextmanager
    async def account(self, merchant_id: str, channel: str) -> AsyncIterator[ChannelAccount]:
        """The merchant's account on `channel`, saved back if a call refreshed its tokens
        (also when the call then failed: the refresh happened)."""
        raw = await self.credentials.load(merchant_id, channel)
        if raw is None:
            raise PermanentChannelError(
                f"merchant {merchant_id!r} has no {channel} account connected", api=channel
            )
        account = msgspec.json.decode(raw, type=ChannelAccount)
        try:
            yield account
        finally:
            if msgspec.json.encode(account) != raw:
                await self.credentials.save(merchant_id, channel, account)


def runtime(ctx: dict[str, Any]) -> Runtime:
    """The Runtime the worker's start-up put into arq's ctx."""
    found: Runtime = ctx[RUNTIME_KEY]
    return found
