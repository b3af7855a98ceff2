"""Merchants, encrypted channel credentials and the decision log."""

from __future__ import annotations

from typing import Any

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import Column
from piccolo.columns.column_types import JSON, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-23T22:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "merchants, channel credentials, decision log"
APP = "channel_router"


def _params(default: Any, *, unique: bool = False, index: bool = False, **extra: Any) -> dict:
    return {
        "default": default,
        "null": False,
        "primary_key": False,
        "unique": unique,
        "index": index,
        "index_method": IndexMethod.btree,
        "choices": None,
        "db_column_name": None,
        "secret": False,
        **extra,
    }


def _column(
    manager: MigrationManager,
    class_name: str,
    tablename: str,
    name: str,
    column_class: type[Column],
    params: dict,
) -> None:
    manager.add_column(
        table_class_name=class_name,
        tablename=tablename,
        column_name=name,
        db_column_name=name,
        column_class_name=column_class.__name__,
        column_class=column_class,
        params=params,
        schema=None,
    )


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name=APP, description=DESCRIPTION)

    def varchar(length: int, *, unique: bool = False, index: bool = False) -> dict:
        return _params("", unique=unique, index=index, length=length)

    now = _params(TimestamptzNow())
    tables: dict[tuple[str, str], list[tuple[str, type[Column], dict]]] = {
        ("Merchant", "merchant"): [
            ("merchant_id", Varchar, varchar(64, unique=True, index=True)),
            ("name", Varchar, varchar(200)),
            ("api_key_hash", Varchar, varchar(64, unique=True, index=True)),
            ("settings", JSON, _params("{}")),
            ("created_at", Timestamptz, now),
        ],
        ("ChannelCredential", "channel_credential"): [
            ("credential_key", Varchar, varchar(100, unique=True)),
            ("merchant_id", Varchar, varchar(64, index=True)),
            ("channel", Varchar, varchar(32)),
            ("ciphertext", Text, _params("")),
            ("updated_at", Timestamptz, now),
        ],
        ("DecisionLog", "decision_log"): [
            ("decision_id", Varchar, varchar(64, unique=True)),
            ("merchant_id", Varchar, varchar(64, index=True)),
            ("facts", JSON, _params("{}")),
            ("decision", JSON, _params("{}")),
            ("policy_name", Varchar, varchar(100)),
            ("policy_version", Varchar, varchar(32)),
            ("policy_sha256", Varchar, varchar(64)),
            ("rule_id", Varchar, varchar(100)),
            ("created_at", Timestamptz, now),
        ],
    }
    for (class_name, tablename), columns in tables.items():
        manager.add_table(class_name=class_name, tablename=tablename, schema=None, columns=None)
        for name, column_class, params in columns:
            _column(manager, class_name, tablename, name, column_class, params)
    return manager
