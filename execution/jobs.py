"""The campaign jobs the worker runs: start (store price, then one listing job per channel),
list on one channel, and the verified end (docs/execution.md, "Jobs and the worker").

Each job reads the campaign, makes its calls, and records what it saw through
`CampaignStore.apply` (the pure state machine decides what is allowed), so a job that runs
twice, late, or beside another worker changes nothing the first run did. Each step is one
function (`set_store_price`, `create_listing`, `revert_store_price`, `withdraw_listing`) so
that later steps (inventory holds) slot in beside them.

Failures: a transient one (timeout, 5xx, 429) retries the job through arq's `Retry`, deferred
by the backoff or the marketplace's Retry-After; after the last try, or at once for a
permanent one, the step fails with the marketplace's message. The end never gives up: after
its last try the sweeper cron takes it up again, and until the store price is back and every
listing is seen ended the campaign stays open with `outstanding` naming what is left.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
from collections.abc import Awaitable, Callable, Coroutine
from decimal import Decimal
from typing import Any

import msgspec
from arq import Retry

from connectors.base import ListingRequest, ListingState
from connectors.errors import ChannelError
from execution import queue, schedule_lock, stock_steps
from execution.calls import CallFailed, Job
from execution.states import (
    EndRequested,
    EndVerified,
    IllegalTransition,
    ListingAttempted,
    ListingCreated,
    ListingFailed,
    ListingWithdrawn,
    PriceAttempted,
    PriceFailed,
    PriceKept,
    PriceReverted,
    PriceSet,
)
from execution.store import CampaignRecord

log = logging.getLogger(__name__)

JobFn = Callable[..., Coroutine[Any, Any, str]]


def guarded(fn: JobFn) -> JobFn:
    """Keep a job inside its time budget and never let it die silently: running out of
    time, or an unexpected error (a database that blinked), retries the job with backoff;
    only after the last try does the error reach arq's log."""

    @functools.wraps(fn)
    async def run(ctx: dict[str, Any], campaign_id: str, *args: Any) -> str:
        job = Job.of(ctx, campaign_id)
        try:
            async with asyncio.timeout(job.rt.config.step_budget_seconds):
                return await fn(ctx, campaign_id, *args)
        except Retry:
            raise
        except TimeoutError:
            detail = f"no answer within {job.rt.config.step_budget_seconds:g} s"
            await _quietly(job.note(fn.__name__, "retry", detail=detail))
            if job.last_try:
                raise
            raise job.retry() from None
        except Exception as exc:
            log.exception("%s(%s) try %d failed", fn.__name__, campaign_id, job.attempt)
            if job.last_try:
                raise
            raise job.retry() from exc

    return run


async def _quietly(step: Awaitable[None]) -> None:
    try:
        await step
    except Exception as exc:  # the timeline row is a courtesy; the retry matters
        log.warning("could not write a timeline row: %s", type(exc).__name__)


# --- start ------------------------------------------------------------------------------


@guarded
async def start_campaign(ctx: dict[str, Any], campaign_id: str) -> str:
    """The store price first; then one listing job per channel (they run in parallel)."""
    job = Job.of(ctx, campaign_id)
    record = await job.rt.campaigns.get(campaign_id)
    if record is None:
        return "no such campaign"
    if record.state.final or record.state.store.status not in ("pending", "setting", "applied"):
        return f"nothing to start ({record.state.status}, store {record.state.store.status})"
    if record.state.store.status in ("pending", "setting"):
        record = await set_store_price(job, record)
    if record.state.store.status != "applied":
        return f"store price {record.state.store.status}"
    await hold_stock(job, record)
    await enqueue_listings(ctx, job, record)
    return "started"


async def hold_stock(job: Job, record: CampaignRecord) -> None:
    """Hold the external units off the store before anything is listed (execution.stock_steps);
    a campaign that ended meanwhile gives them straight back."""
    rt = job.rt
    if rt.holds is None or record.state.end is not None:
        return
    await stock_steps.hold_units(rt, rt.holds, rt.campaigns, record)
    fresh = await rt.campaigns.require(job.campaign_id)
    if fresh.state.end is not None:
        await stock_steps.release_units(rt, rt.holds, rt.campaigns, fresh)


