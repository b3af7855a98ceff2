"""arq's Worker, made to ride out a Redis outage instead of exiting.

arq 0.28's poll loop (`Worker.main`) lets the ConnectionError of a poll, a heartbeat or a
cron enqueue escape, and the process ends; a worker started while Redis is down gives up
after `conn_retries` tries. `PatientWorker` says once that Redis went away, waits for it with
a capped backoff (0.5 s doubling to 5 s: no busy loop, no log line per try), and polls again
with the same functions, schedules and queue when it answers; the jobs already running go
on meanwhile (they need the database and the marketplaces; their own Redis calls fail and
they are retried as usual). The overrides are arq 0.28's `_poll_iteration`, `start_jobs`,
`main` and `close`; tests/execution/test_faults.py restarts Redis under a real worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
import time
from collections.abc import Iterator
from typing import Any

from arq.connections import create_pool
from arq.worker import Worker
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

REDIS_DOWN: tuple[type[BaseException], ...] = (
    RedisConnectionError,  # refused, reset, and LOADING (BusyLoadingError) after a restart
    RedisTimeoutError,
    OSError,
)
FIRST_WAIT_SECONDS = 0.5
MAX_WAIT_SECONDS = 5.0


def waits(first: float = FIRST_WAIT_SECONDS, cap: float = MAX_WAIT_SECONDS) -> Iterator[float]:
    """The pauses between tries to reach Redis: `first`, doubled each time, at most `cap`."""
    wait = first
    while True:
        yield wait
        wait = min(wait * 2, cap)


def _reason(exc: BaseException) -> str:
    # redis-py's messages name host and port, never the password of the URL.
    return f"{type(exc).__name__}: {exc}"


class PatientWorker(Worker):
    """A Worker whose loop waits for Redis to come back instead of ending on its absence."""

    async def main(self) -> None:
        if self._pool is None:
            self._pool = await self._connect()
        await super().main()

    async def _connect(self) -> Any:
        """arq's pool, waiting for Redis as long as it takes (logged once, and once back)."""
        assert self.redis_settings is not None
        # arq's own tries log a line a second and then give up: ours wait with a backoff.
        settings = dataclasses.replace(self.redis_settings, conn_retries=0)
        gone_since: float | None = None
        for wait in waits():
            try:
                pool = await create_pool(
                    settings,
                    job_deserializer=self.job_deserializer,
                    job_serializer=self.job_serializer,
                    default_queue_name=self.queue_name,
                    expires_extra_ms=self.expires_extra_ms,
                )
            except REDIS_DOWN as exc:
                if gone_since is None:
                    gone_since = time.monotonic()
                    log.warning("Redis cannot be reached (%s): waiting for it", _reason(exc))
                await asyncio.sleep(wait)
                continue
            if gone_since is not None:
                log.warning("Redis answers after %.1f s: starting", time.monotonic() - gone_since)
            return pool
        raise AssertionError("waits() never ends")  # pragma: no cover

    async def _poll_iteration(self) -> None:
        try:
            await super()._poll_iteration()
        except REDIS_DOWN as exc:
            await self._wait_for_redis(exc)

    async def _wait_for_redis(self, exc: BaseException) -> None:
        gone_since = time.monotonic()
        log.warning(
            "Redis went away (%s): waiting for it; %d running job(s) go on",
            _reason(exc),
            sum(not t.done() for t in self.tasks.values()),
        )
        for wait in waits():
            await asyncio.sleep(wait)
            try:
                await self.pool.ping()
            except REDIS_DOWN:
                continue
            break
        self._last_health_check = 0  # the health-check key again at once (a restart lost it)
        log.warning("Redis is back after %.1f s: polling again", time.monotonic() - gone_since)

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        # arq takes a job slot (semaphore and counter) before its Redis calls for the job and
        # keeps it if one fails: give it back, or each outage would cost a slot for good.
        for job_id in job_ids:
            if self.job_counter >= self.max_jobs:
                return
            try:
                await super().start_jobs([job_id])
            except REDIS_DOWN:
                self.job_counter -= 1
                self.sem.release()
                raise

    async def close(self) -> None:
        """arq's close, except that Redis may still be away: running jobs are awaited (not
        their Redis errors), the health-check key is left to expire, the start-up's
        resources are closed all the same."""
        if not self._handle_signals:
            self.handle_sig(signal.SIGUSR1)
        if self._pool is None:
            return
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        with contextlib.suppress(*REDIS_DOWN):
            await self.pool.delete(self.health_check_key)
        if self.on_shutdown:
            await self.on_shutdown(self.ctx)
        with contextlib.suppress(*REDIS_DOWN):
            await self.pool.close(close_connection_pool=True)
        self._pool = None
