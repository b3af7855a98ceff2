"""Campaign execution: campaigns, their listings, store price changes, synced sales,
idempotency keys and the timeline."""

from __future__ import annotations

from typing import Any

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import Column
from piccolo.columns.column_types import JSON, Integer, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow

from server.db.migrations.m0001_initial import _column, _params

ID = "2026-12-03T00:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "campaigns, listings, store price changes, sales, idempotency keys, timeline"
APP = "channel_router"


def _varchar(length: int, *, unique: bool = False, index: bool = False) -> dict[str, Any]:
    return _params("", unique=unique, index=index, length=length)


def _nullable(column: dict[str, Any]) -> dict[str, Any]:
    return {**column, "null": True, "default": None}


NOW = _params(TimestamptzNow())
NOW_INDEXED = _params(TimestamptzNow(), index=True)
MAYBE_TIME = _nullable(_params(None))
INT = _params(0)

TABLES: dict[tuple[str, str], list[tuple[str, type[Column], dict[str, Any]]]] = {
    ("Campaign", "campaign"): [
        ("campaign_id", Varchar, _varchar(64, unique=True)),
        ("merchant_id", Varchar, _varchar(64, index=True)),
        ("status", Varchar, _varchar(16, index=True)),
        ("decision_id", Varchar, _varchar(64)),
        ("decision", JSON, _params("{}")),
        ("request", JSON, _params("{}")),
        ("clearance_price", Varchar, _varchar(16)),
        ("ends_at", Timestamptz, NOW_INDEXED),
        ("end_reason", Varchar, _nullable(_varchar(16))),
        ("end_requested_at", Timestamptz, MAYBE_TIME),
        ("end_verified_at", Timestamptz, MAYBE_TIME),
        ("version", Integer, INT),
        ("created_at", Timestamptz, NOW_INDEXED),
        ("updated_at", Timestamptz, NOW),
    ],
    ("CampaignListing", "campaign_listing"): [
        ("listing_key", Varchar, _varchar(100, unique=True)),
        ("campaign_id", Varchar, _varchar(64, index=True)),
        ("channel", Varchar, _varchar(32)),
        ("sku", Varchar, _varchar(50)),
        ("external_listing_id", Varchar, _nullable(_varchar(100))),
        ("status", Varchar, _varchar(16)),
        ("allocated_units", Integer, INT),
        ("units_sold", Integer, INT),
        ("attempted", Integer, INT),
        ("verified_ended", Integer, INT),
        ("last_error", Text, _nullable(_params(None))),
        ("updated_at", Timestamptz, NOW),
    ],
    ("StorePriceChange", "store_price_change"): [
        ("campaign_id", Varchar, _varchar(64, unique=True)),
        ("merchant_id", Varchar, _varchar(64, index=True)),
        ("product_id", Varchar, _varchar(64)),
        ("variant_id", Varchar, _varchar(64)),
        ("status", Varchar, _varchar(16)),
        ("price_before", Varchar, _nullable(_varchar(16))),
        ("clearance_price", Varchar, _varchar(16)),
        ("last_error", Text, _nullable(_params(None))),
        ("set_at", Timestamptz, MAYBE_TIME),
        ("reverted_at", Timestamptz, MAYBE_TIME),
    ],
    ("SyncedSale", "synced_sale"): [
        ("sale_key", Varchar, _varchar(200, unique=True)),
        ("campaign_id", Varchar, _varchar(64, index=True)),
        ("merchant_id", Varchar, _varchar(64, index=True)),
        ("channel", Varchar, _varchar(32)),
        ("order_id", Varchar, _varchar(100)),
        ("sku", Varchar, _varchar(50)),
        ("units", Integer, INT),
        ("revenue", Varchar, _varchar(20)),
        ("currency", Varchar, _varchar(3)),
        ("sold_at", Timestamptz, NOW),
    ],
    ("IdempotencyKey", "idempotency_key"): [
        ("key_id", Varchar, _varchar(300, unique=True)),
        ("merchant_id", Varchar, _varchar(64, index=True)),
        ("body_sha256", Varchar, _varchar(64)),
        ("campaign_id", Varchar, _varchar(64)),
        ("created_at", Timestamptz, NOW_INDEXED),
    ],
    ("CampaignEvent", "campaign_event"): [
        ("campaign_id", Varchar, _varchar(64, index=True)),
        ("step", Varchar, _varchar(32)),
        ("channel", Varchar, _nullable(_varchar(32))),
        ("attempt", Integer, _params(1)),
        ("call", Text, _params("")),
        ("outcome", Varchar, _varchar(16)),
        ("detail", Text, _nullable(_params(None))),
        ("created_at", Timestamptz, NOW_INDEXED),
    ],
}


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name=APP, description=DESCRIPTION)
    for (class_name, tablename), columns in TABLES.items():
        manager.add_table(class_name=class_name, tablename=tablename, schema=None, columns=None)
        for name, column_class, params in columns:
            _column(manager, class_name, tablename, name, column_class, params)
    return manager
