"""How many decision-log rows one merchant key may write: a budget shared by all workers.

The limit is a `limits` rate (e.g. "20000 per 10 seconds"), counted in rows, so
a 10,000-item batch spends 10,000. It is kept by the `limits` library with the
sliding-window-counter strategy, in Redis when the service has one (so every
worker process on every host shares one budget per key), else in memory.

The decide path must not pay a Redis round trip per request. So each process
takes rows from the shared budget in leases of a few hundred and spends them
locally; only when a lease runs out does a request wait for Redis (one request
per key and process; the others wait for its refill). A lease is used within
one window or dropped, so what a process holds back, and how far the workers
together can overshoot the limit, is bounded by workers x lease rows (each
lease 1/50 of the limit). If Redis fails, the process keeps a budget of its own
(the same limit, per process) until Redis answers again: the cap still holds
per process, and decisions do not stop because a limiter is away.

The admin token is not limited: it is the operator's.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from server.auth import Principal
from server.errors import RateLimited

log = logging.getLogger(__name__)

MAX_KEYS = 100_000  # refill locks kept; idle ones are dropped past this
LEASES_PER_WINDOW = 50  # a lease is 1/50 of the limit: 400 rows of 20,000 per 10 s
NAMESPACE = "decision-rows"


class RateConfigError(ValueError):
    """The configured rate cannot be used."""


def parse_rate(text: str | None, max_batch: int) -> RateLimitItem | None:
    """The rate of CHANNEL_ROUTER_DECISION_RATE_LIMIT; None for "off"."""
    if text is None or text.strip().lower() in ("", "off", "none", "0"):
        return None
    try:
        item = parse(text)
    except ValueError as exc:
        raise RateConfigError(
            f"CHANNEL_ROUTER_DECISION_RATE_LIMIT={text!r} is not a rate such as "
            "'20000 per 10 seconds' or 'off'"
        ) from exc
    if item.amount < max_batch:
        raise RateConfigError(
            f"CHANNEL_ROUTER_DECISION_RATE_LIMIT={text!r} allows {item.amount} rows per window, "
            f"fewer than one full batch ({max_batch} items): such a batch could never pass"
        )
    return item


class WriteBudget:
    """Per merchant key: refuses (RateLimited, 429) rows beyond the configured rate."""

    def __init__(
        self,
        rate: RateLimitItem | None,
        redis_url: str | None = None,
        *,
        key_prefix: str = "channel-router",
    ) -> None:
        self.rate = rate
        self._local = SlidingWindowCounterRateLimiter(MemoryStorage())
        self._shared_storage: Storage | None = None
        self._shared: SlidingWindowCounterRateLimiter | None = None
        if rate is not None and redis_url:
            self._shared_storage = RedisStorage(
                "async+" + redis_url, implementation="redispy", key_prefix=key_prefix
            )
            self._shared = SlidingWindowCounterRateLimiter(self._shared_storage)
        self._lease_rows = max(1, rate.amount // LEASES_PER_WINDOW) if rate else 0
        self._leases: dict[str, tuple[int, float]] = {}  # merchant -> (rows left, usable until)
        self._locks: dict[str, asyncio.Lock] = {}
        self._shared_failed = False
        self.shared_calls = 0  # round trips to the shared budget; for tests and benchmarks

    async def spend(self, principal: Principal, rows: int) -> None:
        """Take `rows` from the caller's budget, or raise RateLimited with a Retry-After."""
        rate = self.rate
        if rate is None or principal.is_admin or principal.merchant_id is None or rows <= 0:
            return
        key = principal.merchant_id
        if self._spend_leased(key, rows):
            return
        # One refill per key at a time: concurrent requests wait for it, then spend
        # from it, instead of each taking (and all but one dropping) a lease.
        lock = self._locks.get(key)
        if lock is None:
            if len(self._locks) >= MAX_KEYS:
                self._locks = {k: v for k, v in self._locks.items() if v.locked()}
            lock = self._locks[key] = asyncio.Lock()
        async with lock:
            if not self._spend_leased(key, rows):
                await self._refill_and_spend(rate, key, rows)

    def _spend_leased(self, key: str, rows: int) -> bool:
        """Spend from this process's lease of the key, if it holds enough."""
        left, until = self._leases.get(key, (0, 0.0))
        if left >= rows and time.monotonic() < until:
            self._leases[key] = (left - rows, until)
            return True
        return False

    async def _refill_and_spend(self, rate: RateLimitItem, key: str, rows: int) -> None:
        now = time.monotonic()
        left, until = self._leases.get(key, (0, 0.0))
        if now >= until:
            left = 0
        need = rows - left
        want = max(need, self._lease_rows)
        if await self._take(rate, key, want):
            granted = want
        elif want > need and await self._take(rate, key, need):
            granted = need
        else:
            raise RateLimited(
                f"merchant {key!r} may write {rate.amount} decisions per "
                f"{rate.get_expiry()} seconds; this request needs {rows}",
                retry_after=await self._retry_after(rate, key, rows),
            )
        self._leases[key] = (left + granted - rows, now + rate.get_expiry())

    async def _take(self, rate: RateLimitItem, key: str, rows: int) -> bool:
        if self._shared is not None:
            try:
                self.shared_calls += 1
                granted = await self._shared.hit(rate, NAMESPACE, key, cost=rows)
            except Exception as exc:
                if not self._shared_failed:
                    log.warning(
                        "decision rate budget in Redis unavailable (%s); "
                        "limiting per process until it answers",
                        type(exc).__name__,
                    )
                    self._shared_failed = True
            else:
                if self._shared_failed:
                    log.info("decision rate budget in Redis answers again")
                    self._shared_failed = False
                return granted
        return await self._local.hit(rate, NAMESPACE, key, cost=rows)

    async def _retry_after(self, rate: RateLimitItem, key: str, rows: int) -> float:
        """Seconds until the budget should hold `rows` again (at least 1)."""
        limiter = self._shared if self._shared is not None and not self._shared_failed else None
        try:
            stats = await (limiter or self._local).get_window_stats(rate, NAMESPACE, key)
        except Exception:
            return float(rate.get_expiry())
        per_second = rate.amount / rate.get_expiry()
        short = max(0, rows - stats.remaining)
        return float(max(1, math.ceil(short / per_second)))

    async def close(self) -> None:
        """Close the Redis connections of the shared budget."""
        if self._shared_storage is not None:
            bridge = getattr(self._shared_storage, "bridge", None)
            client = getattr(bridge, "storage", None)
            close = getattr(client, "aclose", None)
            if close is not None:
                try:
                    await close()
                except Exception as exc:
                    log.debug("closing the rate budget's Redis client: %s", exc)
