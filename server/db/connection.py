"""The service database: engine from a URL, and piccolo migrations applied in order.

SQLite by default (its folder is created, the file 0600), PostgreSQL by URL. The migration
record lives in our own table, bound to the engine being migrated, so several
databases can be migrated from one process (the tests do).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import importlib
import io
import logging
import os
import pkgutil
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit

from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine

from server.db import migrations as migrations_package
from server.db import piccolo_conf
from server.db.tables import Tables, build_tables

log = logging.getLogger(__name__)


class DatabaseUrlError(ValueError):
    """The database URL names no supported backend."""


def sqlite_path(url: str) -> Path:
    """The file of a `sqlite:///relative` or `sqlite:////absolute` URL."""
    path = url[len("sqlite:///") :]
    if not path:
        raise DatabaseUrlError("sqlite URL has no file path (use sqlite:///path.sqlite3)")
    return Path(path)


def create_private_file(path: Path) -> None:
    """Make sure `path` exists and only its owner may read it (0600); its folder is created.

    SQLite would create the file with the umask's mode (often 0644, readable by
    every local user); its journal and WAL files copy the database file's mode.
    A database file that exists but cannot be opened for writing (read-only) is
    left as it is: the service then serves reads and answers 503 to writes.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # An existing file is never opened here: closing any descriptor of a database file
    # drops every POSIX lock this process holds on it, including SQLite's own (a second
    # engine made in a process whose connections are busy would let other processes
    # write under them, and the file is corrupted).
    if path.exists():
        if not os.access(path, os.W_OK):
            log.warning("%s cannot be opened for writing: the database is read-only", path)
            return
    else:
        with contextlib.suppress(FileExistsError):  # another process created it first
            os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)
        log.info("tightened %s to mode 0600", path)


def make_engine(url: str, lock_timeout: float = 5.0) -> Engine:
    """A piccolo engine for `url`; for SQLite the file is created 0600 (with its folder).

    A write waits at most `lock_timeout` seconds for a lock (SQLite's busy
    timeout, PostgreSQL's lock_timeout), then fails, and the API answers 503.
    """
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        path = sqlite_path(url)
        create_private_file(path)
        return SQLiteEngine(path=str(path), log_queries=False, timeout=lock_timeout)
    if scheme in ("postgresql", "postgres"):
        settings = {"lock_timeout": str(max(1, int(lock_timeout * 1000)))}
        return PostgresEngine(config={"dsn": url, "server_settings": settings}, log_queries=False)
    raise DatabaseUrlError(f"unsupported database URL scheme {scheme!r} (sqlite or postgresql)")


async def describe_database(engine: Engine, tables: Tables) -> str:
    """'SQLite 3.40.1 (path)' or 'PostgreSQL 15.2 (host:port/db)' for the start-up log.

    Written here because piccolo's own line reads versions as floats (3.40 -> "3.4");
    never includes credentials.
    """
    if isinstance(engine, SQLiteEngine):
        return f"SQLite {sqlite3.sqlite_version} ({engine.connection_kwargs['database']})"
    rows = await tables.merchant.raw("SHOW server_version").run()
    version = rows[0]["server_version"] if rows else "unknown"
    where = urlsplit(str(getattr(engine, "config", {}).get("dsn", "")))
    return f"PostgreSQL {version} ({where.hostname}:{where.port or 5432}{where.path})"


def migration_modules() -> list[ModuleType]:
    """Our piccolo migration modules, oldest first."""
    names = sorted(m.name for m in pkgutil.iter_modules(migrations_package.__path__))
    return [importlib.import_module(f"{migrations_package.__name__}.{n}") for n in names]


_PG_LOCK_KEY = 0x6368_726F_7574  # arbitrary, constant: "chrout"


@contextlib.asynccontextmanager
async def _migration_lock(engine: Engine) -> AsyncIterator[None]:
    """Only one process migrates a database at a time (several workers start together)."""
    if isinstance(engine, SQLiteEngine):
        lock_path = Path(str(engine.connection_kwargs["database"]) + ".migrate-lock")
        descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            await asyncio.to_thread(fcntl.flock, descriptor, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(descriptor, fcntl.LOCK_UN)
        finally:
            os.close(descriptor)
    elif isinstance(engine, PostgresEngine):
        connection = await engine.get_new_connection()
        try:
            # Wait for another process's migration however long it takes (the
            # engine's lock_timeout is for requests).
            await connection.execute("SET lock_timeout = 0")
            await connection.execute("SELECT pg_advisory_lock($1)", _PG_LOCK_KEY)
            try:
                yield
            finally:
                await connection.execute("SELECT pg_advisory_unlock($1)", _PG_LOCK_KEY)
        finally:
            await connection.close()
    else:
        yield


async def migrate(engine: Engine, tables: Tables | None = None) -> list[str]:
    """Apply the migrations not yet applied to `engine`; returns the ids applied now."""
    async with _migration_lock(engine):
        return await _migrate(engine, tables or build_tables(engine))


async def _migrate(engine: Engine, tables: Tables) -> list[str]:
    record = tables.schema_migration
    os.environ.setdefault("PICCOLO_CONF", piccolo_conf.__name__)
    token = piccolo_conf.CURRENT_ENGINE.set(engine)
    try:
        # Only reads when nothing is to be done, so the service can start on a
        # database that is read-only (it then answers 503 to writes).
        try:
            rows = await record.select(record.migration_id).run()
        except Exception:  # no record table yet (a fresh database)
            await record.create_table(if_not_exists=True).run()
            rows = []
        done = {row["migration_id"] for row in rows}
        applied: list[str] = []
        for module in migration_modules():
            if module.ID in done:
                continue
            manager = await module.forwards()
            with contextlib.redirect_stdout(io.StringIO()):  # piccolo prints progress
                await manager.run()
            await record.insert(record(migration_id=module.ID, applied_at=datetime.now(UTC))).run()
            applied.append(module.ID)
            log.info("applied migration %s (%s)", module.ID, module.DESCRIPTION)
        return applied
    finally:
        piccolo_conf.CURRENT_ENGINE.reset(token)
