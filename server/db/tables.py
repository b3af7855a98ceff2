"""Piccolo tables, bound to one engine per app.

The classes are made by a function rather than at module level so that each
app (and each test database) gets tables bound to its own engine, with no
global engine chosen at import time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from piccolo.columns import JSON, Text, Timestamptz, Varchar
from piccolo.engine.base import Engine
from piccolo.table import Table


@dataclass(frozen=True)
class Tables:
    """The table classes of one database.

    Typed `Any` because the classes are made at run time: mypy cannot see
    their columns (`Merchant.merchant_id`, ...), and piccolo's queries are
    checked by the tests on both backends instead.
    """

    merchant: Any
    channel_credential: Any
    decision_log: Any
    schema_migration: Any
    console_session: Any
    console_oauth_state: Any
    shadow_divergence: Any
    service_state: Any
    pending_connection: Any


def build_tables(engine: Engine) -> Tables:
    """Table classes whose queries run on `engine`."""

    class Merchant(Table, db=engine, tablename="merchant"):
        merchant_id = Varchar(length=64, unique=True, index=True)
        name = Varchar(length=200)
        api_key_hash = Varchar(length=64, unique=True, index=True)
        settings = JSON(default="{}")
        created_at = Timestamptz()

    class ChannelCredential(Table, db=engine, tablename="channel_credential"):
        credential_key = Varchar(length=100, unique=True)
        merchant_id = Varchar(length=64, index=True)
        channel = Varchar(length=32)
        ciphertext = Text()
        updated_at = Timestamptz()

    class DecisionLog(Table, db=engine, tablename="decision_log"):
        decision_id = Varchar(length=64, unique=True)
        merchant_id = Varchar(length=64, index=True)
        facts = JSON(default="{}")
        decision = JSON(default="{}")
        policy_name = Varchar(length=100)
        policy_version = Varchar(length=32)
        policy_sha256 = Varchar(length=64)
        rule_id = Varchar(length=100)
        created_at = Timestamptz()

    class SchemaMigration(Table, db=engine, tablename="channel_router_migration"):
        migration_id = Varchar(length=100, unique=True)
        applied_at = Timestamptz()

    class ConsoleSession(Table, db=engine, tablename="console_session"):
        session_key = Varchar(length=64, unique=True)  # sha256 of the cookie's session id
        data = Text()
        expires_at = Timestamptz(index=True)

    class ConsoleOauthState(Table, db=engine, tablename="console_oauth_state"):
        state_key = Varchar(length=64, unique=True)  # sha256 of the OAuth `state`
        session_key = Varchar(length=64)
        merchant_id = Varchar(length=64)
        channel = Varchar(length=32)
        data = Text()
        expires_at = Timestamptz(index=True)

    class ShadowDivergence(Table, db=engine, tablename="policy_shadow_divergence"):
        decision_id = Varchar(length=64)
        merchant_id = Varchar(length=64, index=True)
        policy_name = Varchar(length=100, index=True)
        policy_version = Varchar(length=32)
        shadow_version = Varchar(length=32)
        shadow_sha256 = Varchar(length=64)
        rule_id = Varchar(length=100)
        shadow_rule_id = Varchar(length=100)
        outcome = JSON(default="{}")
        shadow_outcome = JSON(default="{}")
        request = JSON(default="{}")
        created_at = Timestamptz(index=True)

    class ServiceState(Table, db=engine, tablename="service_state"):
        name = Varchar(length=64, unique=True)
        value = Text()
        updated_at = Timestamptz()

    class PendingConnection(Table, db=engine, tablename="pending_connection"):
        """A channel account being connected: written before the code is exchanged."""

        connection_key = Varchar(length=100, unique=True)
        merchant_id = Varchar(length=64)
        channel = Varchar(length=32)
        started_at = Timestamptz()

    return Tables(
        merchant=Merchant,
        channel_credential=ChannelCredential,
        decision_log=DecisionLog,
        schema_migration=SchemaMigration,
        console_session=ConsoleSession,
        console_oauth_state=ConsoleOauthState,
        shadow_divergence=ShadowDivergence,
        service_state=ServiceState,
        pending_connection=PendingConnection,
    )
