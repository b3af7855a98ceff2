"""Making an engine never touches the locks SQLite holds on the file in this process.

Closing any descriptor of a file drops every POSIX lock the process holds on it, SQLite's
included; `make_engine` used to open and close the database file to set its mode, so a
second engine made while a connection was writing let another process write under it
(seen as "disk I/O error" and malformed rows with the API and a worker on one file)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from server.db.connection import make_engine


def test_making_an_engine_keeps_the_locks_of_open_connections(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    make_engine(f"sqlite:///{path}")  # creates the file 0600
    assert path.stat().st_mode & 0o777 == 0o600
    writer = sqlite3.connect(path, isolation_level=None, timeout=0)
    writer.execute("CREATE TABLE t (x INTEGER)")
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO t VALUES (1)")

    make_engine(f"sqlite:///{path}")  # while the write transaction holds its lock

    other = subprocess.run(
        [sys.executable, "-c",
         f"import sqlite3; c = sqlite3.connect({str(path)!r}, timeout=0); "
         "c.execute('INSERT INTO t VALUES (2)'); c.commit()"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert other.returncode != 0 and "locked" in other.stderr, other.stderr
    writer.execute("COMMIT")
    assert writer.execute("SELECT x FROM t").fetchall() == [(1,)]
