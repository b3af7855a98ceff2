"""Shadow divergences: decisions where a policy's shadow version would have answered otherwise."""

from __future__ import annotations

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import Column
from piccolo.columns.column_types import JSON, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow

from server.db.migrations.m0001_initial import _column, _params

ID = "2026-12-03T00:07:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "policy shadow divergences"
APP = "channel_router"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name=APP, description=DESCRIPTION)

    def varchar(length: int, *, index: bool = False) -> dict:
        return _params("", index=index, length=length)

    class_name, tablename = "ShadowDivergence", "policy_shadow_divergence"
    columns: list[tuple[str, type[Column], dict]] = [
        ("decision_id", Varchar, varchar(64)),
        ("merchant_id", Varchar, varchar(64, index=True)),
        ("policy_name", Varchar, varchar(100, index=True)),
        ("policy_version", Varchar, varchar(32)),
        ("shadow_version", Varchar, varchar(32)),
        ("shadow_sha256", Varchar, varchar(64)),
        ("rule_id", Varchar, varchar(100)),
        ("shadow_rule_id", Varchar, varchar(100)),
        ("outcome", JSON, _params("{}")),
        ("shadow_outcome", JSON, _params("{}")),
        ("request", JSON, _params("{}")),
        ("created_at", Timestamptz, _params(TimestamptzNow(), index=True)),
    ]
    manager.add_table(class_name=class_name, tablename=tablename, schema=None, columns=None)
    for name, column_class, params in columns:
        _column(manager, class_name, tablename, name, column_class, params)
    return manager
