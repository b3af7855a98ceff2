"""The worker's schedules: refresh listings, pull sales, end overdue campaigns, prune the
decision log (docs/execution.md, "Jobs and the worker").

They read what to do from the database, never from Redis: a flushed Redis loses deferred
end jobs, and the sweeper still ends every overdue campaign. arq runs each tick once across
all workers (its cron job ids are unique per tick). Timeline rows are written when something
changed or failed, not for every look (a week of minutely refreshes would bury the steps).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from connectors.base import ListingState
from connectors.errors import ChannelError
from execution import queue, stock_steps
from execution.calls import Job
from execution.drift_check import check_drift
from execution.runtime import Runtime, runtime
from execution.states import IllegalTransition, ListingObserved
from execution.store import CampaignRecord

log = logging.getLogger(__name__)

_SEEN = {"pending": "submitted", "active": "active", "ended": "ended", "rejected": "rejected"}
SALES_LOOKBACK = timedelta(minutes=5)  # orders created just before the campaign row


async def _open_records(rt: Runtime) -> list[CampaignRecord]:
    records = []
    for campaign_id in await rt.campaigns.with_live_listings():
        record = await rt.campaigns.get(campaign_id)
        if record is not None and not record.state.final:
            records.append(record)
    return records


async def refresh_listings(ctx: dict[str, Any]) -> str:
    """monitor_listing for every submitted or active listing: an Amazon submission becomes
    `active` once buyable; one the marketplace ended or rejected says so (ListingObserved)."""
    rt = runtime(ctx)
    changed = 0
    for record in await _open_records(rt):
        for item in record.state.listings:
            if item.status not in ("submitted", "active") or item.external_listing_id is None:
                continue
            job = Job(rt=rt, campaign_id=record.campaign_id, attempt=1)
            connector = rt.channel(item.channel)
            sku = record.skus[item.channel]
            try:
                async with rt.account(record.merchant_id, item.channel) as account:
                    seen: ListingState = await connector.monitor_listing(
                        account, sku, item.external_listing_id
                    )
            except ChannelError as exc:
                await job.note("refresh", "retry", channel=item.channel,
                               call=f"{item.channel} monitor_listing", detail=str(exc))  # fmt: skip
                continue
            status = _SEEN[seen.status]
            if status == item.status:
                continue
            try:
                await rt.campaigns.apply(
                    record.campaign_id,
                    ListingObserved(
                        channel=item.channel,
                        status=status,  # type: ignore[arg-type]
                        units_sold=item.units_sold,
                        at=rt.clock(),
                        detail=seen.detail or None,
                    ),
                )
            except IllegalTransition:
                continue  # the end got there first
            changed += 1
            await job.note("refresh", "ok", channel=item.channel,
                           call=f"{item.channel} monitor_listing",
                           detail=f"{item.status} -> {status} {seen.detail}".strip())  # fmt: skip
    return f"{changed} listing(s) changed"


async def pull_sales(ctx: dict[str, Any]) -> str:
    """sync_sales per merchant and marketplace; each order line recorded once, so a second
    pull counts nothing twice; `units_sold` follows; a listing sold out is ended."""
    rt = runtime(ctx)
    groups: dict[tuple[str, str], list[CampaignRecord]] = {}
    for record in await _open_records(rt):
        for item in record.state.listings:
            if item.status in ("submitted", "active"):
                groups.setdefault((record.merchant_id, item.channel), []).append(record)
    new_lines = 0
    for (merchant_id, channel), records in groups.items():
        since = min(r.created_at for r in records) - SALES_LOOKBACK
        by_sku = {r.skus[channel]: r for r in records}
        try:
            async with rt.account(merchant_id, channel) as account:
                sales = await rt.channel(channel).sync_sales(account, since)
        except ChannelError as exc:
            for record in records:
                job = Job(rt=rt, campaign_id=record.campaign_id, attempt=1)
                await job.note("sales", "retry", channel=channel,
                               call=f"{channel} sync_sales", detail=str(exc))  # fmt: skip
            continue
        for sale in sales:
            owner = by_sku.get(sale.sku)
            if owner is None:
                continue
            if await rt.campaigns.record_sale(
                owner.campaign_id,
                merchant_id,
                channel=channel,
                order_id=sale.order_id,
                sku=sale.sku,
                units=sale.units_sold,
                revenue=format(sale.revenue, "f"),
                currency=sale.currency,
                sold_at=sale.sold_at,
            ):
                new_lines += 1
        for record in records:
            await _follow_sales(rt, record, channel)
    return f"{new_lines} new order line(s)"


async def _follow_sales(rt: Runtime, record: CampaignRecord, channel: str) -> None:
    """Bring the listing's units_sold up to the synced sales; end it when sold out."""
    item = record.state.listing(channel)
    sold = (await rt.campaigns.units_sold(record.campaign_id)).get(channel, 0)
    if sold <= item.units_sold:
        return
    job = Job(rt=rt, campaign_id=record.campaign_id, attempt=1)
    try:
        record = await rt.campaigns.apply(
            record.campaign_id,
            ListingObserved(channel=channel, status=item.status,  # type: ignore[arg-type]
                            units_sold=sold, at=rt.clock()),
        )  # fmt: skip
    except IllegalTransition:
        return
    await job.note("sales", "ok", channel=channel, call=f"{channel} sync_sales",
                   detail=f"{sold} of {item.allocated_units} unit(s) sold")  # fmt: skip
    offered = await _sell_off_held(rt, job, record, channel, sold)
    if sold >= offered and item.external_listing_id is not None:
        await _end_sold_out(rt, job, record, channel, sold)


