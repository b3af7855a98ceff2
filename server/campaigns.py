"""Campaigns as the API and the console make them: execute a decision, cancel, show.

`server/` validates, persists and enqueues; the worker (`execution`) does the rest. One
`execute` is: decide exactly as /v1/decide does (and log the decision), turn the decision
into a new campaign (one listing per external channel it allocates to, each under its
deterministic SKU), store it under the merchant's `Idempotency-Key`, and queue its start
and its deferred end. The same key and body give back the campaign made the first time;
the same key and another body, or a chosen `campaign_id` that another key made, are 409.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from engine.types import Decision
from execution import queue
from execution.drift_check import drift_entries
from execution.sku import campaign_sku
from execution.states import EndRequested, IllegalTransition, new_campaign
from execution.store import (
    CampaignIdTaken,
    CampaignMissing,
    CampaignRecord,
    IdempotencyConflict,
    TimelineEntry,
)
from server.api.types import (
    MAX_CAMPAIGN_DAYS,
    Campaign,
    CampaignDrift,
    CampaignEnd,
    CampaignEvent,
    CampaignListing,
    CampaignStock,
    CampaignStorePrice,
    ExecuteRequest,
)
from server.db.decision_log import log_row
from server.errors import Conflict, InvalidFields, InvalidInput, NotFound, Unavailable
from server.services import Services

log = logging.getLogger(__name__)

QUEUE_RETRY_SECONDS = 5
_canonical = msgspec.json.Encoder(order="sorted")


def body_sha256(request: ExecuteRequest) -> str:
    """The hash an Idempotency-Key is bound to: of the decoded body re-encoded with sorted
    keys and `ends_at` in UTC, so whitespace, key order or an offset spelled another way
    do not make a different body."""
    if request.ends_at is not None:
        request = msgspec.structs.replace(request, ends_at=in_utc(request.ends_at))
    return hashlib.sha256(_canonical.encode(request)).hexdigest()


def in_utc(ends_at: datetime) -> datetime:
    """`ends_at` in UTC; InvalidInput (422) for a time that has no UTC form (year 0 or
    10000 once its offset is taken off)."""
    try:
        return ends_at.astimezone(UTC)
    except OverflowError:
        raise InvalidInput("ends_at is out of range", "ends_at") from None


def generated_campaign_id(merchant_id: str, idempotency_key: str) -> str:
    """The id of a campaign whose request named none: derived from the merchant and key, so
    every retry of one request names the same campaign (and the same SKUs)."""
    digest = hashlib.sha256(f"{merchant_id}\x00{idempotency_key}".encode()).hexdigest()
    return f"cmp-{digest[:24]}"


MAX_STORE_ID = 64  # as the store price change keeps them


def store_id_problems(product_id: str, variant_id: str | None) -> None:
    """InvalidFields (422) unless both store ids are there and at most MAX_STORE_ID long: a
    campaign changes the price of one variant of one product, so it needs both (a decision
    does not)."""
    problems = []
    for name, value in (("product.product_id", product_id), ("product.variant_id", variant_id)):
        if not value:
            problems.append((name, "required for a campaign: the store variant it reprices"))
        elif len(value) > MAX_STORE_ID:
            problems.append((name, f"at most {MAX_STORE_ID} characters for a campaign"))
    if problems:
        raise InvalidFields(f"{len(problems)} invalid field(s) for a campaign", problems)


def now_utc(svc: Services) -> datetime:
    """Now, from the service's clock (tests inject one)."""
    return datetime.fromtimestamp(svc.config.clock(), UTC)


