"""The decision log, written with group commit.

Every decision is committed before its response is sent (durable), but
concurrent requests share one multi-row INSERT: a request appends its rows to
the pending list and waits; a single flusher task writes everything pending
in one transaction and wakes the waiters. Under load this turns N inserts into
one; with one request in flight it costs one insert, as before.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import msgspec
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine

from engine.types import DecideRequest, Decision
from server.db.tables import Tables
from server.errors import Unavailable

log = logging.getLogger(__name__)

_CHUNK = 500  # rows per INSERT statement: 9 columns keeps SQLite under its variable limit


class LoggedDecision(msgspec.Struct, frozen=True):
    """One line of a merchant's recent decisions (the console's explorer lists them)."""

    decision_id: str
    created_at: datetime
    rule_id: str
    request: DecideRequest


_request_decoder = msgspec.json.Decoder(DecideRequest)


def log_row(request: DecideRequest, decision: Decision, now: datetime) -> dict[str, Any]:
    """The decision-log row of one decision (facts = the request as received)."""
    return {
        "decision_id": decision.decision_id,
        "merchant_id": decision.merchant_id,
        "facts": msgspec.json.encode(request).decode(),
        "decision": msgspec.json.encode(decision).decode(),
        "policy_name": decision.policy.name,
        "policy_version": decision.policy.version,
        "policy_sha256": decision.policy.sha256,
        "rule_id": decision.rule_id,
        "created_at": now,
    }


class _SQLiteWriter:
    """One sqlite3 connection used only from its own thread: one hop per flush.

    WAL with synchronous=NORMAL: a commit survives a crash of the process
    (what the log must survive); only an OS crash or power cut can lose the
    last commits. Without it every group commit would wait for an fsync.
    """

    def __init__(self, path: str) -> None:
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="decision-log")
        self._path = path
        self._connection: sqlite3.Connection | None = None

    def write(self, sql: str, values: list[tuple[Any, ...]]) -> None:
        if self._connection is None:
            self._connection = sqlite3.connect(
                self._path, isolation_level=None, check_same_thread=False, timeout=30
            )
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.execute("PRAGMA synchronous=NORMAL")
        connection = self._connection
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.executemany(sql, values)
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    def close(self) -> None:
        def _close() -> None:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

        self.executor.submit(_close).result()
        self.executor.shutdown(wait=True)


class DecisionLog:
    """Appends decisions to `decision_log`; `record` returns once they are committed."""

    def __init__(self, tables: Tables) -> None:
        self._table = tables.decision_log
        self._engine = tables.decision_log._meta.db
        self._pending: list[tuple[list[dict[str, Any]], asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self.flushes = 0  # how many transactions were written; for tests and metrics
        self._sqlite: _SQLiteWriter | None = None

    async def record(
        self, requests: Sequence[DecideRequest], decisions: Sequence[Decision]
    ) -> None:
        """Commit one row per decision; raises Unavailable if the database refuses."""
        now = datetime.now(UTC)
        rows = [log_row(r, d, now) for r, d in zip(requests, decisions, strict=True)]
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((rows, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_all())
        await done  # cancelling the request leaves its rows in the batch: they are still written

    async def _flush_all(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            rows = [row for rows, _ in batch for row in rows]
            try:
                await self._insert(rows)
            except Exception as exc:
                log.error("decision log write failed: %s", type(exc).__name__)
                for _, done in batch:
                    if not done.done():
                        done.set_exception(Unavailable("the decision log cannot be written"))
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)

    async def _insert(self, rows: list[dict[str, Any]]) -> None:
        """One transaction for all rows: executemany on the engine's own connection."""
        self.flushes += 1
        names = list(rows[0])
        values = [tuple(row[n] for n in names) for row in rows]
        columns = ", ".join(f'"{n}"' for n in names)
        table = self._table._meta.tablename
        engine = self._engine
        if isinstance(engine, SQLiteEngine):
            sql = f'INSERT INTO "{table}" ({columns}) VALUES ({", ".join("?" * len(names))})'
            if self._sqlite is None:
                self._sqlite = _SQLiteWriter(engine.connection_kwargs["database"])
            await asyncio.get_running_loop().run_in_executor(
                self._sqlite.executor, self._sqlite.write, sql, values
            )
        elif isinstance(engine, PostgresEngine):
            marks = ", ".join(f"${i}" for i in range(1, len(names) + 1))
            sql = f'INSERT INTO "{table}" ({columns}) VALUES ({marks})'
            if engine.pool is not None:
                async with engine.pool.acquire() as conn, conn.transaction():
                    await conn.executemany(sql, values)
            else:
                conn = await engine.get_new_connection()
                try:
                    async with conn.transaction():
                        await conn.executemany(sql, values)
                finally:
                    await conn.close()
        else:  # any other piccolo engine: its generic insert, chunked
            model = self._table
            async with engine.transaction():
                for start in range(0, len(rows), _CHUNK):
                    chunk = rows[start : start + _CHUNK]
                    await model.insert(*(model(**row) for row in chunk)).run()

    async def drain(self) -> None:
        """Wait until everything recorded so far is written, then close (at shutdown)."""
        while self._flusher is not None and not self._flusher.done():
            await asyncio.shield(self._flusher)
        if self._sqlite is not None:
            self._sqlite.close()
            self._sqlite = None

    async def recent(self, merchant_id: str, limit: int = 20) -> list[LoggedDecision]:
        """The merchant's latest decisions, newest first, with the requests they answered."""
        table = self._table
        rows = await (
            table.select(table.decision_id, table.created_at, table.rule_id, table.facts)
            .where(table.merchant_id == merchant_id)
            .order_by(table.created_at, ascending=False)
            .limit(limit)
            .run()
        )
        found = []
        for row in rows:
            facts = row["facts"]
            raw = facts.encode() if isinstance(facts, str) else msgspec.json.encode(facts)
            try:
                request = _request_decoder.decode(raw)
            except (msgspec.DecodeError, msgspec.ValidationError):
                continue  # a row written by an older shape of the request: not offered
            found.append(
                LoggedDecision(
                    decision_id=row["decision_id"],
                    created_at=row["created_at"],
                    rule_id=row["rule_id"],
                    request=request,
                )
            )
        return found


