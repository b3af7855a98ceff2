"""The drift check (execution.drift_check) against the sandbox over HTTP, on both backends: a
campaign set up for real (store price, held units, an eBay and an Amazon listing) shows no drift;
each kind made to happen through the sandbox's controls is recorded once on its timeline and
counted; nothing is corrected."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from connectors.base import ListingRequest
from execution.drift_check import check_drift, drift_entries
from execution.holds import HoldLedger, Holds, redis_locks
from execution.sku import campaign_sku
from execution.states import ListingAttempted, ListingCreated, PriceSet, new_campaign
from execution.store import CampaignRecord
from server.services import Services
from tests.connectors.conftest import Sandbox
from tests.stock.access import ServiceAccess
from tests.stock.conftest import connected

CLEARANCE = Decimal("19.99")


async def running_campaign(svc: Services, access: ServiceAccess, holds: Holds) -> CampaignRecord:
    """A campaign carried out step by step with the real connectors: price, hold, listings."""
    campaign_id = "cmp-drift-1"
    allocations = {"ebay": 21, "amazon": 21}
    skus = {ch: campaign_sku("acme", campaign_id, ch, "4410") for ch in allocations}
    state = new_campaign("19.99", datetime.now(UTC) + timedelta(days=7), allocations)
    campaigns = svc.campaigns
    await campaigns.create(
        campaign_id=campaign_id,
        merchant_id="acme",
        idempotency_key="k-drift",
        body_sha256="0" * 64,
        request={"product": {"title": "Linen shirt"}},
        decision={"decision_id": "d-1"},
        state=state,
        skus=skus,
        product_id="8812",
        variant_id="4410",
    )
    shop = access.store_connector("shopify")
    async with access.account("acme", "shopify") as account:
        before = await shop.update_price(account, "8812", "4410", CLEARANCE)
        await campaigns.apply(campaign_id, PriceSet(price_before=str(before), at=datetime.now(UTC)))
        await holds.hold(
            shop,
            account,
            campaign_id=campaign_id,
            merchant_id="acme",
            product_id="8812",
            variant_id="4410",
            allocations=list(allocations.items()),
        )
    for channel, units in allocations.items():
        request = ListingRequest(
            sku=skus[channel],
            title="Linen shirt",
            price=CLEARANCE,
            quantity=units,
            category="11450",
            product_id="8812",
            variant_id="4410",
        )
        async with access.account("acme", channel) as account:
            made = await access.channel(channel).create_listing(account, request)
        await campaigns.apply(
            campaign_id,
            ListingAttempted(channel=channel, at=datetime.now(UTC)),
            ListingCreated(
                channel=channel,
                external_listing_id=made.external_listing_id,
                live=made.status == "active",
                at=datetime.now(UTC),
            ),
        )
    return await campaigns.require(campaign_id)


async def test_every_kind_of_drift_is_recorded_once(svc: Services, sandbox: Sandbox) -> None:
    seed = {"product_id": "8812", "variant_id": "4410", "price": "49.99", "available": 60}
    assert sandbox.control("POST", "/_sandbox/shopify/variants", seed).status_code == 201
    await connected(svc)
    access = ServiceAccess(svc)
    holds = Holds(HoldLedger(svc.tables), redis_locks(svc.redis, f"t-{secrets.token_hex(4)}"))
    record = await running_campaign(svc, access, holds)
    assert sandbox.control("POST", "/_sandbox/amazon/process", {}).status_code == 200
    counted: list[str] = []

    assert await check_drift(access, svc.campaigns, holds, counted.append) == {}  # all as planned
    # Sales lower what the listings offer: not drift once they are pulled (as pull_sales does).
    for channel, units in (("ebay", 2), ("amazon", 3)):
        order = {"sku": record.skus[channel], "quantity": units, "price": "19.99"}
        assert sandbox.control("POST", f"/_sandbox/{channel}/orders", order).status_code == 201
        await svc.campaigns.record_sale(
            record.campaign_id,
            "acme",
            channel=channel,
            order_id=f"o-{channel}",
            sku=record.skus[channel],
            units=units,
            revenue="1",
            currency="USD",
            sold_at=datetime.now(UTC),
        )
    assert await check_drift(access, svc.campaigns, holds, counted.append) == {}

    offer_id = record.state.listing("ebay").external_listing_id
    amazon_sku = record.skus["amazon"]
    seller = "A1STOCK"
    controls = [
        (f"/_sandbox/ebay/offers/{offer_id}/edit", {"quantity": 30, "price": "24.99"}),
        (f"/_sandbox/amazon/listings/{seller}/{amazon_sku}/end", {"suppress": "Pricing error"}),
        ("/_sandbox/shopify/variants/4410/price", {"price": "39.99"}),
        ("/_sandbox/shopify/inventory/4410/release", {"quantity": 5}),
    ]
    for path, body in controls:
        response = sandbox.control("POST", path, body)
        assert response.status_code == 200, (path, response.text)
    before = sandbox.control("GET", "/_sandbox/shopify/inventory/4410").json()

    added = await check_drift(access, svc.campaigns, holds, counted.append)

    kinds = sorted((d.kind, d.channel) for d in added[record.campaign_id])
    assert kinds == [
        ("listing_ended", "amazon"),
        ("listing_price", "ebay"),
        ("listing_quantity", "ebay"),
        ("reserved_released", "shopify"),
        ("store_price", "shopify"),
    ]
    assert sorted(counted) == sorted(kind for kind, _ in kinds)
    quantity = next(d for d in added[record.campaign_id] if d.kind == "listing_quantity")
    assert (quantity.expected, quantity.actual) == ("19", "30")  # 21 listed, 2 sold
    assert "may sell twice" in quantity.detail
    # Seen again: nothing new. Nothing was corrected either.
    assert await check_drift(access, svc.campaigns, holds, counted.append) == {}
    assert sandbox.control("GET", "/_sandbox/shopify/inventory/4410").json() == before
    assert sandbox.control("GET", "/_sandbox/shopify/variants/4410").json()["price"] == "39.99"
    entries = drift_entries(await svc.campaigns.timeline(record.campaign_id))
    assert len(entries) == 5 and all(e.detail for e in entries)
    metrics = (await svc.metrics_text()).decode()
    for kind, _ in kinds:
        assert f'channel_router_drift_total{{kind="{kind}"}} 1.0' in metrics