def campaign_end(request: ExecuteRequest, now: datetime) -> datetime:
    """`ends_at` if given, else now + `proposal.duration_hours`; InvalidInput (422) unless
    it is in the future and at most MAX_CAMPAIGN_DAYS ahead."""
    latest = now + timedelta(days=MAX_CAMPAIGN_DAYS)
    if request.ends_at is None:
        ends_at = now + timedelta(hours=request.proposal.duration_hours)
        if ends_at > latest:
            raise InvalidInput(
                f"a campaign runs at most {MAX_CAMPAIGN_DAYS} days "
                f"({MAX_CAMPAIGN_DAYS * 24} hours); give a shorter duration or an ends_at",
                "proposal.duration_hours",
            )
        return ends_at
    ends_at = in_utc(request.ends_at)
    if ends_at <= now:
        raise InvalidInput("ends_at must be in the future", "ends_at")
    if ends_at > latest:
        raise InvalidInput(f"ends_at must be at most {MAX_CAMPAIGN_DAYS} days ahead", "ends_at")
    return ends_at


def _queue(svc: Services) -> Any:
    """The arq pool; Unavailable (503) when the service has no Redis."""
    if svc.arq is None:
        raise Unavailable(
            "campaigns need the job queue: set CHANNEL_ROUTER_REDIS_URL",
            retry_after=QUEUE_RETRY_SECONDS,
        )
    return svc.arq


async def execute(
    svc: Services, request: ExecuteRequest, idempotency_key: str, body_sha256: str
) -> tuple[CampaignRecord, bool]:
    """The campaign for this request and key, and whether this call made it.

    A replay (same key, same body) gives back the stored campaign without deciding again;
    another body under the key raises Conflict. A new campaign is queued (start now, end
    at `ends_at`); so is a replayed one still `pending`, in case the first call stored it
    and could not reach Redis: the job ids are deterministic, so arq keeps one of each."""
    pool = _queue(svc)
    merchant_id = request.merchant_id
    store = svc.campaigns
    used = await store.key_use(merchant_id, idempotency_key)
    if used is not None:
        if used[0] != body_sha256:
            raise Conflict("this Idempotency-Key was used with another request body")
        record = await store.get(used[1])
        if record is not None:
            await _enqueue_if_pending(svc, pool, record, created=False)
            return record, False
    product = request.product
    variant_id = product.variant_id
    store_id_problems(product.product_id, variant_id)
    assert variant_id is not None
    now = now_utc(svc)
    ends_at = campaign_end(request, now)
    campaign_id = request.campaign_id or generated_campaign_id(merchant_id, idempotency_key)
    if request.campaign_id is not None and used is None:
        taken = await store.get(campaign_id)
        if taken is not None:
            raise Conflict(f"campaign {campaign_id!r} exists, made with another Idempotency-Key")
    decide_request = request.decide_request()
    settings = await svc.merchants.settings(merchant_id)
    engine = svc.policies.engine
    decision = engine.decide(decide_request, settings)
    decisions = svc.decision_log
    await decisions.record_rows(
        [log_row(decide_request, decision, decisions.created_at(), settings)]
    )
    svc.metrics.count_decision(decision)
    if engine.shadowing:
        await svc.shadow.observe(engine, (decide_request,), (decision,), {merchant_id: settings})
    allocations = {a.channel: a.allocated_units for a in decision.external_channels}
    state = new_campaign(request.proposal.proposed_price, ends_at, allocations)
    skus = {
        channel: campaign_sku(merchant_id, campaign_id, channel, variant_id)
        for channel in allocations
    }
    try:
        record, created = await store.create(
            campaign_id=campaign_id,
            merchant_id=merchant_id,
            idempotency_key=idempotency_key,
            body_sha256=body_sha256,
            request=msgspec.to_builtins(decide_request),
            decision=msgspec.to_builtins(decision),
            state=state,
            skus=skus,
            product_id=product.product_id,
            variant_id=variant_id,
        )
    except (IdempotencyConflict, CampaignIdTaken) as exc:
        raise Conflict(str(exc)) from None
    except CampaignMissing:  # the key names a campaign no longer in the database
        raise Conflict("this Idempotency-Key was used for a campaign that is gone") from None
    await _enqueue_if_pending(svc, pool, record, created=created)
    return record, created


