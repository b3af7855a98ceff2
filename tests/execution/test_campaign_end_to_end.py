"""A campaign carried out by `channel-router worker` against the sandbox, on SQLite and
PostgreSQL: the store price, both listings, a sale, and the verified end, each checked in
the sandbox's own state (not only in ours)."""

from __future__ import annotations

from decimal import Decimal

from tests.execution.conftest import CLEARANCE_PRICE, ORIGINAL_PRICE, Deployment


def _live_ebay(deployment: Deployment, sku: str) -> list[dict]:
    return [o for o in deployment.ebay_offers() if o["sku"] == sku and o["status"] == "PUBLISHED"]


def test_a_campaign_lists_sells_and_ends_verified(deployment: Deployment) -> None:
    deployment.start_worker()
    campaign_id = deployment.create_campaign({"ebay": 21, "amazon": 21})

    record = deployment.wait_for(
        campaign_id,
        lambda r: (
            r.state.status == "active" and all(item.status == "active" for item in r.state.listings)
        ),
        "active on both marketplaces",
    )
    assert record.state.store.status == "applied"
    assert record.state.store.price_before == ORIGINAL_PRICE
    assert deployment.store_price() == CLEARANCE_PRICE

    ebay_sku, amazon_sku = record.skus["ebay"], record.skus["amazon"]
    (offer,) = _live_ebay(deployment, ebay_sku)
    assert offer["availableQuantity"] == 21
    assert Decimal(offer["pricingSummary"]["price"]["value"]) == Decimal(CLEARANCE_PRICE)
    (listing,) = [x for x in deployment.amazon_listings() if x["sku"] == amazon_sku]
    assert listing["price"] == CLEARANCE_PRICE or Decimal(listing["price"]) == Decimal(
        CLEARANCE_PRICE
    )
    assert listing["quantity"] == 21

    # A sale on eBay: synced once, however many pulls see it.
    made = deployment.sandbox.control(
        "POST", "/_sandbox/ebay/orders", {"sku": ebay_sku, "quantity": 3, "price": CLEARANCE_PRICE}
    )
    assert made.status_code == 201, made.text
    record = deployment.wait_for(
        campaign_id, lambda r: r.state.listing("ebay").units_sold == 3, "3 units sold on eBay"
    )
    deployment.wait_for(
        campaign_id, lambda r: _pulls_after_sale(deployment) >= 2, "two more sales pulls"
    )
    assert deployment.campaign(campaign_id).state.listing("ebay").units_sold == 3

    deployment.cancel(campaign_id)
    record = deployment.wait_for(campaign_id, lambda r: r.state.final, "the verified end")
    assert record.state.status == "cancelled"
    assert record.state.store.status == "reverted"
    assert record.state.outstanding() == []
    assert deployment.store_price() == ORIGINAL_PRICE
    assert _live_ebay(deployment, ebay_sku) == []
    assert [x for x in deployment.amazon_listings() if x["sku"] == amazon_sku] == []
    assert record.state.listing("ebay").units_sold == 3
    steps = {(e.step, e.outcome) for e in deployment.timeline(campaign_id)}
    assert {("store-price", "ok"), ("list", "ok"), ("revert-price", "ok"), ("end", "ok")} <= steps


def _pulls_after_sale(deployment: Deployment) -> int:
    """How many sales pulls finished after the one that counted the sale (the worker's log)."""
    text = deployment.worker_log(tail=None)
    marker = text.find("'1 new order line(s)'")
    return text[marker + 1 :].count("new order line(s)") if marker >= 0 else 0
