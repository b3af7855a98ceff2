"""Piccolo tables, bound to one engine per app.

The classes are made by a function rather than at module level so that each
app (and each test database) gets tables bound to its own engine, with no
global engine chosen at import time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from piccolo.columns import JSON, Integer, Text, Timestamptz, Varchar
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
    campaign: Any
    campaign_listing: Any
    store_price_change: Any
    synced_sale: Any
    idempotency_key: Any
    campaign_event: Any
    inventory_move: Any


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

    class Campaign(Table, db=engine, tablename="campaign"):
        """One executed decision. `version` grows with every write (compare-and-set)."""

        campaign_id = Varchar(length=64, unique=True)
        merchant_id = Varchar(length=64, index=True)
        status = Varchar(length=16, index=True)
        decision_id = Varchar(length=64)
        decision = JSON(default="{}")
        request = JSON(default="{}")  # the DecideRequest executed (product ids, title, ...)
        clearance_price = Varchar(length=16)
        ends_at = Timestamptz(index=True)
        end_reason = Varchar(length=16, null=True, default=None)
        end_requested_at = Timestamptz(null=True, default=None)
        end_verified_at = Timestamptz(null=True, default=None)
        version = Integer(default=0)
        created_at = Timestamptz(index=True)
        updated_at = Timestamptz()

    class CampaignListing(Table, db=engine, tablename="campaign_listing"):
        """One listing per campaign and channel."""

        listing_key = Varchar(length=100, unique=True)  # campaign_id:channel
        campaign_id = Varchar(length=64, index=True)
        channel = Varchar(length=32)
        sku = Varchar(length=50)
        external_listing_id = Varchar(length=100, null=True, default=None)
        status = Varchar(length=16)
        allocated_units = Integer(default=0)
        units_sold = Integer(default=0)
        attempted = Integer(default=0)  # 0/1: a create call was made
        verified_ended = Integer(default=0)  # 0/1: seen ended on the marketplace
        last_error = Text(null=True, default=None)
        updated_at = Timestamptz()

    class StorePriceChange(Table, db=engine, tablename="store_price_change"):
        """The store price a campaign set, and what it was before."""

        campaign_id = Varchar(length=64, unique=True)
        merchant_id = Varchar(length=64, index=True)
        product_id = Varchar(length=64)
        variant_id = Varchar(length=64)
        status = Varchar(length=16)
        price_before = Varchar(length=16, null=True, default=None)
        clearance_price = Varchar(length=16)
        last_error = Text(null=True, default=None)
        set_at = Timestamptz(null=True, default=None)
        reverted_at = Timestamptz(null=True, default=None)

    class SyncedSale(Table, db=engine, tablename="synced_sale"):
        """A marketplace order line, counted once however often sales are synced."""

        sale_key = Varchar(length=200, unique=True)  # channel:order_id:sku
        campaign_id = Varchar(length=64, index=True)
        merchant_id = Varchar(length=64, index=True)
        channel = Varchar(length=32)
        order_id = Varchar(length=100)
        sku = Varchar(length=50)
        units = Integer(default=0)
        revenue = Varchar(length=20)
        currency = Varchar(length=3)
        sold_at = Timestamptz()

    class IdempotencyKey(Table, db=engine, tablename="idempotency_key"):
        """An `Idempotency-Key` of /v1/execute: the same key and body give the same campaign."""

        key_id = Varchar(length=300, unique=True)  # merchant_id:key
        merchant_id = Varchar(length=64, index=True)
        body_sha256 = Varchar(length=64)
        campaign_id = Varchar(length=64)
        created_at = Timestamptz(index=True)

    class CampaignEvent(Table, db=engine, tablename="campaign_event"):
        """The campaign's timeline: one row per step and attempt (never a secret)."""

        campaign_id = Varchar(length=64, index=True)
        step = Varchar(length=32)
        channel = Varchar(length=32, null=True, default=None)
        attempt = Integer(default=1)
        call = Text(default="")
        outcome = Varchar(length=16)
        detail = Text(null=True, default=None)
        created_at = Timestamptz(index=True)

    class InventoryMove(Table, db=engine, tablename="inventory_move"):
        """One move of a campaign's held units on the store (execution.holds): recorded with
        the level read before it, before the call is made, so a retry can tell whether it was
        made. `lock_key` names the inventory item and location moves are serialized on."""

        move_id = Varchar(length=200, unique=True)  # campaign_id:move_key
        campaign_id = Varchar(length=64, index=True)
        merchant_id = Varchar(length=64, index=True)
        move_key = Varchar(length=100)
        step = Varchar(length=16)  # hold, release, sold
        status = Varchar(length=16)  # execution.hold_plan.MoveStatus
        lock_key = Varchar(length=300, index=True)
        inventory_item_id = Varchar(length=100)
        location_id = Varchar(length=100)
        ledger_document_uri = Varchar(length=200)
        quantity = Integer(default=0)
        units = JSON(default="{}")  # per channel
        reported_sold = JSON(default="{}")  # "sold" moves: the channel's total as reported
        level_before = JSON(default="{}")
        level_after = JSON(default="{}")
        reason = Text(null=True, default=None)
        adjustment_group_id = Varchar(length=100, null=True, default=None)
        attempts = Integer(default=0)
        created_at = Timestamptz(index=True)
        updated_at = Timestamptz()

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
        campaign=Campaign,
        campaign_listing=CampaignListing,
        store_price_change=StorePriceChange,
        synced_sale=SyncedSale,
        idempotency_key=IdempotencyKey,
        campaign_event=CampaignEvent,
        inventory_move=InventoryMove,
    )
