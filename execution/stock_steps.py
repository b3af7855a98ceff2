"""The stock steps of a campaign's jobs (issue 11, items 1 and 2), one call each for
`execution.jobs` and `execution.crons`:

- `hold_units` (start, once the store price is set, before the listings): the external units
  leave the store's available stock; returns the units held per channel, which the listings
  offer (fewer than allocated when the store had fewer).
- `units_sold` (sales pulled): sold units leave reserved; a channel that sold more than was held
  for it is flagged on the timeline ("oversold"), which /metrics counts (server.stock_metrics).
- `release_units` (a listing that failed, and the end once every listing is seen ended): the
  units still held go back to available.

Each writes one timeline line when it moved something or failed; transient failures are
raised for the job to retry (the moves are idempotent, `execution.holds`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Final

from connectors.errors import ChannelError
from execution.access import Access
from execution.hold_plan import HOLD_KEY
from execution.holds import HoldOutcome, Holds
from execution.store import CampaignRecord, CampaignStore, Outcome

log = logging.getLogger(__name__)

HOLD_STEP: Final = "hold"
SOLD_STEP: Final = "sold"
RELEASE_STEP: Final = "release"
OVERSOLD_STEP: Final = "oversold"


async def hold_units(
    access: Access, holds: Holds, campaigns: CampaignStore, record: CampaignRecord
) -> HoldOutcome | None:
    """Hold the decision's external units on the store. None when nothing could be held for
    good (the store does not track the variant, ...): the timeline says why and the listings
    offer their allocation. Transient failures raise (retry the job)."""
    allocations = [(item.channel, item.allocated_units) for item in record.state.listings]
    if not any(units for _, units in allocations):
        return None
    platform = await access.store_platform(record.merchant_id)
    store = access.store_connector(platform)
    try:
        async with access.account(record.merchant_id, platform) as account:
            outcome = await holds.hold(
                store,
                account,
                campaign_id=record.campaign_id,
                merchant_id=record.merchant_id,
                product_id=record.product_id,
                variant_id=record.variant_id,
                allocations=allocations,
            )
    except ChannelError as exc:
        if exc.transient:
            await campaigns.record_event(
                record.campaign_id, HOLD_STEP, "retry", call=f"{platform} move", detail=str(exc)
            )
            raise
        await campaigns.record_event(
            record.campaign_id,
            HOLD_STEP,
            "failed",
            call=f"{platform} inventoryMoveQuantities",
            detail=f"no units held: {exc.message}",
        )
        return None
    held = ", ".join(f"{units} for {channel}" for channel, units in outcome.units.items())
    detail = f"{outcome.total} units available -> reserved at {outcome.location_id} ({held})"
    if outcome.reason:
        detail += f"; {outcome.reason}"
    await campaigns.record_event(
        record.campaign_id,
        HOLD_STEP,
        "ok",
        call=f"{platform} inventoryMoveQuantities",
        detail=detail,
    )
    return outcome


async def held_for(holds: Holds, campaign_id: str, channel: str) -> int | None:
    """Units held for `channel` (what its listing offers), or None when the campaign holds
    nothing (no hold made: the listing offers its allocation)."""
    hold = await holds.ledger.get(campaign_id, HOLD_KEY)
    if hold is None or hold.status != "applied":
        return None
    return hold.units.get(channel, 0)


async def units_sold(
    access: Access,
    holds: Holds,
    campaigns: CampaignStore,
    record: CampaignRecord,
    channel: str,
    sold: int,
) -> int:
    """`sold` units in all on `channel`: the new ones leave reserved. Returns the units moved
    now. Oversold units (sold beyond what was held) are flagged once per new total."""
    before = (await holds.tally(record.campaign_id)).oversold(channel)
    platform = await access.store_platform(record.merchant_id)
    store = access.store_connector(platform)
    async with access.account(record.merchant_id, platform) as account:
        moved = await holds.sold(
            store,
            account,
            campaign_id=record.campaign_id,
            merchant_id=record.merchant_id,
            channel=channel,
            units_sold=sold,
        )
    if moved:
        await campaigns.record_event(
            record.campaign_id,
            SOLD_STEP,
            "ok",
            channel=channel,
            call=f"{platform} inventoryAdjustQuantities",
            detail=f"{moved} unit(s) sold on {channel} left reserved ({sold} sold in all)",
        )
    after = (await holds.tally(record.campaign_id)).oversold(channel)
    if after > before:
        await campaigns.record_event(
            record.campaign_id,
            OVERSOLD_STEP,
            "failed",
            channel=channel,
            detail=f"{channel} sold {sold} unit(s), {after} more than were held for it",
        )
        log.warning("campaign %s: %s oversold by %d", record.campaign_id, channel, after)
    return moved


async def release_units(
    access: Access,
    holds: Holds,
    campaigns: CampaignStore,
    record: CampaignRecord,
    channels: Sequence[str] | None = None,
) -> dict[str, int]:
    """Give back what is still held for `channels` (all: None). Transient failures raise."""
    hold = await holds.ledger.get(record.campaign_id, HOLD_KEY)
    if hold is None or hold.status != "applied":
        return {}
    platform = await access.store_platform(record.merchant_id)
    store = access.store_connector(platform)
    try:
        async with access.account(record.merchant_id, platform) as account:
            returned = await holds.release(
                store,
                account,
                campaign_id=record.campaign_id,
                merchant_id=record.merchant_id,
                channels=channels,
            )
    except ChannelError as exc:
        outcome: Outcome = "retry" if exc.transient else "failed"
        await campaigns.record_event(
            record.campaign_id, RELEASE_STEP, outcome, call=f"{platform} move", detail=str(exc)
        )
        raise
    if any(returned.values()):
        given = ", ".join(f"{n} from {ch}" for ch, n in returned.items() if n)
        await campaigns.record_event(
            record.campaign_id,
            RELEASE_STEP,
            "ok",
            call=f"{platform} inventoryMoveQuantities",
            detail=f"{sum(returned.values())} unsold unit(s) reserved -> available ({given})",
        )
    return returned