async def set_store_price(job: Job, record: CampaignRecord) -> CampaignRecord:
    """Read and keep the price before (PriceAttempted), set the clearance price (PriceSet);
    PriceFailed when the store refuses. A re-run after a crash keeps the first price before
    (it would otherwise read the clearance price it set itself)."""
    rt, state = job.rt, record.state
    clearance = Decimal(state.clearance_price)
    try:
        platform = await rt.store_platform(record.merchant_id)
        connector = rt.store_connector(platform)
        async with rt.account(record.merchant_id, platform) as account:
            if state.store.status == "setting" and state.store.price_before is not None:
                before = Decimal(state.store.price_before)
            else:
                before = await job.call(
                    "store-price",
                    f"{platform} read_price",
                    lambda: connector.read_price(account, record.product_id, record.variant_id),
                    ok_detail=lambda price: f"price before {price}",
                )
                try:
                    record = await rt.campaigns.apply(
                        job.campaign_id,
                        PriceAttempted(price_before=format(before, "f"), at=rt.clock()),
                    )
                except IllegalTransition as exc:  # the end came first: leave the price
                    await job.note("store-price", "skipped", detail=str(exc))
                    return await rt.campaigns.require(job.campaign_id)
            await job.call(
                "store-price",
                f"{platform} update_price",
                lambda: connector.update_price(
                    account, record.product_id, record.variant_id, clearance
                ),
                ok_detail=lambda _: f"{before} -> {clearance}",
            )
    except (CallFailed, ChannelError) as exc:
        failure = await job.failure("store-price", exc)
        if failure.transient:
            raise job.retry(failure) from None
        return await _apply_or_keep(job, record, PriceFailed(error=failure.message, at=rt.clock()))
    try:
        return await rt.campaigns.apply(
            job.campaign_id, PriceSet(price_before=format(before, "f"), at=rt.clock())
        )
    except IllegalTransition as exc:
        # The campaign closed while the price was being set: put the price back now.
        await job.note("store-price", "info", detail=f"ended meanwhile ({exc}); reverting")
        async with rt.account(record.merchant_id, platform) as account:
            await job.call(
                "store-price",
                f"{platform} update_price",
                lambda: connector.update_price(
                    account, record.product_id, record.variant_id, before
                ),
                ok_detail=lambda _: f"reverted to {before}",
            )
        return await rt.campaigns.require(job.campaign_id)


async def _apply_or_keep(job: Job, record: CampaignRecord, event: Any) -> CampaignRecord:
    try:
        return await job.rt.campaigns.apply(job.campaign_id, event)
    except IllegalTransition:
        return await job.rt.campaigns.require(job.campaign_id)


async def enqueue_listings(ctx: dict[str, Any], job: Job, record: CampaignRecord) -> None:
    """One list job per pending listing, under its deterministic id (enqueued once)."""
    redis = ctx["redis"]
    for item in record.state.listings:
        if item.status != "pending":
            continue
        await redis.enqueue_job(
            queue.LIST_JOB,
            job.campaign_id,
            item.channel,
            _job_id=queue.job_id(job.campaign_id, "list", item.channel, prefix=job.rt.redis_prefix),
            _queue_name=job.rt.queue_name,
        )


# --- list --------------------------------------------------------------------------------


@guarded
async def list_on_channel(ctx: dict[str, Any], campaign_id: str, channel: str) -> str:
    """Create (or update, under the campaign's SKU) the listing on one marketplace."""
    job = Job.of(ctx, campaign_id)
    record = await job.rt.campaigns.get(campaign_id)
    if record is None:
        return "no such campaign"
    item = record.state.listing(channel)
    if record.state.final or item.status != "pending":
        return f"nothing to list ({item.status})"
    if (
        job.rt.holds is not None
        and await stock_steps.held_for(job.rt.holds, campaign_id, channel) == 0
    ):  # the store had no unit left for this channel: nothing to offer
        error = "not listed: the store had no units left to hold for this channel"
        await _apply_or_keep(
            job,
            record,
            ListingFailed(channel=channel, error=error, rejected=False, at=job.rt.clock()),
        )
        await job.note("list", "skipped", channel=channel, detail=error)
        return "nothing held"
    try:
        record = await job.rt.campaigns.apply(
            campaign_id, ListingAttempted(channel=channel, at=job.rt.clock())
        )
    except IllegalTransition as exc:
        await job.note("list", "skipped", channel=channel, detail=str(exc))
        return "skipped"
    return await create_listing(job, record, channel)


def listing_request(record: CampaignRecord, channel: str) -> ListingRequest:
    """What the campaign lists on `channel`: its SKU, the product, the clearance price and
    the units the decision allocated to that channel."""
    product = record.request.get("product", {})
    return ListingRequest(
        sku=record.skus[channel],
        title=str(product.get("title") or record.variant_id),
        price=Decimal(record.state.clearance_price),
        quantity=record.state.listing(channel).allocated_units,
        category=str(product.get("category") or ""),
        product_id=record.product_id,
        variant_id=record.variant_id,
    )


