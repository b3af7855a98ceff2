"""The merchant console: server-side login sessions and pending OAuth connects."""

from __future__ import annotations

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import Column
from piccolo.columns.column_types import Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow

from server.db.migrations.m0001_initial import _column, _params

ID = "2026-12-03T00:09:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "console sessions and OAuth states"
APP = "channel_router"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name=APP, description=DESCRIPTION)

    def varchar(length: int, *, unique: bool = False, index: bool = False) -> dict:
        return _params("", unique=unique, index=index, length=length)

    expires = _params(TimestamptzNow(), index=True)
    tables: dict[tuple[str, str], list[tuple[str, type[Column], dict]]] = {
        ("ConsoleSession", "console_session"): [
            ("session_key", Varchar, varchar(64, unique=True)),
            ("data", Text, _params("")),
            ("expires_at", Timestamptz, expires),
        ],
        ("ConsoleOauthState", "console_oauth_state"): [
            ("state_key", Varchar, varchar(64, unique=True)),
            ("session_key", Varchar, varchar(64)),
            ("merchant_id", Varchar, varchar(64)),
            ("channel", Varchar, varchar(32)),
            ("data", Text, _params("")),
            ("expires_at", Timestamptz, expires),
        ],
    }
    for (class_name, tablename), columns in tables.items():
        manager.add_table(class_name=class_name, tablename=tablename, schema=None, columns=None)
        for name, column_class, params in columns:
            _column(manager, class_name, tablename, name, column_class, params)
    return manager
