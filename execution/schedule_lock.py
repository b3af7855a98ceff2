"""One run of a schedule at a time across every worker of a deployment.

arq enqueues a cron job every tick whether or not the previous tick's run has finished, so a
refresh slower than its interval would stack runs up until they filled the workers' job
slots (ends then waited behind them). Each schedule runs under a Redis lock per deployment
and schedule: SET NX with an expiry just past the job timeout (arq cancels the run by then;
a SIGKILLed worker's lock lapses on its own), released at the end by its holder only. A tick
that finds the lock held is skipped: the next one comes a moment later.
"""

from __future__ import annotations

import functools
import logging
import secrets
from collections.abc import Callable, Coroutine
from typing import Any

from arq.typing import WorkerCoroutine
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

Schedule = Callable[[dict[str, Any]], Coroutine[Any, Any, str]]

# Delete the key only while it still holds our token: a run that outlived its expiry must
# not release the lock a later run took.
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


def lock_key(prefix: str, name: str) -> str:
    """The Redis key of schedule `name`'s lock in the deployment with Redis `prefix`."""
    return f"{prefix}:schedule-lock:{name}"


async def release(redis: Any, key: str, token: str) -> None:
    """Delete lock `key` if it still holds `token` (ours); a Redis that went away lets the
    expiry release it."""
    try:
        await redis.eval(_RELEASE, 1, key, token)
    except RedisError as exc:
        log.debug("lock %s not released (%s): it expires", key, exc)


def exclusive(fn: Schedule, *, key: str, hold_seconds: float) -> WorkerCoroutine:
    """`fn` run only when no other run of it holds `key`; otherwise the tick is skipped."""

    @functools.wraps(fn)
    async def run(ctx: dict[str, Any], *_: Any, **__: Any) -> str:
        redis = ctx["redis"]
        token = secrets.token_hex(8)
        if not await redis.set(key, token, nx=True, px=max(1, int(hold_seconds * 1000))):
            return "skipped: the previous run is still going"
        try:
            return await fn(ctx)
        finally:
            await release(redis, key, token)

    return run