async def _enqueue_if_pending(
    svc: Services, pool: Any, record: CampaignRecord, *, created: bool
) -> None:
    if not created and (record.state.status != "pending" or record.state.end is not None):
        return  # started (or ended) already: its jobs were queued
    try:
        await queue.enqueue_campaign(
            pool, svc.config.redis_prefix, record.campaign_id, record.state.ends_at
        )
    except Exception as exc:  # Redis away: the campaign is stored, a retry queues it
        log.warning(
            "campaign %s stored but not queued (%s)", record.campaign_id, type(exc).__name__
        )
        raise Unavailable(
            "the campaign is stored but the job queue (Redis) did not answer; "
            "send the same request with the same Idempotency-Key again to start it",
            retry_after=QUEUE_RETRY_SECONDS,
        ) from None


async def cancel_campaign(svc: Services, campaign_id: str, at: datetime) -> CampaignRecord:
    """End the campaign now: the end is recorded, then queued to run at once. A campaign
    already final is answered unchanged. Should Redis miss the job, the worker's sweep
    still ends it from the database (it ends every campaign whose end was requested)."""
    pool = _queue(svc)
    store = svc.campaigns
    try:
        record = await store.require(campaign_id)
        if record.state.final:
            return record
        record = await store.apply(campaign_id, EndRequested(reason="cancelled", at=at))
    except CampaignMissing:
        raise NotFound(f"campaign {campaign_id!r} not found") from None
    except IllegalTransition:  # it became final in between
        return await store.require(campaign_id)
    try:
        await queue.enqueue_end_now(pool, svc.config.redis_prefix, campaign_id)
    except Exception as exc:
        log.warning(
            "campaign %s: end requested, not queued (%s); the worker's sweep ends it",
            campaign_id,
            type(exc).__name__,
        )
    return record


def campaign_view(
    record: CampaignRecord,
    timeline: list[TimelineEntry],
    stock: CampaignStock | None = None,
) -> Campaign:
    """The Campaign the API answers (CONTRACT §4), with `events` and `drift` from `timeline`
    and `stock` as `server.campaign_stock.campaign_stock` reads it.

    `original_price` is the store price read before the change; until the store step ran,
    the `current_price` the request gave (null if it gave none)."""
    state = record.state
    store = state.store
    original = store.price_before
    if original is None:
        original = (record.request.get("product") or {}).get("current_price")
    end = None
    if state.end is not None:
        end = CampaignEnd(
            reason=state.end.reason,
            requested_at=state.end.requested_at,
            verified_at=state.end.verified_at,
            outstanding=state.outstanding() if not state.final else [],
        )
    return Campaign(
        campaign_id=record.campaign_id,
        merchant_id=record.merchant_id,
        status=state.status,
        original_price=original,
        clearance_price=state.clearance_price,
        ends_at=state.ends_at,
        decision=msgspec.convert(record.decision, Decision),
        store=CampaignStorePrice(
            status=store.status, price_before=store.price_before, error=store.error
        ),
        listings=[
            CampaignListing(
                channel=item.channel,
                sku=record.skus.get(item.channel, ""),
                external_listing_id=item.external_listing_id,
                status=item.status,
                allocated_units=item.allocated_units,
                units_sold=item.units_sold,
                error=item.error,
            )
            for item in state.listings
        ],
        end=end,
        events=[
            CampaignEvent(
                at=entry.at,
                step=entry.step,
                outcome=entry.outcome,
                attempt=entry.attempt,
                channel=entry.channel,
                call=entry.call,
                detail=entry.detail,
            )
            for entry in timeline
        ],
        created_at=record.created_at,
        updated_at=record.updated_at,
        stock=stock,
        drift=[
            CampaignDrift(at=e.at, kind=e.kind, channel=e.channel, detail=e.detail)
            for e in drift_entries(timeline)
        ],
    )
