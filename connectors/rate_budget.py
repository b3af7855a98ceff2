"""Per-API call budgets held in Redis, so every worker together keeps each marketplace's limits.

Why it looks the way it does:
- Counting is done by the `limits` library on Redis (`MovingWindowRateLimiter` for per-second
  limits, `FixedWindowRateLimiter` for daily quotas); this module only says which limits a call
  falls under and waits for room.
- A token bucket of rate r and burst b (Amazon's published limits) is kept as a moving window of
  b calls per b/r seconds: in any span of T seconds that allows at most b * ceil(T * r / b) <=
  b + r*T calls, which is what the bucket allows, and the long-run rate is r.
- A daily quota N (eBay) is kept as hourly windows of N/25 calls: any 24 hours touch at most 25
  such windows, so no 24-hour span exceeds N whatever time of day eBay resets its counters.
- Whose budget: Amazon limits are per selling-partner account and application, Shopify's bucket
  per store and application, so those are keyed by the seller id / shop; every merchant has its
  own and none can starve another. eBay's daily quotas belong to our application, shared by every
  merchant: there each account also has a share (`merchant_share`, default a quarter of the
  quota), so one large merchant cannot use up the day for the others.
- Shopify: the bucket's size and restore rate are learned from every answer's
  `extensions.cost.throttleStatus` (Standard 2000/100 per s until an answer says otherwise), and
  when an answer shows less room than the next call needs, the store is paused for the time the
  bucket needs to refill, for every worker.
- A call never waits longer than `max_wait_seconds`: past that it fails with `BudgetExhausted`
  (a TransientChannelError with `retry_after`), so a job queue defers the job and the worker moves
  on to other merchants instead of sleeping.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import re
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import httpx
import msgspec
from limits import RateLimitItem, RateLimitItemPerHour, RateLimitItemPerSecond
from limits.aio.storage import RedisStorage
from limits.aio.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from connectors.errors import TransientChannelError

Scope = Literal["account", "app", "share"]
HOURS_PER_QUOTA_DAY: Final = 25
"""Hourly windows a daily quota is split into (see the module docstring)."""
SHOPIFY_DEFAULT_BUCKET: Final = (2000.0, 100.0)
"""(maximumAvailable, restoreRate) of Shopify's Standard plan, until an answer says otherwise."""
_LEARNED_TTL_SECONDS: Final = 3600
_LOCAL_CACHE_SECONDS: Final = 30.0


class BudgetRequest(msgspec.Struct, frozen=True):
    """Whose budget a call spends and how much: `account_key` is the seller id (Amazon), the shop
    domain (Shopify) or the account (eBay); `cost` is Shopify's estimated query cost (1 elsewhere);
    `operation` names the operation when the path cannot tell (eBay's token grants)."""

    account_key: str
    cost: int = 1
    operation: str | None = None


