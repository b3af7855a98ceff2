"""Merchants in the database: creation with an API key, key rotation, settings.

Decide is on the hot path, so the API-key -> merchant mapping is cached (by
the key itself, so that a cached key costs no hash) until the key is rotated,
and settings for
`settings_cache_seconds`. A write forgets this worker's copy at once and then
awaits `broadcast(kind, merchant_id)`: with Redis, `server.cache_sync` has
every other worker forget its copy and confirm before the write is answered
(docs/operations.md). Without that, other processes see a settings change
within the window (plus one read, done in the background); `caching = False`
makes every lookup read the database (several workers and no Redis).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import msgspec

from engine.types import Settings
from server import auth
from server.db.tables import Tables
from server.errors import Conflict, NotFound

log = logging.getLogger(__name__)

_settings_decoder = msgspec.json.Decoder(Settings)
_MAX_CACHED = 100_000

# What a write tells the other workers to forget: a merchant's settings, or its keys.
SETTINGS = "settings"
KEYS = "keys"
Broadcast = Callable[[str, str], Awaitable[None]]


async def _nobody(kind: str, merchant_id: str) -> None:
    """No other worker to tell (a single process, or no Redis)."""


def _decode_settings(raw: str | bytes | None) -> Settings:
    return _settings_decoder.decode(raw or b"{}")


def _encode_settings(settings: Settings) -> str:
    return msgspec.json.encode(settings.given()).decode()


class MerchantStore:
    """Merchant rows and the caches that keep decide off the database."""

    def __init__(
        self,
        tables: Tables,
        *,
        settings_cache_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        broadcast: Broadcast = _nobody,
    ) -> None:
        self._table = tables.merchant
        self._ttl = settings_cache_seconds
        self._clock = clock
        self.broadcast = broadcast
        # False: read every lookup from the database (the caches cannot be kept exact).
        self.caching = True
        self._key_cache: dict[str, str] = {}  # an API key -> its merchant
        self._keys_of: dict[str, set[str]] = {}  # merchant -> keys cached for it
        self._settings_cache: dict[str, tuple[float, Settings | None]] = {}
        self._loading: dict[str, asyncio.Future[Settings | None]] = {}
        self._generation = 0  # bumped on every write, so a slow read never caches stale data

    async def create(self, merchant_id: str, name: str, settings: Settings) -> str:
        """Insert the merchant; returns its new API key (the only time it exists in clear)."""
        table = self._table
        if await table.exists().where(table.merchant_id == merchant_id).run():
            raise Conflict(f"merchant {merchant_id!r} already exists")
        key = auth.new_api_key()
        row = table(
            merchant_id=merchant_id,
            name=name,
            api_key_hash=auth.hash_api_key(key),
            settings=_encode_settings(settings),
            created_at=datetime.now(UTC),
        )
        try:
            await table.insert(row).run()
        except Exception as exc:  # a concurrent create won the unique index
            if await table.exists().where(table.merchant_id == merchant_id).run():
                raise Conflict(f"merchant {merchant_id!r} already exists") from exc
            raise
        self.forget(merchant_id)
        await self.broadcast(SETTINGS, merchant_id)  # another worker may have cached "unknown"
        return key

    async def rotate_key(self, merchant_id: str) -> str:
        """Give the merchant a new API key; the old one stops working on every worker
        before this returns. Returns the new key (the only time it exists in clear)."""
        table = self._table
        if not await table.exists().where(table.merchant_id == merchant_id).run():
            raise NotFound(f"merchant {merchant_id!r} not found")
        key = auth.new_api_key()
        await (
            table.update({table.api_key_hash: auth.hash_api_key(key)})
            .where(table.merchant_id == merchant_id)
            .run()
        )
        self.forget_keys(merchant_id)
        await self.broadcast(KEYS, merchant_id)
        return key

    def cached_merchant_for_key(self, key: str) -> str | None:
        """The merchant of a cached API key, or None (not cached: ask `merchant_for_key`)."""
        return self._key_cache.get(key) if self.caching else None

    async def merchant_for_key(self, key: str) -> str | None:
        """The merchant whose API key this is, or None."""
        cached = self.cached_merchant_for_key(key)
        if cached is not None:
            return cached
        table = self._table
        digest = auth.hash_api_key(key)
        rows = await table.select(table.merchant_id).where(table.api_key_hash == digest).run()
        if not rows:
            return None
        merchant_id: str = rows[0]["merchant_id"]
        if len(self._key_cache) >= _MAX_CACHED:
            self._key_cache.clear()
            self._keys_of.clear()
        self._key_cache[key] = merchant_id
        self._keys_of.setdefault(merchant_id, set()).add(key)
        return merchant_id

    def forget_keys(self, merchant_id: str) -> None:
        """Drop the cached keys of a merchant (its key was rotated)."""
        for key in self._keys_of.pop(merchant_id, ()):
            self._key_cache.pop(key, None)

    async def find_settings(self, merchant_id: str) -> Settings | None:
        """The merchant's stored settings (only what it set), or None when unknown.

        A fresh cached copy is answered at once. An expired one is answered too
        while one background read refreshes it (so a refresh never stalls the
        requests in flight); only a merchant not cached at all waits for the
        read, and concurrent misses share that one read.
        """
        cached = self._settings_cache.get(merchant_id) if self._ttl > 0 and self.caching else None
        if cached is not None:
            if cached[0] <= self._clock():
                self._start_loading(merchant_id)
            return cached[1]
        return await asyncio.shield(self._start_loading(merchant_id))

    def _start_loading(self, merchant_id: str) -> asyncio.Future[Settings | None]:
        pending = self._loading.get(merchant_id)
        if pending is None:
            pending = asyncio.ensure_future(self._load_settings(merchant_id))
            self._loading[merchant_id] = pending
            pending.add_done_callback(lambda done: self._done_loading(merchant_id, done))
        return pending

    async def _load_settings(self, merchant_id: str) -> Settings | None:
        table = self._table
        generation = self._generation
        rows = await table.select(table.settings).where(table.merchant_id == merchant_id).run()
        settings = _decode_settings(rows[0]["settings"]) if rows else None
        if generation == self._generation:  # no write happened meanwhile
            if len(self._settings_cache) >= _MAX_CACHED:
                self._settings_cache.clear()
            self._settings_cache[merchant_id] = (self._clock() + self._ttl, settings)
        return settings

    async def settings(self, merchant_id: str) -> Settings:
        """The merchant's stored settings; NotFound when there is no such merchant."""
        settings = await self.find_settings(merchant_id)
        if settings is None:
            raise NotFound(f"merchant {merchant_id!r} not found")
        return settings

    async def put_settings(self, merchant_id: str, settings: Settings) -> Settings:
        """Replace the merchant's settings with exactly the fields given; every worker
        uses them before this returns."""
        table = self._table
        self.forget(merchant_id)
        if not await table.exists().where(table.merchant_id == merchant_id).run():
            raise NotFound(f"merchant {merchant_id!r} not found")
        await (
            table.update({table.settings: _encode_settings(settings)})
            .where(table.merchant_id == merchant_id)
            .run()
        )
        self.forget(merchant_id)
        await self.broadcast(SETTINGS, merchant_id)
        return settings

    def _done_loading(self, merchant_id: str, done: asyncio.Future[Settings | None]) -> None:
        if self._loading.get(merchant_id) is done:
            del self._loading[merchant_id]
        if not done.cancelled() and done.exception() is not None:
            log.warning(
                "reading settings of %r failed: %s", merchant_id, type(done.exception()).__name__
            )

    def forget(self, merchant_id: str) -> None:
        """Drop the cached settings of a merchant; a read in flight will not cache them."""
        self._generation += 1
        self._settings_cache.pop(merchant_id, None)
        self._loading.pop(merchant_id, None)

    def forget_all(self) -> None:
        """Drop every cached setting and key (invalidations may have been missed)."""
        self._generation += 1
        self._settings_cache.clear()
        self._loading.clear()
        self._key_cache.clear()
        self._keys_of.clear()

    async def exists(self, merchant_id: str) -> bool:
        """Whether the merchant exists (read through the settings cache)."""
        return await self.find_settings(merchant_id) is not None

    async def directory(self, limit: int = 1000) -> list[tuple[str, str]]:
        """(merchant_id, name) of the first `limit` merchants by id (the admin's picker)."""
        table = self._table
        rows = await (
            table.select(table.merchant_id, table.name)
            .order_by(table.merchant_id)
            .limit(limit)
            .run()
        )
        return [(row["merchant_id"], row["name"]) for row in rows]
