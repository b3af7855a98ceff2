"""The service objects one app runs on, built in `start` (the app's on_startup).

This is the composition root's state: database engine and tables, merchants,
decision log, policy store, Redis pool, credentials box and metrics. Nothing
here touches the network or disk until `start` is awaited.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from datetime import UTC, datetime
from typing import Any

import httpx
from litestar.connection import ASGIConnection
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine

from connectors.rate_budget import BudgetCollector, BudgetConfig, RateBudget
from engine.problems import PolicyProblems
from execution import queue as job_queue
from execution.store import CampaignStore
from server import auth
from server.cache_sync import CacheSync, channel_for
from server.config import ServiceConfig
from server.db.connection import describe_database, make_engine, migrate
from server.db.decision_log import DecisionLog
from server.db.faults import unavailable_reason
from server.db.merchants import MerchantStore
from server.db.retention import Pruner
from server.db.secrets_box import SecretBox
from server.db.service_state import check_credentials_key
from server.db.shadow_log import ShadowLog
from server.db.tables import Tables, build_tables
from server.errors import Unavailable
from server.metrics import Metrics
from server.policy_store import PolicyStore
from server.policy_sync import PolicySync
from server.shadow import ShadowMetrics, ShadowStep
from server.stock_metrics import StockCollector
from server.write_budget import WriteBudget, parse_rate

log = logging.getLogger(__name__)

READY_WRITE_SECONDS = 2.0  # /ready reports a database locked longer than this
MIGRATION_LOCK_SECONDS = 300.0
_MAX_PRINCIPALS = 100_000


def job_pool(redis_url: str, redis_prefix: str) -> Any:
    """An arq pool on `redis_url` speaking the campaign jobs' msgspec format, on the
    deployment's queue. Built without connecting (as `arq.create_pool` would, less its
    start-up ping): a Redis that is down at start makes execute answer 503, not the
    service fail to start."""
    from arq.connections import ArqRedis
    from redis.asyncio import ConnectionPool

    return ArqRedis(
        pool_or_conn=ConnectionPool.from_url(redis_url),
        job_serializer=job_queue.serialize,
        job_deserializer=job_queue.deserialize,
        default_queue_name=job_queue.queue_name(redis_prefix),
    )


class Services:
    """Everything a request handler needs; one instance per app."""

    def __init__(self, config: ServiceConfig, metrics: Metrics) -> None:
        self.config = config
        self.metrics = metrics
        self.policies = PolicyStore(config.policy_dir, config.clock)
        self.policies.on_reload.append(
            lambda engine: metrics.prebind_rules(engine.policy_set.all_policies())
        )
        self.shadow = ShadowStep(ShadowMetrics(metrics.registry))
        self._db: Engine | None = None
        self._tables: Tables | None = None
        self._merchants: MerchantStore | None = None
        self._decision_log: DecisionLog | None = None
        self._campaigns: CampaignStore | None = None
        self.redis: Any = None
        # The arq pool campaigns are queued on (None without Redis: execute answers 503).
        self.arq: Any = None
        self.policy_sync: PolicySync | None = None
        self.cache_sync: CacheSync | None = None
        self.http: httpx.AsyncClient | None = None
        self.rate_budget: RateBudget | None = None
        self.write_budget = WriteBudget(None)
        self.pruner: Pruner | None = None
        # Drift, oversells and held units in /metrics, read from the database per scrape.
        self.stock_metrics = StockCollector()
        self._principals: dict[str, auth.Principal] = {}
        self.secret_box: SecretBox | None = (
            SecretBox(config.secret_key) if config.secret_key else None
        )

    async def start(self) -> None:
        """Open the database (migrating it), the Redis pool, and load the policies."""
        if not self.config.admin_token:
            log.warning("CHANNEL_ROUTER_ADMIN_TOKEN is not set: every admin call is refused")
        if self.secret_box is None:
            log.warning(
                "CHANNEL_ROUTER_SECRET_KEY is not set: channel credentials cannot be stored"
            )
        self._db = make_engine(
            self.config.database_url, lock_timeout=self.config.db_lock_timeout_seconds
        )
        if isinstance(self._db, PostgresEngine):
            await self._db.start_connection_pool(min_size=1, max_size=10)
        self._tables = build_tables(self._db)
        # Migrations may wait for locks as long as they need; requests may not.
        await migrate(make_engine(self.config.database_url, lock_timeout=MIGRATION_LOCK_SECONDS))
        await check_credentials_key(self._tables, self.secret_box)
        log.info("database: %s", await describe_database(self._db, self._tables))
        self._merchants = MerchantStore(
            self._tables, settings_cache_seconds=self.config.settings_cache_seconds
        )
        self._decision_log = DecisionLog(self._tables)
        self._campaigns = CampaignStore(self._tables, clock=self._utcnow)
        self.metrics.register(self.stock_metrics)
        self.shadow.store = ShadowLog(self._tables)
        if self.config.redis_url:
            import redis.asyncio as redis_asyncio

            self.redis = redis_asyncio.from_url(self.config.redis_url)
            self.arq = job_pool(self.config.redis_url, self.config.redis_prefix)
            self.policy_sync = PolicySync(self.redis, self.policies)
            await self.policy_sync.start()
            # Marketplace calls made here (connecting accounts) share the workers' budgets.
            budget_config = BudgetConfig.from_env(self.config.env)
            if budget_config.enabled:
                self.rate_budget = RateBudget(self.config.redis_url, budget_config)
                self.metrics.register(BudgetCollector(self.rate_budget))
            self.cache_sync = CacheSync(
                self.redis,
                channel_for(self.config.database_url),
                self._merchants,
                timeout=self.config.cache_sync_seconds,
            )
            self._merchants.broadcast = self.cache_sync.broadcast
            await self.cache_sync.start()
        elif self.config.several_workers:
            self._merchants.caching = False
            log.warning(
                "several workers and no CHANNEL_ROUTER_REDIS_URL: merchants' settings and keys "
                "are read from the database on every request (set a Redis to cache them)"
            )
        self.write_budget = WriteBudget(
            parse_rate(self.config.decision_rate_limit, self.config.max_batch_items),
            self.config.redis_url,
            key_prefix=f"{self.config.redis_prefix}:limits",
        )
        self.pruner = Pruner(
            self._tables,
            retention_days=self.config.decision_retention_days,
            interval_seconds=self.config.prune_interval_seconds,
            batch_rows=self.config.prune_batch_rows,
        )
        self.pruner.start()
        self.http = httpx.AsyncClient()
        try:
            await self.policies.reload()
        except PolicyProblems as problems:
            log.error(
                "policies in %s did not load; /ready stays 503 until a reload succeeds:\n%s",
                self.config.policy_dir,
                problems,
            )
        # Everything built so far (modules, routes, compiled policies) lives as
        # long as the process: keep it out of the cyclic collector's full passes,
        # which otherwise stall every in-flight request for tens of ms (p99).
        if self.config.freeze_gc:
            gc.collect()
            gc.freeze()

    async def stop(self) -> None:
        """Flush the decision log and close every connection."""
        if self.pruner is not None:
            await self.pruner.stop()
        await self.write_budget.close()
        if self._decision_log is not None:
            await self._decision_log.drain()
        if self.http is not None:
            await self.http.aclose()
        if self.policy_sync is not None:
            await self.policy_sync.stop()
        if self.rate_budget is not None:
            await self.rate_budget.close()
        if self.cache_sync is not None:
            await self.cache_sync.stop()
        if self.redis is not None:
            await self.redis.aclose()
        if self.arq is not None:
            await self.arq.aclose()
        if isinstance(self._db, PostgresEngine):
            await self._db.close_connection_pool()

    @property
    def tables(self) -> Tables:
        if self._tables is None:
            raise Unavailable("the database is not open")
        return self._tables

    @property
    def merchants(self) -> MerchantStore:
        if self._merchants is None:
            raise Unavailable("the database is not open")
        return self._merchants

    @property
    def campaigns(self) -> CampaignStore:
        if self._campaigns is None:
            raise Unavailable("the database is not open")
        return self._campaigns

    def _utcnow(self) -> datetime:
        return datetime.fromtimestamp(self.config.clock(), UTC)

    @property
    def decision_log(self) -> DecisionLog:
        if self._decision_log is None:
            raise Unavailable("the database is not open")
        return self._decision_log

    async def metrics_text(self) -> bytes:
        """/metrics: the shared rate budgets read from Redis first (skipped if it is down)."""
        if self.rate_budget is not None:
            try:
                await self.rate_budget.refresh_remaining()
            except Exception as exc:  # Redis down: show the last numbers, never fail /metrics
                log.warning("rate budgets not refreshed for /metrics (%s)", type(exc).__name__)
        if self._tables is not None:
            await self.stock_metrics.refresh(self._tables)
        return self.metrics.render()

    async def authenticate(self, request: ASGIConnection[Any, Any, Any, Any]) -> auth.Principal:
        """The caller behind the bearer token; Unauthenticated (401) otherwise.

        The API checks (server.api.guards) authenticate every /v1/ request before
        its body is read; their answer is reused here.
        """
        return await self.authenticate_scope(request.scope)

    async def authenticate_scope(self, scope: Any) -> auth.Principal:
        """`authenticate` for a request known by its ASGI scope."""
        found: auth.Principal | None = scope.get("state", {}).get(auth.PRINCIPAL_STATE_KEY)
        if found is not None:
            return found
        token = auth.bearer_token(auth.authorization_header(scope))
        if token is None:
            raise auth.Unauthenticated("a bearer token is required")
        if auth.is_admin_token(token, self.config.admin_token):
            return auth.ADMIN
        if token.startswith(auth.API_KEY_PREFIX):
            merchants = self.merchants
            merchant_id = merchants.cached_merchant_for_key(token)  # no await when cached
            if merchant_id is None:
                merchant_id = await merchants.merchant_for_key(token)
            if merchant_id is not None:
                return self._principal(merchant_id)
        raise auth.Unauthenticated("the bearer token is not valid")

    def _principal(self, merchant_id: str) -> auth.Principal:
        """The (frozen, shared) principal of a merchant key."""
        principal = self._principals.get(merchant_id)
        if principal is None:
            if len(self._principals) >= _MAX_PRINCIPALS:
                self._principals.clear()
            principal = self._principals[merchant_id] = auth.Principal(False, merchant_id)
        return principal

    async def authorize(
        self, request: ASGIConnection[Any, Any, Any, Any], merchant_id: str | None = None
    ) -> auth.Principal:
        """Authenticate, then require the admin (merchant_id None) or that merchant."""
        principal = await self.authenticate(request)
        if merchant_id is None:
            if not principal.is_admin:
                raise auth.Forbidden("this call needs the admin token")
        elif not principal.may_act_for(merchant_id):
            raise auth.Forbidden("this token may not act for that merchant")
        return principal

    async def readiness(self) -> dict[str, str]:
        """Check database, Redis and policies; 'ok' or the reason per check."""
        checks: dict[str, str] = {"database": await self._database_check()}
        if self.redis is None:
            checks["redis"] = "not configured (set CHANNEL_ROUTER_REDIS_URL)"
        else:
            try:
                await self.redis.ping()
                checks["redis"] = "ok"
            except Exception as exc:
                checks["redis"] = f"unavailable ({type(exc).__name__})"
        checks["policies"] = "ok" if self.policies.loaded else "not loaded"
        return checks

    async def _database_check(self) -> str:
        """'ok' when the database can be read and written, else why not.

        The write probe is an UPDATE that matches no row: it needs the write lock
        (SQLite) or a writable transaction (PostgreSQL) like any real write, and
        changes nothing.
        """
        try:
            table = self.tables.merchant
            await table.count().run()
            await asyncio.wait_for(
                table.update({table.name: table.name}).where(table.id < 0).run(),
                timeout=READY_WRITE_SECONDS,
            )
        except TimeoutError:
            return "not writable (locked)"
        except Exception as exc:
            reason = unavailable_reason(exc)
            if reason in ("locked", "read-only", "busy"):
                return f"not writable ({reason})"
            return f"unavailable ({type(exc).__name__})"
        return "ok"