async def create_listing(job: Job, record: CampaignRecord, channel: str) -> str:
    """The create call; ListingCreated, or ListingFailed (retried first when transient)."""
    rt = job.rt
    request = listing_request(record, channel)
    if rt.holds is not None:  # offer the units held for it (fewer when the store was short)
        held = await stock_steps.held_for(rt.holds, job.campaign_id, channel)
        if held is not None:
            request = msgspec.structs.replace(request, quantity=held)
    connector = rt.channel(channel)
    try:
        async with rt.account(record.merchant_id, channel) as account:
            made: ListingState = await job.call(
                "list",
                f"{channel} create_listing",
                lambda: connector.create_listing(account, request),
                channel=channel,
                ok_detail=lambda s: (
                    f"{s.status} {s.external_listing_id} "
                    f"({request.quantity} at {request.price}) {s.detail}".strip()
                ),
            )
    except (CallFailed, ChannelError) as exc:
        failure = await job.failure("list", exc, channel=channel)
        if failure.transient:
            raise job.retry(failure) from None
        event = ListingFailed(channel=channel, error=failure.message, rejected=False, at=rt.clock())
        await _apply_or_keep(job, record, event)
        if rt.holds is not None:  # nothing listed: its units go back on the store
            await stock_steps.release_units(rt, rt.holds, rt.campaigns, record, [channel])
        return "failed"
    live = made.status == "active"
    try:
        await rt.campaigns.apply(
            job.campaign_id,
            ListingCreated(
                channel=channel,
                external_listing_id=made.external_listing_id,
                live=live,
                at=rt.clock(),
            ),
        )
    except IllegalTransition as exc:
        # The campaign ended while this listing was being made: take it down again.
        await job.note("list", "info", channel=channel, detail=f"ended meanwhile ({exc})")
        async with rt.account(record.merchant_id, channel) as account:
            await job.call(
                "withdraw",
                f"{channel} cancel_listing",
                lambda: connector.cancel_listing(account, request.sku, made.external_listing_id),
                channel=channel,
            )
        return "withdrawn at once"
    return "active" if live else "submitted"


# --- end ---------------------------------------------------------------------------------


@guarded
async def end_campaign(ctx: dict[str, Any], campaign_id: str) -> str:
    """Revert the store price, withdraw every listing that may be live, read both back;
    EndVerified once nothing is outstanding, else try again later."""
    job = Job.of(ctx, campaign_id)
    rt = job.rt
    record = await rt.campaigns.get(campaign_id)
    if record is None:
        return "no such campaign"
    if record.state.final:
        return f"already {record.state.status}"
    if record.state.end is None:
        if rt.clock() < record.state.ends_at:
            return "not due yet"
        record = await rt.campaigns.apply(
            campaign_id, EndRequested(reason="scheduled", at=rt.clock())
        )
        await job.note("end", "started", detail="the campaign's time is up")
    redis = ctx["redis"]
    lock = f"{rt.redis_prefix}:campaign-end:{campaign_id}"
    token = secrets.token_hex(8)
    if not await redis.set(lock, token, nx=True, ex=int(rt.config.job_timeout_seconds) + 10):
        raise Retry(defer=5)  # another worker is ending it right now
    try:
        if record.state.price_outstanding():
            record = await revert_store_price(job, record)
        for channel in record.state.listings_outstanding():
            record = await withdraw_listing(job, record, channel)
    finally:
        await schedule_lock.release(redis, lock, token)  # only ours: ours may have expired
    left = record.state.outstanding()
    if left:
        detail = f"outstanding: {', '.join(left)}"
        if job.last_try:
            await job.note("end", "failed", detail=detail + "; the sweeper will try again")
            return detail
        retry = job.retry()
        seconds = (retry.defer_score or 0) / 1000
        await job.note("end", "retry", detail=f"{detail}; again in {seconds:g} s")
        raise retry
    await settle_stock(job, record)
    record = await rt.campaigns.apply(campaign_id, EndVerified(at=rt.clock()))
    await job.note("end", "ok", detail=f"verified: {record.state.status}")
    return record.state.status