class LoggedRequest(msgspec.Struct, frozen=True):
    """One logged decision's request, with the columns a replay filters and labels by."""

    decision_id: str
    merchant_id: str
    policy_name: str
    policy_version: str
    policy_sha256: str
    rule_id: str
    created_at: datetime
    request: DecideRequest


async def iter_logged_requests(
    tables: Tables,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    merchant_id: str | None = None,
    policy_name: str | None = None,
    limit: int | None = None,
    page: int = 1000,
) -> AsyncIterator[LoggedRequest]:
    """The logged requests in a window (since <= created_at < until), oldest first.

    Reads pages by primary key so a long replay (`policy diff --from-log`) holds
    one page in memory at a time; only the public columns are read. Rows whose
    request no longer decodes (an older request shape) are skipped.
    """
    table = tables.decision_log
    last_id = 0
    sent = 0
    while limit is None or sent < limit:
        query = table.select(
            table.id,
            table.decision_id,
            table.merchant_id,
            table.policy_name,
            table.policy_version,
            table.policy_sha256,
            table.rule_id,
            table.created_at,
            table.facts,
        ).where(table.id > last_id)
        if since is not None:
            query = query.where(table.created_at >= since)
        if until is not None:
            query = query.where(table.created_at < until)
        if merchant_id is not None:
            query = query.where(table.merchant_id == merchant_id)
        if policy_name is not None:
            query = query.where(table.policy_name == policy_name)
        size = page if limit is None else min(page, limit - sent)
        rows = await query.order_by(table.id).limit(size).run()
        if not rows:
            return
        for row in rows:
            last_id = row["id"]
            facts = row["facts"]
            raw = facts.encode() if isinstance(facts, str) else msgspec.json.encode(facts)
            try:
                request = _request_decoder.decode(raw)
            except (msgspec.DecodeError, msgspec.ValidationError):
                continue  # a row written by an older shape of the request: not replayable
            yield LoggedRequest(
                decision_id=row["decision_id"],
                merchant_id=row["merchant_id"],
                policy_name=row["policy_name"],
                policy_version=row["policy_version"],
                policy_sha256=row["policy_sha256"],
                rule_id=row["rule_id"],
                created_at=row["created_at"],
                request=request,
            )
            sent += 1
