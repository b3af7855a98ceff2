"""Which database errors mean "the database cannot serve this now" (503), not a bug.

A locked, read-only, full or unreachable database is a condition of the
service, so the API answers 503 with Retry-After and the client tries again;
every other database error is ours and stays a 500. SQLite reports these
conditions as OperationalError (locked, read-only, disk I/O, cannot open);
PostgreSQL by SQLSTATE class.
"""

from __future__ import annotations

import sqlite3

# SQLSTATE classes and codes of PostgreSQL that are conditions, not bugs.
_PG_CLASSES = ("08", "53", "57", "58")  # connection, resources, operator intervention, system
_PG_CODES = {
    "25006": "read-only",  # read_only_sql_transaction
    "55P03": "locked",  # lock_not_available (lock_timeout)
    "40001": "busy",  # serialization_failure
    "40P01": "busy",  # deadlock_detected
    "57014": "busy",  # query_canceled (statement_timeout)
}


def unavailable_reason(exc: BaseException) -> str | None:
    """'locked', 'read-only', 'unreachable', ... when `exc` is such a condition, else None."""
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc).lower()
        if "locked" in text or "busy" in text:
            return "locked"
        if "readonly" in text or "read-only" in text:
            return "read-only"
        if "disk" in text or "full" in text or "unable to open" in text or "i/o" in text:
            return "unreachable"
        return None
    try:
        import asyncpg
    except ImportError:  # pragma: no cover - asyncpg ships with piccolo[postgres]
        return None
    if isinstance(exc, asyncpg.PostgresError):
        code = str(getattr(exc, "sqlstate", "") or "")
        if code in _PG_CODES:
            return _PG_CODES[code]
        if code[:2] in _PG_CLASSES:
            return "unreachable"
        return None
    if isinstance(exc, asyncpg.InterfaceError | ConnectionError | TimeoutError | OSError):
        return "unreachable"
    return None
