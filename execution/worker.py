"""The arq worker's settings: which jobs and schedules it runs, on which queue, and its
start-up, which builds the database, the accounts and the connectors once per process
(docs/execution.md, "Jobs and the worker").

`worker_settings(service, worker)` gives arq's settings (what `arq` reads from a
WorkerSettings class), built from configuration rather than at import time; `channel-router
worker` runs them (server.cli.service).
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from arq import cron, func
from arq.connections import RedisSettings
from arq.cron import CronJob
from piccolo.engine.postgres import PostgresEngine

from connectors.config import ApiConfig
from connectors.http import ApiClient
from connectors.rate_budget import BudgetConfig, RateBudget
from execution import crons, jobs, queue, schedule_lock
from execution.holds import HoldLedger, Holds, lock_seconds, redis_locks
from execution.runtime import RUNTIME_KEY, Runtime
from execution.store import CampaignStore
from execution.worker_config import WorkerConfig
from server.config import ServiceConfig
from server.db.connection import make_engine
from server.db.credentials import CredentialStore
from server.db.retention import Pruner
from server.db.secrets_box import SecretBox
from server.db.service_state import check_credentials_key
from server.db.tables import build_tables

log = logging.getLogger(__name__)

HOUR_PRUNE_MINUTE = 17  # off the hour, when other schedules crowd
KEEP_RESULT_SECONDS = 86_400  # a finished start or list job id is refused for a day
EXTRA_TRIES = 3  # arq's own limit sits above ours: crash re-runs count as tries too
LOCK_MARGIN_SECONDS = 10.0  # a schedule's lock outlasts its timeout, as arq's own job lock


def _schedule(every: int) -> dict[str, Any]:
    """arq cron fields for "every `every` seconds" (every divides 60, or whole minutes)."""
    if every < 60:
        return {"second": set(range(0, 60, every)), "microsecond": 0}
    return {"minute": set(range(0, 60, every // 60)), "second": 0, "microsecond": 0}


def worker_settings(service: ServiceConfig, worker: WorkerConfig) -> dict[str, Any]:
    """arq Worker settings for this deployment's queue."""
    if not service.redis_url:
        raise ValueError("the worker needs CHANNEL_ROUTER_REDIS_URL (its queue lives in Redis)")
    timeout = worker.job_timeout_seconds
    tries = worker.max_tries + EXTRA_TRIES
    prefix = service.redis_prefix

    def schedule(fn: schedule_lock.Schedule, **when: Any) -> CronJob:
        """A cron job named for the deployment (arq's cron job id is `<name>:<tick>`, global
        to the Redis database), one run at a time across the workers. Its timeout is the
        jobs' (schedules count in arq's in-progress lock, the longest timeout + 10 s, too)."""
        name = f"{prefix}:{fn.__name__}"
        guarded = schedule_lock.exclusive(
            fn,
            key=schedule_lock.lock_key(prefix, fn.__name__),
            hold_seconds=timeout + LOCK_MARGIN_SECONDS,
        )
        return cron(guarded, name=name, timeout=timeout, **when)

    async def on_startup(ctx: dict[str, Any]) -> None:
        ctx[RUNTIME_KEY] = await build_runtime(service, worker, redis=ctx.get("redis"))

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        rt: Runtime | None = ctx.get(RUNTIME_KEY)
        if rt is not None:
            await close_runtime(rt)

    return {
        "functions": [
            func(
                jobs.start_campaign,
                name=queue.START_JOB,
                max_tries=tries,
                keep_result=KEEP_RESULT_SECONDS,
            ),
            func(
                jobs.list_on_channel,
                name=queue.LIST_JOB,
                max_tries=tries,
                keep_result=KEEP_RESULT_SECONDS,
            ),
            # Not kept: the sweeper queues an end under the same id again and again.
            func(jobs.end_campaign, name=queue.END_JOB, max_tries=tries, keep_result=0),
        ],
        "cron_jobs": [
            schedule(crons.refresh_listings, **_schedule(worker.refresh_every_seconds)),
            schedule(crons.pull_sales, **_schedule(worker.sales_every_seconds)),
            schedule(crons.detect_drift, **_schedule(worker.drift_every_seconds)),
            schedule(crons.end_overdue, **_schedule(worker.sweep_every_seconds)),
            schedule(crons.resume_stalled, **_schedule(worker.sweep_every_seconds)),
            schedule(crons.prune_decisions, minute=HOUR_PRUNE_MINUTE, second=0, microsecond=0),
        ],
        "queue_name": queue.queue_name(service.redis_prefix),
        "redis_settings": RedisSettings.from_dsn(service.redis_url),
        "job_serializer": queue.serialize,
        "job_deserializer": queue.deserialize,
        "on_startup": on_startup,
        "on_shutdown": on_shutdown,
        "max_jobs": worker.max_jobs,
        "job_timeout": timeout,
        "max_tries": tries,
        "keep_result": KEEP_RESULT_SECONDS,
        "health_check_interval": worker.health_check_seconds,
        "poll_delay": 0.5,
    }


async def build_runtime(service: ServiceConfig, worker: WorkerConfig, redis: Any = None) -> Runtime:
    """Database (checked against the credentials key), accounts and connectors; with `redis`
    (arq's pool), the stock holds, whose moves lock per location in it."""
    engine = make_engine(service.database_url, lock_timeout=service.db_lock_timeout_seconds)
    if isinstance(engine, PostgresEngine):
        await engine.start_connection_pool(min_size=1, max_size=10)
    tables = build_tables(engine)
    box = SecretBox(service.secret_key) if service.secret_key else None
    await check_credentials_key(tables, box)
    if box is None:
        log.warning("CHANNEL_ROUTER_SECRET_KEY is not set: no account can be opened")
    api_config = ApiConfig.from_env(service.env)
    budget_config = BudgetConfig.from_env(service.env)
    budget = (
        RateBudget(service.redis_url, budget_config)
        if budget_config.enabled and service.redis_url
        else None
    )
    client = httpx.AsyncClient()
    pruner = None
    if service.decision_retention_days > 0:
        pruner = Pruner(
            tables,
            retention_days=service.decision_retention_days,
            interval_seconds=service.prune_interval_seconds,
            batch_rows=service.prune_batch_rows,
        )
    rt = Runtime(
        campaigns=CampaignStore(tables),
        credentials=CredentialStore(tables, box),
        api=ApiClient(client, api_config, budget=budget),
        api_config=api_config,
        config=worker,
        queue_name=queue.queue_name(service.redis_prefix),
        redis_prefix=service.redis_prefix,
        pruner=pruner,
        engine=engine,
        holds=(
            Holds(
                HoldLedger(tables),
                redis_locks(redis, service.redis_prefix, ttl=lock_seconds(service.env)),
            )
            if redis is not None
            else None
        ),
    )
    log.info(
        "campaign worker ready: queue %s, job timeout %g s, %d tries",
        rt.queue_name,
        worker.job_timeout_seconds,
        worker.max_tries,
    )
    return rt


async def close_runtime(rt: Runtime) -> None:
    await rt.api.client.aclose()
    if rt.api.budget is not None:
        await rt.api.budget.close()
    if isinstance(rt.engine, PostgresEngine):
        await rt.engine.close_connection_pool()
