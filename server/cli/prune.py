"""`channel-router prune`: delete decisions older than the retention, now.

The service prunes by itself every CHANNEL_ROUTER_PRUNE_INTERVAL_SECONDS; this
command is for a first clean-up of a large log, or for cron-driven setups.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any


def register(commands: Any) -> None:
    """Add `prune` to the `channel-router` parser."""
    prune = commands.add_parser(
        "prune",
        help="delete logged decisions older than the retention (default 30 days)",
    )
    prune.add_argument(
        "--older-than-days",
        type=float,
        default=None,
        help="retention in days for this run (default: CHANNEL_ROUTER_DECISION_RETENTION_DAYS, 30)",
    )
    prune.add_argument(
        "--batch-rows", type=int, default=5000, help="rows deleted per statement (default 5000)"
    )
    prune.set_defaults(handler=run_prune)


def run_prune(args: argparse.Namespace) -> int:
    from server.config import ConfigError, ServiceConfig
    from server.db.connection import DatabaseUrlError, make_engine
    from server.db.retention import cutoff, prune_decisions
    from server.db.tables import build_tables

    try:
        config = ServiceConfig.from_env()
        engine = make_engine(config.database_url, lock_timeout=config.db_lock_timeout_seconds)
    except (ConfigError, DatabaseUrlError) as exc:
        print(f"channel-router prune: {exc}", file=sys.stderr)
        return 2
    days = config.decision_retention_days if args.older_than_days is None else args.older_than_days
    if days <= 0:
        print("channel-router prune: retention is 0 (keep for ever); nothing to do")
        return 0
    if args.batch_rows < 1:
        print("channel-router prune: --batch-rows must be at least 1", file=sys.stderr)
        return 2
    before = cutoff(days)
    print(f"deleting decisions created before {before.isoformat(timespec='seconds')} ...")

    shown = [time.monotonic()]

    def progress(total: int) -> None:  # at most once a second: a large log takes many batches
        if time.monotonic() - shown[0] >= 1.0:
            shown[0] = time.monotonic()
            print(f"  {total} deleted so far", file=sys.stderr, flush=True)

    async def run() -> int:
        tables = build_tables(engine)
        return await prune_decisions(tables, before, batch_rows=args.batch_rows, progress=progress)

    try:
        deleted = asyncio.run(run())
    except Exception as exc:
        print(f"channel-router prune: the database refused: {type(exc).__name__}", file=sys.stderr)
        return 1
    print(f"deleted {deleted} decision(s) older than {days:g} days")
    return 0
