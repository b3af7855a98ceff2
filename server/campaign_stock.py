"""A campaign's units on the store as the API shows them (`stock` of a Campaign), read from our
record of its inventory moves (execution.holds)."""

from __future__ import annotations

from execution.holds import HoldLedger, units_view
from server.api.types import CampaignStock, ChannelStock
from server.services import Services


async def campaign_stock(svc: Services, campaign_id: str) -> CampaignStock | None:
    """Held, sold, returned and oversold units; None when the campaign never held any."""
    records = await HoldLedger(svc.tables).moves(campaign_id)
    if not records:
        return None
    units = units_view(records)
    return CampaignStock(
        held=units.held,
        sold=units.sold,
        returned=units.returned,
        still_held=units.still_held,
        oversold=units.oversold,
        channels=[
            ChannelStock(channel=name, **numbers) for name, numbers in units.channels.items()
        ],
        reason=units.reason,
        conflicts=units.conflicts,
    )
