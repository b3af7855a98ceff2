"""When a failed step is tried again: pure arithmetic over the try number and the
marketplace's hint, so it can be tested for every input.

A transient error (timeout, 5xx, 429) waits `base * 2**(try-1)` capped at `cap`, or the
marketplace's Retry-After when that is longer (itself capped, so a bogus hint cannot park a
campaign for days); after `max_tries` the step fails with the marketplace's message. A
permanent error fails at once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float
    cap_seconds: float
    retry_after_cap_seconds: float
    max_tries: int

    def backoff(self, job_try: int) -> float:
        """The wait after failed try number `job_try` (1-based), without a hint."""
        exponent = min(max(job_try, 1) - 1, 60)
        return float(min(self.cap_seconds, self.base_seconds * (2**exponent)))

    def defer(self, job_try: int, retry_after: float | None) -> float:
        """Seconds to wait before the next try: the backoff, or the hint when it is longer."""
        wait = self.backoff(job_try)
        if retry_after is not None and retry_after > 0:
            wait = max(wait, min(retry_after, self.retry_after_cap_seconds))
        return wait

    def exhausted(self, job_try: int) -> bool:
        """Whether try `job_try` was the last one allowed."""
        return job_try >= self.max_tries
