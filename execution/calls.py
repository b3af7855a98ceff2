"""One marketplace (or store) call made by a job, with its timeline row.

Every call leaves one row: which step, which call, which try, and how it went. A failure
comes back as `CallFailed`, which says whether trying again can help and how long the
marketplace asked us to wait; the job decides what to do with it (retry the job, fail the
step, or carry on with the other steps of an end).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from arq import Retry

from connectors.errors import ChannelError
from execution.runtime import Runtime

log = logging.getLogger(__name__)
T = TypeVar("T")


class CallFailed(Exception):
    """A call that did not work; `message` is the marketplace's own text (no secrets)."""

    def __init__(self, message: str, *, transient: bool, retry_after: float | None = None):
        super().__init__(message)
        self.message = message
        self.transient = transient
        self.retry_after = retry_after


@dataclass(frozen=True)
class Job:
    """The job being run: its campaign and its try number (arq's `job_try`, from 1)."""

    rt: Runtime
    campaign_id: str
    attempt: int

    @classmethod
    def of(cls, ctx: dict[str, Any], campaign_id: str) -> Job:
        from execution.runtime import runtime

        return cls(rt=runtime(ctx), campaign_id=campaign_id, attempt=int(ctx.get("job_try", 1)))

    async def note(
        self,
        step: str,
        outcome: str,
        *,
        channel: str | None = None,
        call: str = "",
        detail: str | None = None,
    ) -> None:
        """A timeline row for this campaign."""
        await self.rt.campaigns.record_event(
            self.campaign_id,
            step,
            outcome,  # type: ignore[arg-type]
            channel=channel,
            attempt=self.attempt,
            call=call,
            detail=detail,
        )

    async def call(
        self,
        step: str,
        call: str,
        fn: Callable[[], Awaitable[T]],
        *,
        channel: str | None = None,
        ok_detail: Callable[[T], str | None] | None = None,
    ) -> T:
        """Run `fn`; record the outcome; CallFailed when it raised a channel error."""
        try:
            result = await fn()
        except ChannelError as exc:
            transient = exc.transient and not self.rt.retry.exhausted(self.attempt)
            outcome = "retry" if transient else "failed"
            await self.note(step, outcome, channel=channel, call=call, detail=str(exc))
            raise CallFailed(str(exc), transient=transient, retry_after=exc.retry_after) from exc
        await self.note(
            step,
            "ok",
            channel=channel,
            call=call,
            detail=ok_detail(result) if ok_detail is not None else None,
        )
        return result

    async def failure(
        self, step: str, exc: CallFailed | ChannelError, *, channel: str | None = None
    ) -> CallFailed:
        """`exc` as a CallFailed; a channel error raised outside `call` (no account
        connected, a token refresh refused) gets its timeline row here."""
        if isinstance(exc, CallFailed):
            return exc
        transient = exc.transient and not self.rt.retry.exhausted(self.attempt)
        await self.note(step, "retry" if transient else "failed", channel=channel, detail=str(exc))
        return CallFailed(str(exc), transient=transient, retry_after=exc.retry_after)

    def retry(self, failure: CallFailed | None = None) -> Retry:
        """arq's Retry for the next try, deferred by the policy (and the marketplace's hint)."""
        hint = failure.retry_after if failure is not None else None
        return Retry(defer=self.rt.retry.defer(self.attempt, hint))

    @property
    def last_try(self) -> bool:
        return self.rt.retry.exhausted(self.attempt)
