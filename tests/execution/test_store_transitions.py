"""The campaign store applies the state machine all or nothing, under concurrent writers, on
SQLite and PostgreSQL: an illegal event leaves the stored campaign exactly as it was, and two
jobs racing to record the same step record it once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from execution.states import (
    IllegalTransition,
    ListingAttempted,
    ListingCreated,
    PriceSet,
    new_campaign,
)
from execution.store import CampaignRecord, CampaignStore
from server.db.connection import make_engine, migrate
from server.db.tables import build_tables
from tests.server.conftest import database_url, postgres_url

__all__ = ["database_url", "postgres_url"]  # fixtures of both backends, as the server tests'

T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def _store(database_url: str) -> CampaignStore:
    engine = make_engine(database_url)
    tables = build_tables(engine)
    await migrate(engine, tables)
    return CampaignStore(tables)


async def _campaign(store: CampaignStore) -> CampaignRecord:
    record, created = await store.create(
        campaign_id="cmp-1",
        merchant_id="acme",
        idempotency_key="k1",
        body_sha256="0" * 64,
        request={"product": {"product_id": "8812", "variant_id": "4410"}},
        decision={"decision_id": "d1"},
        state=new_campaign("19.99", T0 + timedelta(days=7), {"ebay": 21, "amazon": 21}),
        skus={"ebay": "cr-4410-aa", "amazon": "cr-4410-bb"},
        product_id="8812",
        variant_id="4410",
    )
    assert created
    return record


async def test_an_illegal_event_after_a_legal_one_writes_neither(database_url: str) -> None:
    store = await _store(database_url)
    before = await _campaign(store)

    with pytest.raises(IllegalTransition):
        # The price step is fine, the listing of a channel the campaign does not have is not.
        await store.apply(
            "cmp-1",
            PriceSet(price_before="49.99", at=T0),
            ListingAttempted(channel="walmart", at=T0),
        )

    after = await store.require("cmp-1")
    assert after.state == before.state and after.version == before.version


async def test_racing_jobs_record_one_step_once_and_different_steps_both(
    database_url: str,
) -> None:
    store = await _store(database_url)
    await _campaign(store)

    outcomes = await asyncio.gather(
        *(store.apply("cmp-1", PriceSet(price_before="49.99", at=T0)) for _ in range(4)),
        return_exceptions=True,
    )
    won = [o for o in outcomes if isinstance(o, CampaignRecord)]
    refused = [o for o in outcomes if isinstance(o, IllegalTransition)]
    assert len(won) + len(refused) == 4 and refused, outcomes  # not all four wrote it
    record = await store.require("cmp-1")
    assert record.state.store.status == "applied" and record.state.status == "executing"

    await asyncio.gather(
        *(store.apply("cmp-1", ListingAttempted(channel=c, at=T0)) for c in ("ebay", "amazon"))
    )
    await asyncio.gather(
        *(
            store.apply(
                "cmp-1", ListingCreated(channel=c, external_listing_id=f"{c}-1", live=True, at=T0)
            )
            for c in ("ebay", "amazon")
        )
    )
    record = await store.require("cmp-1")
    assert record.state.status == "active"
    assert {i.channel: i.external_listing_id for i in record.state.listings} == {
        "ebay": "ebay-1",
        "amazon": "amazon-1",
    }