async def _sell_off_held(
    rt: Runtime, job: Job, record: CampaignRecord, channel: str, sold: int
) -> int:
    """Sold units leave the store's reserved stock (an oversell is flagged there); returns the
    units the listing offered: those held for it, or its allocation when nothing is held."""
    item = record.state.listing(channel)
    if rt.holds is None:
        return item.allocated_units
    try:
        await stock_steps.units_sold(rt, rt.holds, rt.campaigns, record, channel, sold)
    except ChannelError as exc:  # the next pull tries again (the move is idempotent)
        await job.note("sold", "retry", channel=channel, detail=str(exc))
    held = await stock_steps.held_for(rt.holds, record.campaign_id, channel)
    return item.allocated_units if held is None else held


async def detect_drift(ctx: dict[str, Any]) -> str:
    """Compare every open campaign with the store and its marketplaces (execution.drift_check):
    each new difference goes on the campaign's timeline; nothing is corrected."""
    rt = runtime(ctx)
    if rt.holds is None:
        return "no holds: drift not checked"
    await pull_sales(ctx)  # a sale not pulled yet is not a quantity changed by hand
    added = await check_drift(rt, rt.campaigns, rt.holds)
    return f"{sum(len(found) for found in added.values())} new drift(s)"


async def _end_sold_out(
    rt: Runtime, job: Job, record: CampaignRecord, channel: str, sold: int
) -> None:
    item = record.state.listing(channel)
    assert item.external_listing_id is not None
    connector, sku = rt.channel(channel), record.skus[channel]
    try:
        async with rt.account(record.merchant_id, channel) as account:
            await connector.cancel_listing(account, sku, item.external_listing_id)
            seen = await connector.monitor_listing(account, sku, item.external_listing_id)
    except ChannelError as exc:
        await job.note("sold-out", "retry", channel=channel, detail=str(exc))
        return  # the next pull tries again (the listing is still active and sold out)
    if seen.status not in ("ended", "rejected"):
        await job.note("sold-out", "retry", channel=channel, detail=f"still {seen.status}")
        return
    try:
        await rt.campaigns.apply(
            record.campaign_id,
            ListingObserved(channel=channel, status="ended", units_sold=sold, at=rt.clock(),
                            detail="sold out: the allocation is gone"),
        )  # fmt: skip
    except IllegalTransition:
        return
    await job.note("sold-out", "ok", channel=channel, call=f"{channel} cancel_listing",
                   detail=f"ended: all {item.allocated_units} unit(s) sold")  # fmt: skip


async def end_overdue(ctx: dict[str, Any]) -> str:
    """Queue the end of every campaign past its end (or asked to end) for longer than the
    grace period, from the database: the deferred end job may be gone with Redis."""
    rt = runtime(ctx)
    now = rt.clock()
    grace = timedelta(seconds=rt.config.sweep_grace_seconds)
    queued = 0
    for campaign_id in await rt.campaigns.due(now - grace):
        record = await rt.campaigns.get(campaign_id)
        if record is None or record.state.final:
            continue
        end = record.state.end
        if end is not None and end.requested_at > now - grace:
            continue  # its own end job is on it
        queued += await _requeue(
            ctx, campaign_id, queue.END_JOB, "end-sweep",
            "overdue: the end was queued from the database",
        )  # fmt: skip
    return f"{queued} end(s) queued"


async def resume_stalled(ctx: dict[str, Any]) -> str:
    """Queue the start again (once a day at most) for campaigns that stopped starting: a
    flushed Redis loses their start or listing jobs; the start picks up where the database
    says it stopped and queues only the listings still pending."""
    rt = runtime(ctx)
    before = rt.clock() - timedelta(seconds=rt.config.stall_seconds)
    queued = 0
    for campaign_id in await rt.campaigns.stalled(before):
        queued += await _requeue(
            ctx, campaign_id, queue.START_JOB, "resume",
            "stalled while starting: the start was queued again",
        )  # fmt: skip
    return f"{queued} start(s) queued again"


async def _requeue(
    ctx: dict[str, Any], campaign_id: str, job_name: str, step: str, why: str
) -> int:
    """Queue `job_name` for the campaign under the sweep's own job id (arq takes it once) and
    say so on its timeline; 1 when it was queued now, 0 when that job id is queued already."""
    rt = runtime(ctx)
    job = await ctx["redis"].enqueue_job(
        job_name,
        campaign_id,
        _job_id=queue.job_id(campaign_id, step, prefix=rt.redis_prefix),
        _queue_name=rt.queue_name,
    )
    if job is None:
        return 0
    await Job(rt=rt, campaign_id=campaign_id, attempt=1).note("sweep", "info", detail=why)
    return 1


async def prune_decisions(ctx: dict[str, Any]) -> str:
    """The decision-log retention (server.db.retention), hourly, once across the workers."""
    pruner = runtime(ctx).pruner
    if pruner is None:
        return "retention off"
    return f"{await pruner.run_once()} decision(s) pruned"
