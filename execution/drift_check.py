"""The drift cron (issue 11, item 4): for every open campaign, read what the store and the
marketplaces show and record each difference (`execution.drift`) on the campaign's timeline
(step "drift", `call` = the kind). The same drift seen on the next tick is not recorded again;
a changed one is. Nothing is corrected: the merchant decides.

Reads only: monitor_listing per live listing, the store price, and the reserved units at each
location where campaigns hold units (one read per location, shared by its campaigns).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

import msgspec

from connectors.base import ListingState
from connectors.errors import ChannelError
from execution.access import Access
from execution.drift import Drift, DriftKind, listing_drift, reserved_drift, store_price_drift
from execution.hold_plan import HOLD_KEY
from execution.holds import Holds
from execution.store import CampaignRecord, CampaignStore, TimelineEntry

log = logging.getLogger(__name__)

DRIFT_STEP = "drift"


async def record_drift(
    campaigns: CampaignStore, campaign_id: str, drifts: list[Drift]
) -> list[Drift]:
    """Add each drift not already the latest of its kind and channel; returns those added."""
    latest: dict[tuple[str, str | None], str | None] = {}
    for entry in await campaigns.timeline(campaign_id):
        if entry.step == DRIFT_STEP:
            latest[(entry.call, entry.channel)] = entry.detail
    added = []
    for drift in drifts:
        if latest.get((drift.kind, drift.channel)) == drift.text:
            continue
        await campaigns.record_event(
            campaign_id, DRIFT_STEP, "info", channel=drift.channel, call=drift.kind,
            detail=drift.text,
        )  # fmt: skip
        latest[(drift.kind, drift.channel)] = drift.text
        added.append(drift)
    return added


async def _listing_drifts(
    access: Access, holds: Holds, campaigns: CampaignStore, record: CampaignRecord
) -> list[Drift]:
    clearance = Decimal(record.state.clearance_price)
    held = (await holds.tally(record.campaign_id)).held
    synced = await campaigns.units_sold(record.campaign_id)  # sales pulled, maybe not applied
    found: list[Drift] = []
    for item in record.state.listings:
        if item.status not in ("submitted", "active") or item.external_listing_id is None:
            continue
        connector = access.channel(item.channel)
        try:
            async with access.account(record.merchant_id, item.channel) as account:
                seen: ListingState = await connector.monitor_listing(
                    account, record.skus[item.channel], item.external_listing_id
                )
        except ChannelError as exc:
            log.info("drift: %s %s not read (%s)", record.campaign_id, item.channel, exc)
            continue
        if item.status == "submitted" and seen.status == "pending":
            continue  # not buyable yet: nothing to compare
        found += listing_drift(
            item.channel,
            seen,
            listed_quantity=held.get(item.channel, item.allocated_units),
            units_sold=max(item.units_sold, synced.get(item.channel, 0)),
            clearance_price=clearance,
        )
    return found


async def check_drift(
    access: Access,
    campaigns: CampaignStore,
    holds: Holds,
    count: Callable[[DriftKind], None] | None = None,
) -> dict[str, list[Drift]]:
    """One tick over every campaign with a live listing; returns the drifts added per campaign."""
    records = []
    for campaign_id in await campaigns.with_live_listings():
        record = await campaigns.get(campaign_id)
        if record is not None and not record.state.final and record.state.end is None:
            records.append(record)
    found: dict[str, list[Drift]] = {r.campaign_id: [] for r in records}
    # Units held per location (merchant, item, location), over the campaigns holding there.
    locations: dict[tuple[str, str, str], list[tuple[str, int]]] = {}
    for record in records:
        found[record.campaign_id] += await _listing_drifts(access, holds, campaigns, record)
        hold = await holds.ledger.get(record.campaign_id, HOLD_KEY)
        if hold is not None and hold.status == "applied":
            tally = await holds.tally(record.campaign_id)
            still = sum(tally.still_held(channel) for channel in tally.channels)
            key = (record.merchant_id, hold.inventory_item_id, hold.location_id)
            locations.setdefault(key, []).append((record.campaign_id, still))
        if record.state.store.status != "applied":
            continue
        try:
            platform = await access.store_platform(record.merchant_id)
            async with access.account(record.merchant_id, platform) as account:
                price = await access.store_connector(platform).read_price(
                    account, record.product_id, record.variant_id
                )
        except ChannelError as exc:
            log.info("drift: %s store price not read (%s)", record.campaign_id, exc)
            continue
        found[record.campaign_id] += store_price_drift(
            platform, Decimal(record.state.clearance_price), price
        )
    for (merchant_id, item, location), holders in locations.items():
        try:
            platform = await access.store_platform(merchant_id)
            async with access.account(merchant_id, platform) as account:
                level = await access.store_connector(platform).read_level(account, item, location)
        except ChannelError as exc:
            log.info("drift: reserved units at %s not read (%s)", location, exc)
            continue
        drifts = reserved_drift(platform, sum(units for _, units in holders), level)
        for campaign_id, _ in holders:
            found[campaign_id] += drifts
    added: dict[str, list[Drift]] = {}
    for campaign_id, drifts in found.items():
        new = await record_drift(campaigns, campaign_id, drifts)
        if new:
            added[campaign_id] = new
            for drift in new:
                if count is not None:
                    count(drift.kind)
    return added


class DriftEntry(msgspec.Struct, frozen=True):
    """One drift as the campaign shows it in `drift`."""

    at: datetime
    kind: str
    channel: str | None
    detail: str | None


def drift_entries(timeline: list[TimelineEntry]) -> list[DriftEntry]:
    """The campaign's `drift` list from its timeline, oldest first."""
    return [
        DriftEntry(at=e.at, kind=e.call, channel=e.channel, detail=e.detail)
        for e in timeline
        if e.step == DRIFT_STEP
    ]
