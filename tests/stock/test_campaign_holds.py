"""Holds carried out by `channel-router worker` (subprocesses) against the sandbox, on both
backends: while campaigns run, the units their listings offer are reserved off the store (checked
in the sandbox's own state at every poll, 10 campaigns on one variant, answers lost and delayed
past the worker's timeout); at the end the unsold ones are back and held = sold + returned for
every campaign."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from connectors.shopify import ledger_uri
from execution.holds import HoldLedger, units_view
from tests.execution.conftest import CLEARANCE_PRICE, VARIANT_ID, Deployment, deployment  # noqa: F401

STOCK = 160
CAMPAIGNS = 10  # the 30-campaign arithmetic runs in-process: tests/stock/test_holds.py


def level(deployment: Deployment) -> dict[str, Any]:  # noqa: F811
    found = deployment.sandbox.control("GET", f"/_sandbox/shopify/inventory/{VARIANT_ID}")
    [one] = found.json()["levels"]
    return dict(one)


def offered(deployment: Deployment) -> dict[str, int]:  # noqa: F811
    """Units the marketplaces offer right now, by SKU (two reads: one per marketplace)."""
    units: dict[str, int] = {}
    for offer in deployment.ebay_offers():
        if offer["status"] == "PUBLISHED":
            units[offer["sku"]] = units.get(offer["sku"], 0) + int(offer["availableQuantity"] or 0)
    for listing in deployment.amazon_listings():
        units[listing["sku"]] = units.get(listing["sku"], 0) + int(listing.get("quantity") or 0)
    return units


def listed(deployment: Deployment, skus: dict[str, str]) -> int:  # noqa: F811
    """Units the marketplaces offer under these SKUs right now."""
    now = offered(deployment)
    return sum(now.get(sku, 0) for sku in skus.values())


def reserved_by_document(deployment: Deployment) -> tuple[dict[str, int], dict[str, Any]]:  # noqa: F811
    now = level(deployment)
    held = {d["ledger_document_uri"]: d["quantity"] for d in now["by_document"]}
    return held, now


def timeline(deployment: Deployment, campaign_id: str) -> list[str]:  # noqa: F811
    return [
        f"{e.step} {e.channel or ''} {e.outcome} {e.detail or ''}"
        for e in deployment.timeline(campaign_id)
    ]


def stock_view(deployment: Deployment, campaign_id: str) -> Any:  # noqa: F811
    async def go(tables: Any) -> Any:
        return units_view(await HoldLedger(tables).moves(campaign_id))

    return asyncio.run(deployment._with_store(go))


def test_a_campaign_holds_while_it_runs_and_gives_back_at_the_end(
    deployment: Deployment,  # noqa: F811
) -> None:
    deployment.start_worker()
    campaign_id = deployment.create_campaign({"ebay": 21, "amazon": 21})
    record = deployment.wait_for(
        campaign_id,
        lambda r: all(item.status == "active" for item in r.state.listings),
        "both listings live",
    )
    now = level(deployment)
    assert (now["available"], now["reserved"], now["on_hand"]) == (18, 42, 60)
    assert listed(deployment, record.skus) == 42
    made = deployment.sandbox.control(
        "POST",
        "/_sandbox/ebay/orders",
        {"sku": record.skus["ebay"], "quantity": 3, "price": CLEARANCE_PRICE},
    )
    assert made.status_code == 201, made.text
    deployment.wait_for(
        campaign_id, lambda r: stock_view(deployment, campaign_id).sold == 3, "3 sold off"
    )
    assert (level(deployment)["reserved"], level(deployment)["on_hand"]) == (39, 57)

    deployment.cancel(campaign_id)
    deployment.wait_for(campaign_id, lambda r: r.state.final, "the verified end")
    after = level(deployment)
    assert (after["available"], after["reserved"], after["on_hand"]) == (57, 0, 57)
    view = stock_view(deployment, campaign_id)
    assert (view.held, view.sold, view.returned, view.still_held) == (42, 3, 39, 0)
    steps = [e.step for e in deployment.timeline(campaign_id)]
    assert steps.index("hold") < steps.index("list")
    assert "release" in steps


def test_campaigns_on_one_variant_never_offer_a_unit_twice(
    deployment: Deployment,  # noqa: F811
) -> None:
    counted = deployment.sandbox.control(
        "POST", f"/_sandbox/shopify/inventory/{VARIANT_ID}/set", {"available": STOCK}
    )
    assert counted.status_code == 200, counted.text
    for kind, times in (("delay", 1), ("drop", 2), ("status", 2)):
        deployment.sandbox.inject(
            kind=kind, api="shopify", method="POST", times=times, delay_seconds=11, status=503
        )
    # A lost answer keeps its location locked 5 s more: the worker gives up on a call after
    # 10 s, the sandbox's delayed answer lands after 11 s.
    fast = {"CHANNEL_ROUTER_HOLD_LOCK_SECONDS": "5"}
    deployment.start_worker(extra_env=fast)
    deployment.start_worker(extra_env=fast)
    campaigns = [deployment.create_campaign({"ebay": 9, "amazon": 8}) for _ in range(CAMPAIGNS)]
    skus = {c: deployment.campaign(c).skus for c in campaigns}

    def invariant() -> None:
        """No unit both buyable on the store and offered on a marketplace: every campaign's
        listings offer at most what is reserved under its ledger document. The store is read
        before and after the marketplaces; a hold precedes its listing and a release follows
        its withdrawal, so a listing seen live shows its units held in one of the two reads."""
        before, now = reserved_by_document(deployment)
        live = offered(deployment)
        after, _ = reserved_by_document(deployment)
        assert now["available"] + now["reserved"] == STOCK
        for c in campaigns:
            units = sum(live.get(sku, 0) for sku in skus[c].values())
            uri = ledger_uri(c)
            held = max(before.get(uri, 0), after.get(uri, 0))
            assert units <= held, (c, units, held, timeline(deployment, c))

    def statuses() -> list[str]:
        return [deployment.campaign(c).state.status for c in campaigns]

    deadline = time.monotonic() + 200
    checks = 0
    while True:
        invariant()
        checks += 1
        if checks % 5 == 0 and all(s in ("active", "failed") for s in statuses()):
            break
        assert time.monotonic() < deadline, statuses()
        time.sleep(0.3)
    invariant()
    held = [stock_view(deployment, c) for c in campaigns]
    assert sum(v.held for v in held) == STOCK  # 10 x 17 = 170 wanted: the last ones got less
    assert any(v.reason for v in held)

    for c in campaigns:
        deployment.cancel(c)
    deadline = time.monotonic() + 200
    checks = 0
    while checks % 5 or not all(s in ("cancelled", "completed") for s in statuses()):
        invariant()
        checks += 1
        assert time.monotonic() < deadline, statuses()
        time.sleep(0.3)
    final = level(deployment)
    assert (final["available"], final["reserved"]) == (STOCK, 0)
    for c in campaigns:
        view = stock_view(deployment, c)
        assert view.held == view.sold + view.returned and view.still_held == 0
