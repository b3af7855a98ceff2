"""A schedule runs once at a time across workers (execution.schedule_lock), on a real Redis."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
from arq.connections import ArqRedis, RedisSettings, create_pool

from execution.schedule_lock import exclusive, lock_key


@pytest.fixture
async def arq_redis(redis_url: str) -> AsyncIterator[ArqRedis]:
    pool = await create_pool(RedisSettings.from_dsn(redis_url))
    try:
        yield pool
    finally:
        await pool.aclose()


async def test_a_second_run_is_skipped_while_the_first_holds_the_lock(
    arq_redis: ArqRedis,
) -> None:
    key = lock_key(f"t-{secrets.token_hex(4)}", "refresh_listings")
    started, release = asyncio.Event(), asyncio.Event()
    runs: list[str] = []

    async def slow(ctx: dict[str, Any]) -> str:
        runs.append("ran")
        started.set()
        await release.wait()
        return "done"

    guarded = exclusive(slow, key=key, hold_seconds=30)
    ctx = {"redis": arq_redis}
    first = asyncio.create_task(guarded(ctx))
    await asyncio.wait_for(started.wait(), 5)

    assert (await guarded(ctx)).startswith("skipped")
    assert 29_000 < await arq_redis.pttl(key) <= 30_000
    release.set()
    assert await first == "done"
    assert not await arq_redis.exists(key), "the lock outlived its run"
    release.clear()
    release.set()
    assert await guarded(ctx) == "done"
    assert runs == ["ran", "ran"]


async def test_a_run_past_its_expiry_leaves_the_next_runs_lock_alone(
    arq_redis: ArqRedis,
) -> None:
    """The lock expired under a run that overran, and another run took it: the first run's
    release must not delete the second's lock."""
    key = lock_key(f"t-{secrets.token_hex(4)}", "pull_sales")

    async def overrun(ctx: dict[str, Any]) -> str:
        await arq_redis.delete(key)  # the expiry, now
        await arq_redis.set(key, b"someone-else", px=30_000)
        return "done"

    assert await exclusive(overrun, key=key, hold_seconds=30)({"redis": arq_redis}) == "done"
    assert await arq_redis.get(key) == b"someone-else"


async def test_a_failing_run_releases_the_lock(arq_redis: ArqRedis) -> None:
    key = lock_key(f"t-{secrets.token_hex(4)}", "end_overdue")

    async def broken(ctx: dict[str, Any]) -> str:
        raise RuntimeError("the database went away")

    with pytest.raises(RuntimeError):
        await exclusive(broken, key=key, hold_seconds=30)({"redis": arq_redis})
    assert not await arq_redis.exists(key)
