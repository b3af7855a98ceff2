"""Campaigns for the console tests, made as the service makes them: the decision from the
real /v1/decide, then `CampaignStore.create` and `CampaignStore.apply` with the events of
`execution/states.py` (what the worker's jobs record), on the site's own database through
an engine of the test's own."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from piccolo.engine.base import Engine
from piccolo.engine.sqlite import SQLiteEngine

from execution.queue import job_id
from execution.sku import campaign_sku
from execution.states import (
    EndRequested,
    EndVerified,
    Event,
    ListingAttempted,
    ListingCreated,
    ListingFailed,
    ListingWithdrawn,
    PriceReverted,
    PriceSet,
    new_campaign,
)
from execution.store import CampaignRecord, CampaignStore, Outcome
from server.db.connection import make_engine, sqlite_path
from server.db.tables import build_tables
from tests.console.conftest import Site, run_apart

T = TypeVar("T")
START = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
ARQ_JOB_PREFIX = "arq:job:"  # arq.constants.job_key_prefix


def _engine(url: str) -> Engine:
    """An engine of the test's own. Not `make_engine` for SQLite: its `create_private_file`
    opens and closes the database file, and in this process (the one the service runs in)
    closing any descriptor of the file drops the service's SQLite locks (POSIX locks belong
    to the process), so a worker process would take the database for unused and reset its
    WAL index under the service ("disk I/O error")."""
    if url.startswith("sqlite:"):
        return SQLiteEngine(path=str(sqlite_path(url)), log_queries=False, timeout=5)
    return make_engine(url)


def _store(site: Site, clock: Callable[[], datetime] | None = None) -> CampaignStore:
    tables = build_tables(_engine(site.config.database_url))
    return CampaignStore(tables, clock=clock) if clock else CampaignStore(tables)


def on_db(site: Site, work: Callable[[CampaignStore], Coroutine[Any, Any, T]], **kw: Any) -> T:
    """Run `work(store)` on the site's database, on a loop of its own."""
    return run_apart(work(_store(site, **kw)))


def decide(site: Site, key: str, merchant_id: str, **product: Any) -> dict[str, Any]:
    """A real decision for a product (dead stock by default: external channels get units)."""
    body = {
        "merchant_id": merchant_id,
        "product": {
            "product_id": "8812",
            "variant_id": "4410",
            "title": "Linen shirt",
            "category": "Apparel",
            "stock_quantity": 60,
            "days_since_last_sale": 45,
            "current_price": "49.99",
            **product,
        },
        "proposal": {"proposed_price": "19.99", "duration_hours": 168},
    }
    answer = site.api.post("/v1/decide", json=body, headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 200, answer.text
    decision: dict[str, Any] = answer.json()
    return {"request": body, "decision": decision}


def create(
    site: Site,
    key: str,
    merchant_id: str,
    *,
    created_at: datetime | None = None,
    campaign_id: str | None = None,
    events: tuple[Event, ...] = (),
    **product: Any,
) -> CampaignRecord:
    """A stored campaign (status `pending`), then `events` applied to it in order."""
    made = decide(site, key, merchant_id, **product)
    decision, request = made["decision"], made["request"]
    campaign_id = campaign_id or f"cmp-{secrets.token_hex(6)}"
    allocations = {a["channel"]: a["allocated_units"] for a in decision["external_channels"]}
    state = new_campaign("19.99", (created_at or START) + timedelta(days=7), allocations)
    product_ids = request["product"]
    skus = {
        c: campaign_sku(merchant_id, campaign_id, c, product_ids["variant_id"]) for c in allocations
    }
    at = created_at or datetime.now(UTC)

    async def work(store: CampaignStore) -> CampaignRecord:
        record, created = await store.create(
            campaign_id=campaign_id,
            merchant_id=merchant_id,
            idempotency_key=f"key-{campaign_id}",
            body_sha256=hashlib.sha256(campaign_id.encode()).hexdigest(),
            request=request,
            decision=decision,
            state=state,
            skus=skus,
            product_id=product_ids["product_id"],
            variant_id=product_ids["variant_id"],
        )
        assert created
        if events:
            record = await store.apply(campaign_id, *events)
        return record

    return on_db(site, work, clock=lambda: at)


def running_events(channels: list[str], at: datetime) -> tuple[Event, ...]:
    """Store price set, and every listing live: an `active` campaign."""
    events: list[Event] = [PriceSet(price_before="49.99", at=at)]
    for i, channel in enumerate(channels):
        events.append(ListingAttempted(channel=channel, at=at))
        events.append(
            ListingCreated(
                channel=channel, external_listing_id=f"L-{i}-{channel}", live=True, at=at
            )
        )
    return tuple(events)


def failed_listing_events(channel: str, error: str, at: datetime) -> tuple[Event, ...]:
    return (
        ListingAttempted(channel=channel, at=at),
        ListingFailed(channel=channel, error=error, rejected=True, at=at),
    )


def finish_end(site: Site, campaign_id: str, channels: list[str]) -> CampaignRecord:
    """What the worker's end job records: price back, listings seen ended, end verified."""
    at = datetime.now(UTC)
    events: list[Event] = [PriceReverted(at=at)]
    events += [ListingWithdrawn(channel=c, units_sold=0, at=at) for c in channels]
    events.append(EndVerified(at=at))

    async def work(store: CampaignStore) -> CampaignRecord:
        return await store.apply(campaign_id, *events)

    return on_db(site, work)


def request_end(site: Site, campaign_id: str) -> CampaignRecord:
    async def work(store: CampaignStore) -> CampaignRecord:
        return await store.apply(
            campaign_id, EndRequested(reason="scheduled", at=datetime.now(UTC))
        )

    return on_db(site, work)


def timeline(
    site: Site, campaign_id: str, rows: list[tuple[str, Outcome, str | None, int, str | None]]
) -> None:
    """Timeline rows (step, outcome, channel, attempt, detail), recorded in order."""

    async def work(store: CampaignStore) -> None:
        for step, outcome, channel, attempt, detail in rows:
            await store.record_event(
                campaign_id, step, outcome, channel=channel, attempt=attempt, detail=detail
            )

    on_db(site, work)


def get(site: Site, campaign_id: str) -> CampaignRecord:
    async def work(store: CampaignStore) -> CampaignRecord:
        return await store.require(campaign_id)

    return on_db(site, work)


def end_job_queued(site: Site, campaign_id: str) -> bool:
    """The cancel's end-now job is on the site's arq queue (in its Redis)."""
    import redis

    assert site.config.redis_url is not None
    client = redis.Redis.from_url(site.config.redis_url)
    try:
        job = job_id(campaign_id, "end-now", prefix=site.config.redis_prefix)
        return bool(client.exists(ARQ_JOB_PREFIX + job))
    finally:
        client.close()
