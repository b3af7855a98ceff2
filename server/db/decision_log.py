"""The decision log: compact rows, written with group commit, read back by `iter_logged`.

Guarantee (docs/operations.md): a decision is answered only after its row is
committed. Concurrent requests share one transaction: a request appends its
rows to the pending list and waits; one flusher task writes everything pending
and wakes the waiters. There is no batching window: under load the rows that
arrived while the previous transaction ran form the next one.

- SQLite: the transaction runs on the event-loop thread (a thread hop and the
  GIL contention it brings cost more than the write), with no busy wait: if
  another process holds the write lock, that transaction goes to a worker
  thread that waits for the lock. WAL with synchronous=NORMAL: a commit
  survives a crash of the process; only an OS crash or power cut can lose the
  last commits. Checkpoints (the only fsyncs) run on the worker thread.
- PostgreSQL: one COPY per transaction (binary, every row in one round trip).

Row format (bytes per decision: bench/log.py). Queryable columns, as before:
decision_id, merchant_id, policy_name, policy_version, policy_sha256, rule_id,
created_at. `facts` holds the request exactly as decided,
`decision` the outcome in a few keys ({"s": store units, "c": [[channel,
units], ...], "p": external priority, "m": the merchant's settings}); the trace
and the effective parameters are not stored: the policy (by sha256), the
request and the settings give them back. Rows written before this format
(full request and Decision JSON) are read by the same reader.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from typing import Any

import msgspec
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine

from engine.types import DecideRequest, Decision, PolicyRef, Settings
from server.db.tables import Tables
from server.errors import Unavailable

log = logging.getLogger(__name__)

COLUMNS = (
    "decision_id",
    "merchant_id",
    "facts",
    "decision",
    "policy_name",
    "policy_version",
    "policy_sha256",
    "rule_id",
    "created_at",
)
_CHUNK = 500  # rows per INSERT statement of the generic path
_CHECKPOINT_EVERY = 4000  # rows between WAL checkpoints (SQLite)

_encode = msgspec.json.Encoder().encode


class _Outcome(msgspec.Struct, omit_defaults=True):
    """What a logged decision answered, beyond its columns."""

    s: int  # store units
    c: list[tuple[str, int]] = []  # external channels and their units, in order
    p: bool = False  # external priority
    m: Settings | None = None  # the merchant's settings the decision saw


def log_row(
    request: DecideRequest, decision: Decision, created_at: Any, settings: Settings | None = None
) -> tuple[Any, ...]:
    """The decision-log row of one decision, in COLUMNS order."""
    outcome = _Outcome(
        s=decision.store_units,
        c=[(a.channel, a.allocated_units) for a in decision.external_channels],
        p=decision.external_priority,
        m=settings,
    )
    policy = decision.policy
    return (
        decision.decision_id,
        decision.merchant_id,
        _encode(request).decode(),
        _encode(outcome).decode(),
        policy.name,
        policy.version,
        policy.sha256,
        decision.rule_id,
        created_at,
    )


class LoggedDecision(msgspec.Struct, frozen=True):
    """One row of the decision log as read back (`iter_logged`, `DecisionLog.recent`)."""

    decision_id: str
    merchant_id: str
    policy: PolicyRef
    rule_id: str
    created_at: datetime
    request: DecideRequest  # exactly what was decided
    settings: Settings | None  # the merchant's settings it was decided with (None: unknown)
    store_units: int
    external: list[tuple[str, int]]  # (channel, allocated units), in order
    external_priority: bool


_request_decoder = msgspec.json.Decoder(DecideRequest)
_outcome_decoder = msgspec.json.Decoder(_Outcome)


class _OldDecision(msgspec.Struct):
    """The full Decision JSON rows carried before the compact format."""

    store_units: int
    external_priority: bool = False
    external_channels: list[dict[str, Any]] = []


_old_decoder = msgspec.json.Decoder(_OldDecision)


def _read_row(row: dict[str, Any]) -> LoggedDecision:
    facts, outcome_text = row["facts"], row["decision"]
    if isinstance(facts, dict | list):  # a driver that decodes JSON columns itself
        facts, outcome_text = _encode(facts), _encode(outcome_text)
    if outcome_text.startswith('{"decision_id"'):  # a row of the old format (a full Decision)
        old = _old_decoder.decode(outcome_text)
        outcome = _Outcome(
            s=old.store_units,
            c=[(c["channel"], c["allocated_units"]) for c in old.external_channels],
            p=old.external_priority,
        )
    else:
        outcome = _outcome_decoder.decode(outcome_text)
    created = row["created_at"]
    if isinstance(created, str):
        created = datetime.fromisoformat(created)
    return LoggedDecision(
        decision_id=row["decision_id"],
        merchant_id=row["merchant_id"],
        policy=PolicyRef(row["policy_name"], row["policy_version"], row["policy_sha256"]),
        rule_id=row["rule_id"],
        created_at=created if created.tzinfo else created.replace(tzinfo=UTC),
        request=_request_decoder.decode(facts),
        settings=outcome.m,
        store_units=outcome.s,
        external=list(outcome.c),
        external_priority=outcome.p,
    )


async def iter_logged(
    tables: Tables,
    *,
    merchant_id: str | None = None,
    policy_name: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
    chunk: int = 1000,
) -> AsyncIterator[LoggedDecision]:
    """Logged decisions with their outcomes and settings, oldest first, read in chunks.

    `iter_logged_requests` (below) gives the requests alone, as `policy diff --from-log`
    replays them.
    """
    table = tables.decision_log
    seen = 0
    last_id = 0
    while limit is None or seen < limit:
        query = table.select().where(table.id > last_id)
        if merchant_id is not None:
            query = query.where(table.merchant_id == merchant_id)
        if policy_name is not None:
            query = query.where(table.policy_name == policy_name)
        if since is not None:
            query = query.where(table.created_at >= since)
        if until is not None:
            query = query.where(table.created_at < until)
        size = chunk if limit is None else min(chunk, limit - seen)
        rows = await query.order_by(table.id).limit(size).run()
        if not rows:
            return
        for row in rows:
            try:
                logged = _read_row(row)
            except (msgspec.DecodeError, msgspec.ValidationError):
                continue  # a row written by an older shape of the request: not replayable
            yield logged
        seen += len(rows)
        last_id = rows[-1]["id"]


def _wal(connection: sqlite3.Connection) -> None:
    """Put the database in WAL mode; a database locked by another process stays as it is
    for now (the mode is the database's: whoever sets it first sets it for all)."""
    try:
        connection.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError as exc:
        if getattr(exc, "sqlite_errorname", "") not in ("SQLITE_BUSY", "SQLITE_LOCKED"):
            raise


class _SQLiteWriter:
    """Writes on the event-loop thread; waits for another process's lock on a worker thread."""

    def __init__(self, path: str) -> None:
        self._path = path
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="decision-log")
        self._now: sqlite3.Connection | None = None  # loop thread: never waits for a lock
        self._waiting: sqlite3.Connection | None = None  # worker thread: waits up to 30 s
        self._since_checkpoint = 0

    def _connect(self, *, for_loop: bool = False) -> sqlite3.Connection:
        """A connection in WAL mode (waiting up to 30 s for another process's lock to set it).

        The loop's connection then never waits (busy_timeout 0) and never
        checkpoints (a checkpoint fsyncs): it is opened on the worker thread.
        """
        connection = sqlite3.connect(
            self._path, isolation_level=None, check_same_thread=False, timeout=30
        )
        _wal(connection)
        connection.execute("PRAGMA synchronous=NORMAL")
        if for_loop:
            connection.execute("PRAGMA wal_autocheckpoint=0")
            connection.execute("PRAGMA busy_timeout=0")
        return connection

    @staticmethod
    def _transaction(connection: sqlite3.Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """One transaction; on any failure, rolled back so that no lock is kept."""
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.executemany(sql, rows)
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise

    async def write(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if self._now is None:
            self._now = await asyncio.get_running_loop().run_in_executor(
                self.executor, partial(self._connect, for_loop=True)
            )
        try:
            self._transaction(self._now, sql, rows)
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorname", "") not in ("SQLITE_BUSY", "SQLITE_LOCKED"):
                raise
            await asyncio.get_running_loop().run_in_executor(
                self.executor, self._write_waiting, sql, rows
            )
        self._since_checkpoint += len(rows)
        if self._since_checkpoint >= _CHECKPOINT_EVERY:
            self._since_checkpoint = 0
            self.executor.submit(self._checkpoint)

    def _write_waiting(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if self._waiting is None:
            self._waiting = self._connect()
        self._transaction(self._waiting, sql, rows)

    def _checkpoint(self) -> None:
        try:
            if self._waiting is None:
                self._waiting = self._connect()
            _wal(self._waiting)  # if another process's lock kept it from being set so far
            self._waiting.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error as exc:  # the next one will do it
            log.warning("decision log checkpoint failed: %s", type(exc).__name__)

    def close(self) -> None:
        def _close() -> None:
            for connection in (self._now, self._waiting):
                if connection is not None:
                    connection.close()
            self._now = self._waiting = None

        self.executor.submit(_close).result()
        self.executor.shutdown(wait=True)


class DecisionLog:
    """Appends decisions to `decision_log`; `record` returns once they are committed."""

    def __init__(self, tables: Tables) -> None:
        self._table = tables.decision_log
        self._engine = tables.decision_log._meta.db
        self._pending: list[tuple[list[tuple[Any, ...]], asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self.flushes = 0  # how many transactions were written; for tests and metrics
        self._sqlite: _SQLiteWriter | None = None
        self._is_sqlite = isinstance(self._engine, SQLiteEngine)
        self._is_postgres = isinstance(self._engine, PostgresEngine)
        self._second = -1
        self._second_text = ""

    def created_at(self) -> Any:
        """Now, as the backend stores it: on SQLite piccolo's text form of a UTC time
        (`2026-12-03 15:09:14.858123+00:00`), made here once per request rather than
        by the driver per row, from a date-and-second part kept for the second."""
        if not self._is_sqlite:
            return datetime.now(UTC)
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._second_text = str(datetime.fromtimestamp(second, UTC))[:19]
        return f"{self._second_text}.{int((now - second) * 1e6):06d}+00:00"

    async def record(
        self,
        requests: Sequence[DecideRequest],
        decisions: Sequence[Decision],
        settings: Settings | None = None,
    ) -> None:
        """Commit one row per decision; raises Unavailable if the database refuses.

        `settings` are the merchant's settings the decisions were made with (one
        merchant per call; a batch across merchants passes None).
        """
        created_at = self.created_at()
        rows = [
            log_row(r, d, created_at, settings) for r, d in zip(requests, decisions, strict=True)
        ]
        await self.record_rows(rows)

    async def record_rows(self, rows: list[tuple[Any, ...]]) -> None:
        """Commit rows made by `log_row`."""
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

    async def _insert(self, rows: list[tuple[Any, ...]]) -> None:
        """One transaction for all rows."""
        self.flushes += 1
        table = self._table._meta.tablename
        engine = self._engine
        if self._is_sqlite:
            if self._sqlite is None:
                self._sqlite = _SQLiteWriter(engine.connection_kwargs["database"])
            columns = ", ".join(f'"{n}"' for n in COLUMNS)
            marks = ", ".join("?" * len(COLUMNS))
            await self._sqlite.write(f'INSERT INTO "{table}" ({columns}) VALUES ({marks})', rows)
        elif self._is_postgres:
            if engine.pool is not None:
                async with engine.pool.acquire() as conn:
                    await conn.copy_records_to_table(table, records=rows, columns=COLUMNS)
            else:
                conn = await engine.get_new_connection()
                try:
                    await conn.copy_records_to_table(table, records=rows, columns=COLUMNS)
                finally:
                    await conn.close()
        else:  # any other piccolo engine: its generic insert, chunked
            model = self._table
            async with engine.transaction():
                for start in range(0, len(rows), _CHUNK):
                    chunk = rows[start : start + _CHUNK]
                    made = [model(**dict(zip(COLUMNS, row, strict=True))) for row in chunk]
                    await model.insert(*made).run()

    async def drain(self) -> None:
        """Wait until everything recorded so far is written, then close (at shutdown)."""
        while self._flusher is not None and not self._flusher.done():
            await asyncio.shield(self._flusher)
        if self._sqlite is not None:
            self._sqlite.close()
            self._sqlite = None

    async def recent(self, merchant_id: str, limit: int = 20) -> list[LoggedDecision]:
        """The merchant's latest decisions, newest first (the console's explorer lists them)."""
        table = self._table
        rows = await (
            table.select()
            .where(table.merchant_id == merchant_id)
            .order_by(table.id, ascending=False)
            .limit(limit)
            .run()
        )
        found = []
        for row in rows:
            try:
                found.append(_read_row(row))
            except (msgspec.DecodeError, msgspec.ValidationError):
                continue  # a row written by an older shape of the request: not offered
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
