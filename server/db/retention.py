"""Decision-log retention: delete decisions older than the retention, in bounded batches.

Each batch deletes at most `batch_rows` of the oldest expired rows, found through
the index on created_at (migration m0004), in its own short statement, so a
prune never holds a long lock and requests keep flowing between batches. Deletes
are idempotent: several processes pruning at once delete each row once between
them, and a prune cut short resumes where it stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from server.db.tables import Tables

log = logging.getLogger(__name__)


def cutoff(retention_days: float, now: datetime | None = None) -> datetime:
    """The instant before which decisions are expired."""
    return (now or datetime.now(UTC)) - timedelta(days=retention_days)


async def prune_decisions(
    tables: Tables,
    older_than: datetime,
    *,
    batch_rows: int = 5000,
    max_batches: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Delete decisions created before `older_than`; returns how many were deleted.

    `progress(total_so_far)` is called after every batch.
    """
    table = tables.decision_log
    name = table._meta.tablename
    deleted = 0
    batches = 0
    while max_batches is None or batches < max_batches:
        # ids of the oldest expired rows; the same statement on SQLite and PostgreSQL.
        rows = await table.raw(
            f'DELETE FROM "{name}" WHERE "id" IN '
            f'(SELECT "id" FROM "{name}" WHERE "created_at" < {{}} '
            f'ORDER BY "created_at" LIMIT {int(batch_rows)}) RETURNING "id"',
            older_than,
        ).run()
        batches += 1
        deleted += len(rows)
        if progress is not None:
            progress(deleted)
        if len(rows) < batch_rows:
            break
        await asyncio.sleep(0)  # let requests in between batches
    return deleted


class Pruner:
    """Prunes the decision log every `interval_seconds` inside a running service."""

    def __init__(
        self,
        tables: Tables,
        *,
        retention_days: float,
        interval_seconds: float,
        batch_rows: int = 5000,
    ) -> None:
        self._tables = tables
        self._retention_days = retention_days
        self._interval = interval_seconds
        self._batch_rows = batch_rows
        self._task: asyncio.Task[None] | None = None
        self.runs = 0
        self.deleted = 0

    def start(self) -> None:
        if self._retention_days > 0 and self._task is None:
            self._task = asyncio.create_task(self._loop(), name="decision-log-pruner")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run_once(self) -> int:
        """One prune of everything expired now."""
        deleted = await prune_decisions(
            self._tables, cutoff(self._retention_days), batch_rows=self._batch_rows
        )
        self.runs += 1
        self.deleted += deleted
        if deleted:
            log.info("pruned %d decisions older than %g days", deleted, self._retention_days)
        return deleted

    async def _loop(self) -> None:
        # Spread the workers of one deployment over the interval: they start together.
        await asyncio.sleep(random.uniform(0, min(self._interval, 60.0)))
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a locked or absent database: try next time
                log.warning("pruning the decision log failed: %s", type(exc).__name__)
            await asyncio.sleep(self._interval)