async def settle_stock(job: Job, record: CampaignRecord) -> None:
    """Every listing is seen ended: its sold units leave reserved, the unsold ones go back to
    available (execution.stock_steps). Transient failures retry the end; a refused move (held
    units released by someone else) is on the timeline and does not keep the end open."""
    rt = job.rt
    if rt.holds is None:
        return
    try:
        for item in record.state.listings:
            if item.units_sold:
                await stock_steps.units_sold(
                    rt, rt.holds, rt.campaigns, record, item.channel, item.units_sold
                )
        await stock_steps.release_units(rt, rt.holds, rt.campaigns, record)
    except ChannelError as exc:
        if exc.transient:
            raise
        await job.note("release", "failed", detail=f"units not given back: {exc.message}")


async def revert_store_price(job: Job, record: CampaignRecord) -> CampaignRecord:
    """Read the store price: the clearance price -> put the price before back and read it
    again (PriceReverted); already the price before -> PriceReverted; anything else was set
    by hand during the campaign -> PriceKept, and left alone."""
    rt, state = job.rt, record.state
    clearance = Decimal(state.clearance_price)
    before = Decimal(state.store.price_before or state.clearance_price)
    try:
        platform = await rt.store_platform(record.merchant_id)
        connector = rt.store_connector(platform)
        async with rt.account(record.merchant_id, platform) as account:

            def read() -> Awaitable[Decimal]:
                return connector.read_price(account, record.product_id, record.variant_id)

            now = await job.call("revert-price", f"{platform} read_price", read)
            if now not in (clearance, before):
                await job.note(
                    "revert-price",
                    "info",
                    detail=f"the store price is {now}, not the clearance price {clearance}: "
                    "changed by hand during the campaign, left as it is",
                )
                return await _apply_or_keep(
                    job, record, PriceKept(price_now=format(now, "f"), at=rt.clock())
                )
            if now == clearance and clearance != before:
                await job.call(
                    "revert-price",
                    f"{platform} update_price",
                    lambda: connector.update_price(
                        account, record.product_id, record.variant_id, before
                    ),
                    ok_detail=lambda _: f"{clearance} -> {before}",
                )
                now = await job.call("revert-price", f"{platform} read_price", read)
            if now != before:
                await job.note("revert-price", "retry", detail=f"read back {now}, not {before}")
                return record
    except (CallFailed, ChannelError) as exc:
        await job.failure("revert-price", exc)
        return await rt.campaigns.require(job.campaign_id)
    return await _apply_or_keep(job, record, PriceReverted(at=rt.clock()))


async def withdraw_listing(job: Job, record: CampaignRecord, channel: str) -> CampaignRecord:
    """cancel_listing, then monitor_listing until the marketplace shows it ended
    (ListingWithdrawn); a listing whose create call never answered is looked up by SKU."""
    rt = job.rt
    item = record.state.listing(channel)
    sku = record.skus[channel]
    connector = rt.channel(channel)
    try:
        async with rt.account(record.merchant_id, channel) as account:
            listing_id = item.external_listing_id
            if listing_id is None:
                listing_id = await job.call(
                    "withdraw",
                    f"{channel} find_listing_id",
                    lambda: connector.find_listing_id(account, sku),
                    channel=channel,
                    ok_detail=lambda found: f"found {found}" if found else "nothing listed",
                )
            if listing_id is not None:
                await job.call(
                    "withdraw",
                    f"{channel} cancel_listing",
                    lambda: connector.cancel_listing(account, sku, listing_id),
                    channel=channel,
                    ok_detail=lambda s: s.detail or s.status,
                )
                seen: ListingState = await job.call(
                    "withdraw",
                    f"{channel} monitor_listing",
                    lambda: connector.monitor_listing(account, sku, listing_id),
                    channel=channel,
                    ok_detail=lambda s: f"{s.status} {s.detail}".strip(),
                )
                if not _gone(seen, connector.pending_may_go_live):
                    await job.note(
                        "withdraw", "retry", channel=channel, detail=f"still {seen.status}"
                    )
                    return record
                sold = seen.units_sold
            else:
                sold = item.units_sold
    except (CallFailed, ChannelError) as exc:
        await job.failure("withdraw", exc, channel=channel)
        return await rt.campaigns.require(job.campaign_id)
    sold = max(sold, (await rt.campaigns.units_sold(job.campaign_id)).get(channel, 0))
    return await _apply_or_keep(
        job, record, ListingWithdrawn(channel=channel, units_sold=sold, at=rt.clock())
    )


def _gone(seen: ListingState, pending_may_go_live: bool) -> bool:
    """Whether the marketplace shows nothing left to buy under this listing."""
    if seen.status in ("ended", "rejected"):
        return True
    if seen.status == "pending" and not pending_may_go_live:
        return True
    return seen.status != "active" and seen.quantity_available == 0
