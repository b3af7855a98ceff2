"""Bytes and microseconds per decision-log row, on SQLite and PostgreSQL.

Run: `.venv/bin/python bench/log.py [--rows 20000] [--postgres URL]` (also `make bench`).

For each backend, writes the same decisions (varied requests of the default
policy, trace on, as /v1/decide logs them) twice into fresh tables:
- the compact rows of `server.db.decision_log` (today's format), and
- rows of the format before it (the whole request and the whole Decision as
  JSON, trace and effective parameters included), for reference,
each in group-commit transactions of 32 rows (what 32 connections give) and in
one 10,000-row transaction (a batch). Prints bytes per row on disk (SQLite:
file growth after a checkpoint; PostgreSQL: table + indexes + TOAST) and
microseconds of CPU per row spent writing. PostgreSQL is skipped when it does
not answer (default postgresql://postgres@127.0.0.1:5432/test, in a schema of
its own that is dropped afterwards).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402

from engine import DecideRequest, Decision, Engine, Settings, load_policy_dir  # noqa: E402
from server.db.connection import make_engine, migrate  # noqa: E402
from server.db.decision_log import DecisionLog, log_row  # noqa: E402
from server.db.tables import build_tables  # noqa: E402

SETTINGS = Settings(enabled_external_channels=["ebay", "amazon"])
GROUP = 32


def decisions(count: int) -> list[tuple[DecideRequest, Decision]]:
    engine = Engine(load_policy_dir(ROOT / "policies"))
    out = []
    for i in range(count):
        raw = {
            "merchant_id": "bench",
            "product": {
                "product_id": str(100_000 + i), "variant_id": str(i), "title": "Linen shirt",
                "category": ["Apparel", "Home", "Jewelry"][i % 3],
                "stock_quantity": i % 200, "days_since_last_sale": i % 60,
                "current_price": "49.99",
            },
            "proposal": {"proposed_price": "19.99", "duration_hours": 168},
        }  # fmt: skip
        request = msgspec.convert(raw, DecideRequest)
        out.append((request, engine.decide(request, SETTINGS)))
    return out


def old_row(request: DecideRequest, decision: Decision, created_at: Any) -> tuple[Any, ...]:
    """A row as written before the compact format (full request and Decision)."""
    policy = decision.policy
    return (
        decision.decision_id, decision.merchant_id,
        msgspec.json.encode(request).decode(), msgspec.json.encode(decision).decode(),
        policy.name, policy.version, policy.sha256, decision.rule_id, created_at,
    )  # fmt: skip


async def measure(
    url: str,
    made: list[tuple[DecideRequest, Decision]],
    make_row: Callable[..., tuple[Any, ...]],
    group: int,
    size: Callable[[Any], Any],
) -> tuple[float, float]:
    """(bytes per row, CPU µs per row) of writing `made` in transactions of `group` rows."""
    engine = make_engine(url)
    tables = build_tables(engine)
    await migrate(engine, tables)
    if hasattr(engine, "start_connection_pool") and url.startswith("postgres"):
        await engine.start_connection_pool(min_size=1, max_size=2)
    log = DecisionLog(tables)
    before = await size(engine)
    cpu = 0.0
    for start in range(0, len(made), group):
        chunk = made[start : start + group]
        started = time.process_time()
        created_at = log.created_at()
        rows = [
            make_row(r, d, created_at, SETTINGS)
            if make_row is log_row
            else make_row(r, d, created_at)
            for r, d in chunk
        ]
        await log.record_rows(rows)
        cpu += time.process_time() - started
    await log.drain()
    after = await size(engine)
    if url.startswith("postgres"):
        await engine.close_connection_pool()
    return (after - before) / len(made), cpu / len(made) * 1e6


def _file_size(path: str) -> int:
    import sqlite3

    connection = sqlite3.connect(path)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    return os.path.getsize(path)


async def sqlite_size(engine: Any) -> int:
    return _file_size(engine.connection_kwargs["database"])


async def postgres_size(engine: Any) -> int:
    rows = await engine._run_in_new_connection(
        "SELECT pg_total_relation_size('decision_log') AS n", []
    )
    return int(rows[0]["n"])


async def run_postgres(base: str, made: list[tuple[DecideRequest, Decision]]) -> list[str]:
    import asyncpg

    try:
        connection = await asyncpg.connect(base, timeout=5)
    except Exception as exc:
        return [f"PostgreSQL: skipped ({type(exc).__name__} at {base})"]
    lines = []
    try:
        for label, make_row, group in CASES:
            schema = f"bench_{secrets.token_hex(4)}"
            await connection.execute(f'CREATE SCHEMA "{schema}"')
            try:
                sep = "&" if "?" in base else "?"
                url = f"{base}{sep}search_path={schema}"
                per_row, us = await measure(url, made, make_row, group, postgres_size)
                lines.append(f"{'PostgreSQL':<12}{label:<30}{per_row:>10.0f}{us:>14.1f}")
            finally:
                await connection.execute(f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        await connection.close()
    return lines


CASES = [
    ("compact, 32 rows a commit", log_row, GROUP),
    ("compact, 10,000 in one", log_row, 10_000),
    ("old format, 32 rows a commit", old_row, GROUP),
    ("old format, 10,000 in one", old_row, 10_000),
]


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "CHANNEL_ROUTER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args()
    made = decisions(args.rows)
    print(f"{args.rows:,} decisions of the default policy, trace on")
    print(f"{'backend':<12}{'rows':<30}{'bytes/row':>10}{'CPU µs/row':>14}")
    with tempfile.TemporaryDirectory(prefix="channel-router-log-bench-") as tmp:
        for i, (label, make_row, group) in enumerate(CASES):
            url = f"sqlite:///{tmp}/log{i}.sqlite3"
            per_row, us = await measure(url, made, make_row, group, sqlite_size)
            print(f"{'SQLite':<12}{label:<30}{per_row:>10.0f}{us:>14.1f}")
    for line in await run_postgres(args.postgres, made):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
