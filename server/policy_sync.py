"""Every worker serves the same policies.

`POST /v1/policies/reload` reaches one worker process. After it has swapped
its policy set, it announces the reload on a Redis channel; every other worker
(of this host or any other sharing the Redis) hears it and reloads the folder
too. A worker ignores its own announcement, and a reload caused by an
announcement is not announced again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import Any

from engine.problems import PolicyProblems
from server.policy_store import PolicyStore

log = logging.getLogger(__name__)

CHANNEL = "channel-router:policies:reloaded"
RETRY_SECONDS = 1.0


class PolicySync:
    """Listens for reloads announced by other workers; announces this worker's."""

    def __init__(self, redis: Any, store: PolicyStore) -> None:
        self._redis = redis
        self._store = store
        self._origin = os.urandom(8).hex()  # this worker, to skip its own announcements
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self.reloads_heard = 0

    async def start(self) -> None:
        """Subscribe, and return once the subscription is in place."""
        self._task = asyncio.create_task(self._listen(), name="policy-sync")
        await self._subscribed.wait()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def announce(self) -> None:
        """Tell the other workers to reload; a Redis failure is logged, not raised
        (this worker's reload has succeeded either way)."""
        try:
            await self._redis.publish(CHANNEL, self._origin)
        except Exception as exc:
            log.warning("policy reload not announced to other workers: %s", type(exc).__name__)

    async def _listen(self) -> None:
        lost = False  # said once per outage, not at every retry
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    self._subscribed.set()
                    if lost:
                        lost = False
                        log.info("policy sync has Redis again")
                    async for message in pubsub.listen():
                        if (
                            message["type"] == "message"
                            and message["data"] != self._origin.encode()
                        ):
                            await self._reload()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis went away: keep serving, try again shortly
                if not lost:
                    lost = True
                    log.warning("policy sync lost Redis (%s); retrying", type(exc).__name__)
                self._subscribed.set()  # start() must not wait for a Redis that is down
                await asyncio.sleep(RETRY_SECONDS)

    async def _reload(self) -> None:
        try:
            await self._store.reload()
            self.reloads_heard += 1
        except PolicyProblems as problems:
            log.error("announced policy reload refused here; previous policies stay:\n%s", problems)