class Limit(msgspec.Struct, frozen=True):
    """One budget: `rate` calls per second with `burst`, or `per_day` calls a day."""

    rate: float | None = None
    burst: int | None = None
    per_day: int | None = None

    def items(self) -> list[tuple[Scope, RateLimitItem]]:
        """The limits-library items that keep this budget (see the module docstring)."""
        found: list[tuple[Scope, RateLimitItem]] = []
        if self.rate is not None and self.rate > 0:
            burst = max(1, self.burst or math.ceil(self.rate))
            seconds = max(1, math.ceil(burst / self.rate))
            found.append(("account", RateLimitItemPerSecond(burst, seconds)))
        if self.per_day is not None and self.per_day > 0:
            hourly = max(1, self.per_day // HOURS_PER_QUOTA_DAY)
            found.append(("app", RateLimitItemPerHour(hourly, 1)))
        return found


@dataclass(frozen=True)
class Operation:
    """A kind of call and the budget it spends; `pattern` matches 'METHOD /path'."""

    api: str
    name: str
    pattern: re.Pattern[str]
    limit: Limit


def _op(api: str, name: str, pattern: str, **limit: Any) -> Operation:
    return Operation(api, name, re.compile(pattern), Limit(**limit))


# Published limits. Amazon: each operation's description in the Listings Items 2021-08-01 and
# Orders v0 models (rate per second, burst). eBay: daily default call limits per application,
# https://developer.ebay.com/develop/api/sell/api_call_limits (Account API 25,000) and the OAuth
# token endpoint limits (refresh 50,000, authorization code 10,000); raise them with
# CHANNEL_ROUTER_RATE_LIMITS after eBay's Application Growth Check.
DEFAULT_OPERATIONS: Final[tuple[Operation, ...]] = (
    _op("amazon", "listings_put", r"^PUT /listings/2021-08-01/items/", rate=5, burst=10),
    _op("amazon", "listings_patch", r"^PATCH /listings/2021-08-01/items/", rate=5, burst=5),
    _op("amazon", "listings_get", r"^GET /listings/2021-08-01/items/", rate=5, burst=10),
    _op("amazon", "listings_delete", r"^DELETE /listings/2021-08-01/items/", rate=5, burst=5),
    _op(
        "amazon", "get_order_items", r"^GET /orders/v0/orders/[^/]+/orderItems", rate=0.5, burst=30
    ),
    _op("amazon", "get_orders", r"^GET /orders/v0/orders/?$", rate=0.0167, burst=20),
    _op("ebay", "inventory", r"^\w+ /sell/inventory/", per_day=2_000_000),
    _op("ebay", "account", r"^\w+ /sell/account/", per_day=25_000),
    _op("ebay", "fulfillment", r"^\w+ /sell/fulfillment/", per_day=100_000),
    _op("ebay", "oauth_refresh_token", r"^$", per_day=50_000),
    _op("ebay", "oauth_authorization_code", r"^$", per_day=10_000),
    _op("shopify", "graphql", r"^POST /admin/api/"),
)


@dataclass(frozen=True)
class BudgetConfig:
    """Rate budget settings (read once from the environment)."""

    enabled: bool = True
    merchant_share: float = 0.25
    max_wait_seconds: float = 30.0
    overrides: Mapping[str, Limit] = field(default_factory=dict)
    key_prefix: str = "channel-router:rate"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> BudgetConfig:
        """CHANNEL_ROUTER_RATE_BUDGETS (on/off), _RATE_MERCHANT_SHARE (0..1],
        _RATE_MAX_WAIT_SECONDS, _RATE_KEY_PREFIX and _RATE_LIMITS (JSON: {"api.operation":
        {"rate", "burst"} or {"per_day"}}). ValueError names the variable that is wrong."""
        enabled = env.get("CHANNEL_ROUTER_RATE_BUDGETS", "on").strip().lower()
        if enabled not in ("on", "off", "true", "false", "1", "0", ""):
            raise ValueError("CHANNEL_ROUTER_RATE_BUDGETS must be on or off")
        share = _number(env, "CHANNEL_ROUTER_RATE_MERCHANT_SHARE", cls.merchant_share)
        if not 0 < share <= 1:
            raise ValueError("CHANNEL_ROUTER_RATE_MERCHANT_SHARE must be in (0, 1]")
        wait = _number(env, "CHANNEL_ROUTER_RATE_MAX_WAIT_SECONDS", cls.max_wait_seconds)
        if wait < 0:
            raise ValueError("CHANNEL_ROUTER_RATE_MAX_WAIT_SECONDS must be >= 0")
        raw = env.get("CHANNEL_ROUTER_RATE_LIMITS", "").strip()
        try:
            overrides = msgspec.json.decode(raw or "{}", type=dict[str, Limit])
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ValueError(f"CHANNEL_ROUTER_RATE_LIMITS: {exc}") from None
        known = {f"{op.api}.{op.name}" for op in DEFAULT_OPERATIONS}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(
                f"CHANNEL_ROUTER_RATE_LIMITS: unknown operation {unknown[0]!r} "
                f"(known: {', '.join(sorted(known))})"
            )
        return cls(
            enabled=enabled in ("on", "true", "1", ""),
            merchant_share=share,
            max_wait_seconds=wait,
            overrides=overrides,
            key_prefix=env.get("CHANNEL_ROUTER_RATE_KEY_PREFIX", "").strip() or cls.key_prefix,
        )


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number") from None


class BudgetExhausted(TransientChannelError):
    """No room in a budget within the longest wait allowed: try again after `retry_after`."""


class RateBudget:
    """Budgets for every marketplace call, shared through Redis by every worker.

    `key_prefix` (default: the config's) keeps the keys of one deployment (or one test) apart
    from any other on the same Redis: every process of a deployment must use the same one. Build
    one per process (app start-up, worker start-up) and close it on shutdown.
    """

    def __init__(
        self,
        redis_url: str,
        config: BudgetConfig | None = None,
        *,
        key_prefix: str | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        import redis.asyncio as redis_asyncio

        self.config = config or BudgetConfig()
        key_prefix = key_prefix or self.config.key_prefix
        self._prefix = key_prefix
        self._storage = RedisStorage(
            "async+" + redis_url, implementation="redispy", key_prefix=key_prefix
        )
        self._redis: Any = redis_asyncio.from_url(redis_url)
        self._moving = MovingWindowRateLimiter(self._storage)
        self._fixed = FixedWindowRateLimiter(self._storage)
        self._sleep = sleep
        self._rng = random.Random()
        self._operations = tuple(
            Operation(op.api, op.name, op.pattern, self.config.overrides.get(key, op.limit))
            for op in DEFAULT_OPERATIONS
            for key in [f"{op.api}.{op.name}"]
        )
        self._by_name = {(op.api, op.name): op for op in self._operations}
        self._buckets: dict[str, tuple[float, tuple[float, float]]] = {}
        self.remaining: dict[tuple[str, str, str], float] = {}
        self.waited_seconds: dict[tuple[str, str], float] = {}
        self.exhausted: dict[tuple[str, str], int] = {}

    async def close(self) -> None:
        """Close the Redis connections."""
        await self._redis.aclose()
        client = getattr(self._storage, "storage", None)
        if client is not None and hasattr(client, "aclose"):
            await client.aclose()

    def operation(
        self, api: str, method: str, path: str, request: BudgetRequest
    ) -> Operation | None:
        """The operation a call belongs to, or None when no budget applies to it."""
        if request.operation is not None:
            return self._by_name.get((api, request.operation))
        target = f"{method.upper()} {path}"
        return next(
            (op for op in self._operations if op.api == api and op.pattern.search(target)), None
        )

    async def acquire(self, api: str, method: str, path: str, request: BudgetRequest) -> float:
        """Wait until the call fits every budget it falls under, then spend it there.

        Returns the seconds waited; raises BudgetExhausted when that would exceed the longest
        wait allowed."""
        if not self.config.enabled:
            return 0.0
        operation = self.operation(api, method, path, request)
        if operation is None:
            return 0.0
        started = time.monotonic()
        deadline = started + self.config.max_wait_seconds
        checks = await self._checks(operation, request)
        while True:
            wait = await self._pause_left(operation, request)
            if wait <= 0:
                wait = await self._try_spend(operation, request, checks)
                if wait <= 0:
                    waited = time.monotonic() - started
                    key = (operation.api, operation.name)
                    self.waited_seconds[key] = self.waited_seconds.get(key, 0.0) + waited
                    return waited
            if time.monotonic() + wait > deadline:
                key = (operation.api, operation.name)
                self.exhausted[key] = self.exhausted.get(key, 0) + 1
                raise BudgetExhausted(
                    f"rate budget {operation.api}.{operation.name} has no room for "
                    f"{wait:.1f}s (longest wait {self.config.max_wait_seconds:g}s)",
                    api=operation.api,
                    retry_after=wait,
                )
            # A little jitter so waiting workers do not all come back at the same instant.
            await self._sleep(wait + self._rng.uniform(0.0, 0.01))

    async def _checks(
        self, operation: Operation, request: BudgetRequest
    ) -> list[tuple[Scope, RateLimitItem, tuple[str, ...], int]]:
        """(scope, item, identifiers, cost) of every window this call must fit in."""
        cost = max(1, request.cost)
        if operation.api == "shopify":
            maximum, restore = await self._shopify_bucket(request.account_key)
            size = max(1, int(maximum))
            seconds = max(1, math.ceil(maximum / max(restore, 0.001)))
            item: RateLimitItem = RateLimitItemPerSecond(size, seconds)
            return [("account", item, (operation.api, operation.name, request.account_key), cost)]
        checks: list[tuple[Scope, RateLimitItem, tuple[str, ...], int]] = []
        for scope, item in operation.limit.items():
            if scope == "account":
                ids: tuple[str, ...] = (operation.api, operation.name, request.account_key)
                checks.append((scope, item, ids, cost))
            else:
                checks.append((scope, item, (operation.api, operation.name), cost))
                share = max(1, math.floor(item.amount * self.config.merchant_share))
                if share < item.amount:
                    share_item = RateLimitItemPerHour(share, 1)
                    ids = (operation.api, operation.name, "share", request.account_key)
                    checks.append(("share", share_item, ids, cost))
        return checks

    def _limiter(self, item: RateLimitItem) -> MovingWindowRateLimiter | FixedWindowRateLimiter:
        return self._fixed if isinstance(item, RateLimitItemPerHour) else self._moving

    async def _try_spend(
        self,
        operation: Operation,
        request: BudgetRequest,
        checks: list[tuple[Scope, RateLimitItem, tuple[str, ...], int]],
    ) -> float:
        """Spend the call in every window (0.0), or the seconds until the fullest one has room."""
        for scope, item, ids, cost in checks:
            limiter = self._limiter(item)
            stats = await limiter.get_window_stats(item, *ids)
            self.remaining[(operation.api, operation.name, scope)] = stats.remaining
            if stats.remaining < cost:
                return max(0.001, stats.reset_time - time.time())
        for scope, item, ids, cost in checks:
            if not await self._limiter(item).hit(item, *ids, cost=cost):
                # Another worker took the room between the check and the hit; what this call
                # already spent elsewhere stays spent (never more calls than the limits allow).
                stats = await self._limiter(item).get_window_stats(item, *ids)
                self.remaining[(operation.api, operation.name, scope)] = stats.remaining
                return max(0.001, stats.reset_time - time.time())
            key = (operation.api, operation.name, scope)
            self.remaining[key] = max(0.0, self.remaining.get(key, item.amount) - cost)
        return 0.0

    # --- Shopify: learn the bucket from throttleStatus, pause when it runs low ---

    def _key(self, *parts: str) -> str:
        return ":".join((self._prefix, *parts))

    async def _shopify_bucket(self, shop: str) -> tuple[float, float]:
        cached = self._buckets.get(shop)
        now = time.monotonic()
        if cached is not None and now - cached[0] < _LOCAL_CACHE_SECONDS:
            return cached[1]
        raw = await self._redis.get(self._key("shopify-bucket", shop))
        bucket = SHOPIFY_DEFAULT_BUCKET
        if raw:
            try:
                maximum, restore = json.loads(raw)
                bucket = (float(maximum), float(restore))
            except (ValueError, TypeError):
                bucket = SHOPIFY_DEFAULT_BUCKET
        self._buckets[shop] = (now, bucket)
        return bucket

    async def _pause_left(self, operation: Operation, request: BudgetRequest) -> float:
        if operation.api != "shopify":
            return 0.0
        millis = await self._redis.pttl(self._key("shopify-pause", request.account_key))
        return max(0.0, millis / 1000.0) if millis and millis > 0 else 0.0

    async def observe(self, api: str, request: BudgetRequest, response: httpx.Response) -> None:
        """Learn from an answer: Shopify's throttleStatus (bucket size, restore rate, room left)."""
        if not self.config.enabled or api != "shopify" or b"throttleStatus" not in response.content:
            return
        try:
            status = response.json()["extensions"]["cost"]["throttleStatus"]
            maximum = float(status["maximumAvailable"])
            restore = float(status["restoreRate"])
            available = float(status["currentlyAvailable"])
        except (ValueError, KeyError, TypeError):
            return
        if maximum <= 0 or restore <= 0:
            return
        shop = request.account_key
        self.remaining[("shopify", "graphql", "account")] = available
        if self._buckets.get(shop, (0.0, SHOPIFY_DEFAULT_BUCKET))[1] != (maximum, restore):
            await self._redis.set(
                self._key("shopify-bucket", shop),
                json.dumps([maximum, restore]),
                ex=_LEARNED_TTL_SECONDS,
            )
            self._buckets[shop] = (time.monotonic(), (maximum, restore))
        needed = max(1, request.cost)
        if available < needed:
            pause = (needed - available) / restore
            await self._redis.set(
                self._key("shopify-pause", shop), "1", px=max(1, int(pause * 1000))
            )

    async def refresh_remaining(self) -> None:
        """Read the shared (application-wide) budgets' room from Redis, for /metrics."""
        if not self.config.enabled:
            return
        for operation in self._operations:
            for scope, item in operation.limit.items():
                if scope != "app":
                    continue
                stats = await self._limiter(item).get_window_stats(
                    item, operation.api, operation.name
                )
                self.remaining[(operation.api, operation.name, scope)] = stats.remaining


class BudgetCollector(Collector):
    """Prometheus view of a RateBudget: room left (by api, operation and scope), seconds waited and
    calls refused for lack of room. Register it on the app's registry."""

    def __init__(self, budget: RateBudget) -> None:
        self.budget = budget

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        """The three families from the budget's latest numbers (no I/O here)."""
        remaining = GaugeMetricFamily(
            "channel_router_rate_budget_remaining",
            "Calls (Shopify: cost points) left in the budget's current window when last checked.",
            labels=["api", "operation", "scope"],
        )
        for (api, operation, scope), value in sorted(self.budget.remaining.items()):
            remaining.add_metric([api, operation, scope], value)
        waited = CounterMetricFamily(
            "channel_router_rate_budget_wait_seconds",
            "Seconds calls waited for room in a rate budget.",
            labels=["api", "operation"],
        )
        for (api, operation), value in sorted(self.budget.waited_seconds.items()):
            waited.add_metric([api, operation], value)
        refused = CounterMetricFamily(
            "channel_router_rate_budget_exhausted",
            "Calls given up (to be retried later) because a budget had no room in time.",
            labels=["api", "operation"],
        )
        for (api, operation), count in sorted(self.budget.exhausted.items()):
            refused.add_metric([api, operation], count)
        yield remaining
        yield waited
        yield refused
