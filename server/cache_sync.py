"""Every worker forgets a merchant's cached settings or keys before the change is answered.

Each worker keeps merchants' settings and API keys in memory (decide is the
hot path). When one worker writes a change (settings, a rotated key, a new
merchant), it forgets its own copy, then publishes the change on a Redis
channel of its deployment and waits until every other subscribed worker has
answered "forgotten": PUBLISH says how many subscribers received it, and each
of them acknowledges on the same channel after dropping its copy. Only then is
the write answered, so no worker decides with the old settings, or lets the old
key in, after the answer (a merchant's opt-out wins at once).

- A worker that does not confirm within `timeout` makes the write answer 503
  (saved, but not known to be in force everywhere: retry it).
- While this worker's subscription is down it cannot hear invalidations, so
  its caches are switched off (every lookup reads the database); once
  subscribed again it drops everything it had cached and caches anew.
- The channel is named after the database the deployment shares, so two
  deployments (or two test runs) on one Redis never hear each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
from typing import Any

import msgspec

from server.db.merchants import KEYS, SETTINGS, MerchantStore
from server.errors import Unavailable

log = logging.getLogger(__name__)

RETRY_SECONDS = 1.0


class _Message(msgspec.Struct, omit_defaults=True):
    o: str  # the sending worker
    n: str  # the change's nonce
    k: str = ""  # what to forget (SETTINGS or KEYS); empty in an acknowledgement
    m: str = ""  # the merchant
    a: bool = False  # an acknowledgement of change `n`


_decode = msgspec.json.Decoder(_Message).decode
_encode = msgspec.json.Encoder().encode


def channel_for(database_url: str) -> str:
    """The deployment's channel: every worker of one database shares it."""
    digest = hashlib.sha256(database_url.encode()).hexdigest()[:16]
    return f"channel-router:{digest}:caches"


class CacheSync:
    """Publishes this worker's changes and applies the other workers' to `merchants`."""

    def __init__(
        self, redis: Any, channel: str, merchants: MerchantStore, *, timeout: float = 2.0
    ) -> None:
        self._redis = redis
        self.channel = channel
        self._merchants = merchants
        self._timeout = timeout
        self._origin = os.urandom(8).hex()
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        # nonce -> [acknowledgements seen, acknowledgements wanted (None until known), done]
        self._waiting: dict[str, list[Any]] = {}
        self.applied = 0  # changes of other workers applied here (for tests)

    async def start(self) -> None:
        """Subscribe; return once subscribed, or after `timeout` with caches off."""
        self._merchants.caching = False
        self._task = asyncio.create_task(self._listen(), name="cache-sync")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), self._timeout)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def broadcast(self, kind: str, merchant_id: str) -> None:
        """Have every other worker forget `kind` of `merchant_id`; Unavailable if one
        does not confirm in time (or the change cannot be published)."""
        nonce = os.urandom(8).hex()
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = self._waiting[nonce] = [0, None, done]
        try:
            try:
                receivers = await self._redis.publish(
                    self.channel, _encode(_Message(o=self._origin, n=nonce, k=kind, m=merchant_id))
                )
            except Exception as exc:
                log.error("change of %r not published to other workers: %s",
                          merchant_id, type(exc).__name__)  # fmt: skip
                raise Unavailable(
                    "the change is saved, but other workers could not be told; retry"
                ) from exc
            # Every subscriber got it, this worker included (when subscribed).
            entry[1] = receivers - (1 if self._subscribed.is_set() else 0)
            if entry[0] >= entry[1]:
                return
            try:
                await asyncio.wait_for(done, self._timeout)
            except TimeoutError:
                missing = entry[1] - entry[0]
                log.error("%d worker(s) did not confirm forgetting %s of %r within %.1f s",
                          missing, kind, merchant_id, self._timeout)  # fmt: skip
                raise Unavailable(
                    f"the change is saved, but {missing} worker(s) did not confirm it in time; "
                    "retry"
                ) from None
        finally:
            self._waiting.pop(nonce, None)

    async def _listen(self) -> None:
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(self.channel)
                    # Changes published while we were not listening are lost: start afresh.
                    self._merchants.forget_all()
                    self._merchants.caching = True
                    self._subscribed.set()
                    async for message in pubsub.listen():
                        if message["type"] == "message":
                            await self._handle(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis went away: no cache until we hear again
                self._merchants.caching = False
                if self._subscribed.is_set():
                    log.warning("cache sync lost Redis (%s); caches off until it is back",
                                type(exc).__name__)  # fmt: skip
                self._subscribed.clear()
                await asyncio.sleep(RETRY_SECONDS)

    async def _handle(self, data: bytes) -> None:
        try:
            message = _decode(data)
        except msgspec.DecodeError:
            return
        if message.a:
            entry = self._waiting.get(message.n)
            if entry is not None:
                entry[0] += 1
                if entry[1] is not None and entry[0] >= entry[1] and not entry[2].done():
                    entry[2].set_result(None)
            return
        if message.o == self._origin:
            return
        if message.k == KEYS:
            self._merchants.forget_keys(message.m)
        elif message.k == SETTINGS:
            self._merchants.forget(message.m)
        self.applied += 1
        await self._redis.publish(
            self.channel, _encode(_Message(o=self._origin, n=message.n, a=True))
        )
