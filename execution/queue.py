"""How campaign work is put on the arq queue: job names, deterministic job ids, the msgspec
serializer, and the two things the server asks for (start a campaign, end it now).

The server and the worker both use this module, so they agree on names and on the wire
format without importing each other. Deferred end jobs are a convenience: the worker's
cron also ends overdue campaigns from the database, so nothing is lost if Redis forgets.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import msgspec

START_JOB: Final = "start_campaign"
LIST_JOB: Final = "list_on_channel"
END_JOB: Final = "end_campaign"


def _plain(value: Any) -> Any:
    """What arq may put in a result besides plain data (a failed job's exception): its text."""
    return repr(value) if isinstance(value, BaseException) else str(value)


_encoder = msgspec.msgpack.Encoder(enc_hook=_plain)
_decoder = msgspec.msgpack.Decoder()


def serialize(job: dict[str, Any]) -> bytes:
    """arq's job (and result) dict as msgpack: plain data only, never pickle."""
    return _encoder.encode(job)


def deserialize(data: bytes) -> dict[str, Any]:
    value: dict[str, Any] = _decoder.decode(data)
    return value


def queue_name(redis_prefix: str) -> str:
    """The arq queue of one deployment (the Redis prefix keeps test runs apart)."""
    return f"{redis_prefix}:campaigns"


def job_id(
    campaign_id: str, step: str, channel: str | None = None, attempt: int = 0, *, prefix: str
) -> str:
    """One id per (deployment, campaign, step, channel[, attempt]): arq runs a job id once,
    so the same step enqueued twice (a retried request, two workers) runs once. arq's job
    and result keys are global to the Redis database, so the id carries the deployment's
    Redis prefix: two deployments on one Redis (or two test runs) never block each other's
    jobs, even where their campaign ids (derived from merchant and key) are the same."""
    parts = [prefix, "campaign", campaign_id, step]
    if channel is not None:
        parts.append(channel)
    if attempt:
        parts.append(str(attempt))
    return ":".join(parts)


async def enqueue_campaign(
    redis: Any, redis_prefix: str, campaign_id: str, ends_at: datetime
) -> None:
    """Queue a new campaign's start, and its end deferred until `ends_at`."""
    queue = queue_name(redis_prefix)
    await redis.enqueue_job(
        START_JOB,
        campaign_id,
        _job_id=job_id(campaign_id, "start", prefix=redis_prefix),
        _queue_name=queue,
    )
    await redis.enqueue_job(
        END_JOB,
        campaign_id,
        _job_id=job_id(campaign_id, "end", prefix=redis_prefix),
        _queue_name=queue,
        _defer_until=ends_at,
    )


async def enqueue_end_now(redis: Any, redis_prefix: str, campaign_id: str) -> None:
    """Queue the end of a campaign to run at once (a cancel). The deferred end may still sit
    in the queue; ending twice is harmless, the end job checks the state first."""
    await redis.enqueue_job(
        END_JOB,
        campaign_id,
        _job_id=job_id(campaign_id, "end-now", prefix=redis_prefix),
        _queue_name=queue_name(redis_prefix),
    )
