"""The stock steps the jobs call (execution.stock_steps) on both backends against the sandbox:
the timeline says what moved, an oversell is flagged once per new total and counted in
/metrics, and the units held show in /metrics while the campaign runs."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from execution.holds import HoldLedger, Holds, redis_locks
from execution.sku import campaign_sku
from execution.states import new_campaign
from execution.stock_steps import held_for, hold_units, release_units, units_sold
from execution.store import CampaignRecord
from server.campaign_stock import campaign_stock
from server.services import Services
from tests.connectors.conftest import Sandbox
from tests.stock.access import ServiceAccess
from tests.stock.conftest import connected


async def campaign(svc: Services, campaign_id: str = "cmp-steps") -> CampaignRecord:
    allocations = {"ebay": 21, "amazon": 21}
    record, _ = await svc.campaigns.create(
        campaign_id=campaign_id,
        merchant_id="acme",
        idempotency_key=campaign_id,
        body_sha256="0" * 64,
        request={},
        decision={},
        product_id="8812",
        variant_id="4410",
        state=new_campaign("19.99", datetime.now(UTC) + timedelta(days=7), allocations),
        skus={ch: campaign_sku("acme", campaign_id, ch, "4410") for ch in allocations},
    )
    return record


def metric(text: str, line_start: str) -> float:
    [line] = [line for line in text.splitlines() if line.startswith(line_start)]
    return float(line.rsplit(" ", 1)[1])


async def test_hold_sell_oversell_and_release_through_the_steps(
    svc: Services, sandbox: Sandbox
) -> None:
    seed = {"product_id": "8812", "variant_id": "4410", "price": "49.99", "available": 60}
    assert sandbox.control("POST", "/_sandbox/shopify/variants", seed).status_code == 201
    await connected(svc)
    access = ServiceAccess(svc)
    holds = Holds(HoldLedger(svc.tables), redis_locks(svc.redis, f"t-{secrets.token_hex(4)}"))
    record = await campaign(svc)

    outcome = await hold_units(access, holds, svc.campaigns, record)
    assert outcome is not None and outcome.units == {"ebay": 21, "amazon": 21}
    assert await held_for(holds, record.campaign_id, "ebay") == 21
    metrics = (await svc.metrics_text()).decode()
    assert metric(metrics, "channel_router_units_held ") == 42

    assert await units_sold(access, holds, svc.campaigns, record, "ebay", 4) == 4
    assert await units_sold(access, holds, svc.campaigns, record, "amazon", 23) == 21
    assert await units_sold(access, holds, svc.campaigns, record, "amazon", 23) == 0  # re-synced
    assert await release_units(access, holds, svc.campaigns, record) == {"ebay": 17, "amazon": 0}

    steps = [(e.step, e.outcome, e.channel) for e in await svc.campaigns.timeline("cmp-steps")]
    assert steps == [
        ("hold", "ok", None),
        ("sold", "ok", "ebay"),
        ("sold", "ok", "amazon"),
        ("oversold", "failed", "amazon"),
        ("release", "ok", None),
    ]
    metrics = (await svc.metrics_text()).decode()
    assert metric(metrics, 'channel_router_oversells_total{channel="amazon"}') == 1
    assert metric(metrics, "channel_router_units_held ") == 0
    assert metric(metrics, 'channel_router_inventory_moved_units_total{step="sold"}') == 25
    level = sandbox.control("GET", "/_sandbox/shopify/inventory/4410").json()["levels"][0]
    assert (level["available"], level["reserved"], level["on_hand"]) == (35, 0, 35)

    # What GET /v1/campaigns/{id} shows of it.
    stock = await campaign_stock(svc, "cmp-steps")
    assert stock is not None
    assert (stock.held, stock.sold, stock.returned, stock.still_held, stock.oversold) == (
        42,
        25,
        17,
        0,
        2,
    )
    amazon = next(c for c in stock.channels if c.channel == "amazon")
    assert (amazon.held, amazon.sold, amazon.reported_sold, amazon.oversold) == (21, 21, 23, 2)
    assert await campaign_stock(svc, "no-such-campaign") is None


async def test_an_untracked_variant_holds_nothing_and_says_so(
    svc: Services, sandbox: Sandbox
) -> None:
    seed = {"product_id": "8812", "variant_id": "4410", "price": "49.99", "available": 60}
    assert sandbox.control("POST", "/_sandbox/shopify/variants", seed).status_code == 201
    sandbox.state.shopify.inventory.item_for_variant(
        "gid://shopify/ProductVariant/4410"
    ).tracked = False
    await connected(svc)
    access = ServiceAccess(svc)
    holds = Holds(HoldLedger(svc.tables), redis_locks(svc.redis, f"t-{secrets.token_hex(4)}"))
    record = await campaign(svc, "cmp-untracked")
    assert await hold_units(access, holds, svc.campaigns, record) is None
    [event] = await svc.campaigns.timeline("cmp-untracked")
    assert (event.step, event.outcome) == ("hold", "failed")
    assert "does not track" in (event.detail or "")
    assert await held_for(holds, "cmp-untracked", "ebay") is None
