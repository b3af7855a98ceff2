"""Decision-log retention on both backends: old rows go in bounded batches, new rows
stay, pruning from several processes at once is safe, the service prunes by itself."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
from piccolo.engine.sqlite import SQLiteEngine

from engine import Engine, load_policy_dir
from engine.types import DecideRequest
from server.app import create_app
from server.config import REPO_POLICY_DIR, ServiceConfig
from server.db.connection import make_engine, migrate
from server.db.decision_log import DecisionLog, log_row
from server.db.retention import cutoff, prune_decisions
from server.db.tables import Tables, build_tables
from tests.server.helpers import decide_body, live_server

REPO = Path(__file__).resolve().parents[2]
POLICY = Engine(load_policy_dir(REPO_POLICY_DIR))


async def _tables(database_url: str) -> Tables:
    engine = make_engine(database_url)
    tables = build_tables(engine)
    await migrate(engine, tables)
    return tables


async def _insert(tables: Tables, ages_days: list[float]) -> None:
    """Decisions logged `age` days ago, written as the decision log writes them."""
    now = datetime.now(UTC)
    request = msgspec.convert(decide_body(), DecideRequest)
    log = DecisionLog(tables)
    sqlite = isinstance(tables.decision_log._meta.db, SQLiteEngine)
    rows = []
    for age in ages_days:
        created = now - timedelta(days=age)
        # As DecisionLog.created_at() stores it: SQLite keeps piccolo's text form.
        stamp: Any = created.strftime("%Y-%m-%d %H:%M:%S.%f+00:00") if sqlite else created
        rows.append(log_row(request, POLICY.decide(request), stamp))
    await log.record_rows(rows)
    await log.drain()


async def _ages(tables: Tables) -> list[float]:
    table = tables.decision_log
    now = datetime.now(UTC)
    rows = await table.select(table.created_at).run()
    return sorted(round((now - r["created_at"]).total_seconds() / 86400) for r in rows)


def test_prune_deletes_only_expired_rows_in_bounded_batches(database_url: str) -> None:
    async def run() -> tuple[int, list[int], list[float]]:
        tables = await _tables(database_url)
        await _insert(tables, [40] * 25 + [31] * 5 + [29] * 3 + [0] * 2)
        progress: list[int] = []
        deleted = await prune_decisions(tables, cutoff(30), batch_rows=7, progress=progress.append)
        return deleted, progress, await _ages(tables)

    deleted, progress, ages = asyncio.run(run())
    assert deleted == 30
    assert progress == [7, 14, 21, 28, 30]  # never more than a batch per statement
    assert ages == [0, 0, 29, 29, 29]


def test_pruning_from_several_processes_at_once_deletes_each_row_once(database_url: str) -> None:
    async def run() -> tuple[list[int], list[float]]:
        tables = await _tables(database_url)
        await _insert(tables, [60] * 120 + [1] * 4)
        others = [await _tables(database_url) for _ in range(2)]  # separate engines
        counts = await asyncio.gather(
            *(prune_decisions(t, cutoff(30), batch_rows=10) for t in [tables, *others])
        )
        return list(counts), await _ages(tables)

    counts, ages = asyncio.run(run())
    assert sum(counts) == 120
    assert ages == [1, 1, 1, 1]


def test_the_service_prunes_by_itself(config: ServiceConfig) -> None:
    asyncio.run(_insert(asyncio.run(_tables(config.database_url)), [45] * 10 + [2]))
    config = dataclasses.replace(config, decision_retention_days=30, prune_interval_seconds=1)
    server = live_server(create_app(config))
    try:
        deadline = time.monotonic() + 60  # the first run starts within a second (jitter)
        ages: list[float] = []
        while time.monotonic() < deadline:
            ages = asyncio.run(_ages(asyncio.run(_tables(config.database_url))))
            if ages == [2]:
                break
            time.sleep(0.2)
        assert ages == [2]
    finally:
        server.stop()


def test_prune_command_reports_what_it_deleted(database_url: str, tmp_path: Path) -> None:
    asyncio.run(_insert(asyncio.run(_tables(database_url)), [100] * 3 + [10] * 2))
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO),
        "CHANNEL_ROUTER_DATABASE_URL": database_url,
    }
    result = subprocess.run(
        [sys.executable, "-m", "server.cli", "prune", "--older-than-days", "50"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "deleted 3 decision(s) older than 50 days" in result.stdout
    assert asyncio.run(_ages(asyncio.run(_tables(database_url)))) == [10, 10]
