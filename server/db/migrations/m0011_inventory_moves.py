"""Stock holds (issue 11): our own record of every inventory move a campaign makes on the store,
with the level read before it, so a retried job never moves units twice."""

from __future__ import annotations

from typing import Any

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import Column
from piccolo.columns.column_types import JSON, Integer, Text, Timestamptz, Varchar

from server.db.migrations.m0001_initial import _column
from server.db.migrations.m0010_campaigns import INT, NOW, NOW_INDEXED, _nullable, _params, _varchar

ID = "2026-12-03T00:11:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "inventory moves of campaigns (held, sold and returned units)"
APP = "channel_router"

COLUMNS: list[tuple[str, type[Column], dict[str, Any]]] = [
    ("move_id", Varchar, _varchar(200, unique=True)),  # campaign_id:move_key
    ("campaign_id", Varchar, _varchar(64, index=True)),
    ("merchant_id", Varchar, _varchar(64, index=True)),
    ("move_key", Varchar, _varchar(100)),
    ("step", Varchar, _varchar(16)),
    ("status", Varchar, _varchar(16)),
    ("lock_key", Varchar, _varchar(300, index=True)),  # merchant, inventory item, location
    ("inventory_item_id", Varchar, _varchar(100)),
    ("location_id", Varchar, _varchar(100)),
    ("ledger_document_uri", Varchar, _varchar(200)),
    ("quantity", Integer, INT),
    ("units", JSON, _params("{}")),
    ("reported_sold", JSON, _params("{}")),
    ("level_before", JSON, _params("{}")),
    ("level_after", JSON, _params("{}")),
    ("reason", Text, _nullable(_params(None))),
    ("adjustment_group_id", Varchar, _nullable(_varchar(100))),
    ("attempts", Integer, INT),
    ("created_at", Timestamptz, NOW_INDEXED),
    ("updated_at", Timestamptz, NOW),
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name=APP, description=DESCRIPTION)
    manager.add_table(
        class_name="InventoryMove", tablename="inventory_move", schema=None, columns=None
    )
    for name, column_class, params in COLUMNS:
        _column(manager, "InventoryMove", "inventory_move", name, column_class, params)
    return manager
