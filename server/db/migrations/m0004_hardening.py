"""Pending channel connections, and an index for pruning the decision log by age."""

from __future__ import annotations

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

# The column helpers of the first migration (frozen like it).
from server.db.migrations.m0001_initial import _column, _params

ID = "2026-12-03T00:04:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "pending channel connections; decision_log.created_at index"
APP = "channel_router"

# Pruning deletes the oldest rows in batches (server.db.retention): without an
# index on created_at every batch would scan the whole log.
CREATED_AT_INDEX = (
    'CREATE INDEX IF NOT EXISTS "decision_log_created_at" ON "decision_log" ("created_at")'
)


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name=APP, description=DESCRIPTION)

    async def index_created_at() -> None:
        from server.db import piccolo_conf

        class _DecisionLog(Table, db=piccolo_conf.CURRENT_ENGINE.get(), tablename="decision_log"):
            pass

        await _DecisionLog.raw(CREATED_AT_INDEX).run()

    manager.add_raw(index_created_at)
    manager.add_table(
        class_name="PendingConnection", tablename="pending_connection", schema=None, columns=None
    )
    for name, column_class, params in (
        ("connection_key", Varchar, _params("", length=100, unique=True)),
        ("merchant_id", Varchar, _params("", length=64)),
        ("channel", Varchar, _params("", length=32)),
        ("started_at", Timestamptz, _params(TimestamptzNow())),
    ):
        _column(manager, "PendingConnection", "pending_connection", name, column_class, params)
    return manager
