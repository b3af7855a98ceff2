"""Service state: values the service keeps about itself (the credentials key's fingerprint)."""

from __future__ import annotations

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import Column
from piccolo.columns.column_types import Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow

from server.db.migrations.m0001_initial import _column, _params

ID = "2026-12-03T00:03:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "service state (credentials key fingerprint)"
APP = "channel_router"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name=APP, description=DESCRIPTION)
    class_name, tablename = "ServiceState", "service_state"
    manager.add_table(class_name=class_name, tablename=tablename, schema=None, columns=None)
    columns: list[tuple[str, type[Column], dict]] = [
        ("name", Varchar, _params("", unique=True, length=64)),
        ("value", Text, _params("")),
        ("updated_at", Timestamptz, _params(TimestamptzNow())),
    ]
    for name, column_class, params in columns:
        _column(manager, class_name, tablename, name, column_class, params)
    return manager
