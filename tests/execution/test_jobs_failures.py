"""What the jobs do when the store or a marketplace misbehaves (sandbox faults over real
HTTP): a failing store fails the campaign with nothing listed, a price changed by hand is
kept, 429/503 with Retry-After are waited out, an end that cannot be verified is retried until
it is, and the sweeper ends a campaign whose deferred end job is gone."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from tests.execution.conftest import CLEARANCE_PRICE, ORIGINAL_PRICE, VARIANT_ID, Deployment

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _active(deployment: Deployment, campaign_id: str) -> None:
    deployment.wait_for(
        campaign_id,
        lambda r: (
            r.state.status == "active" and all(item.status == "active" for item in r.state.listings)
        ),
        "active on every marketplace",
    )


def test_a_failing_store_fails_the_campaign_and_lists_nothing(deployment: Deployment) -> None:
    deployment.sandbox.inject(kind="status", api="shopify", status=403, times=100)
    deployment.start_worker()
    campaign_id = deployment.create_campaign({"ebay": 5, "amazon": 5})

    record = deployment.wait_for(campaign_id, lambda r: r.state.final, "the campaign to fail")
    assert record.state.status == "failed"
    assert record.state.store.status == "failed" and "403" in (record.state.store.error or "")
    assert [item.status for item in record.state.listings] == ["skipped", "skipped"]
    assert deployment.ebay_offers() == [] and deployment.amazon_listings() == []
    (failure,) = [e for e in deployment.timeline(campaign_id) if e.step == "store-price"]
    assert failure.outcome == "failed" and failure.call.startswith("shopify ")
    assert deployment.store_price() == ORIGINAL_PRICE


def test_a_price_changed_by_hand_is_kept_at_the_end(deployment: Deployment) -> None:
    deployment.start_worker()
    campaign_id = deployment.create_campaign({"ebay": 4})
    _active(deployment, campaign_id)
    changed = deployment.sandbox.control(
        "POST", f"/_sandbox/shopify/variants/{VARIANT_ID}/price", {"price": "39.00"}
    )
    assert changed.status_code == 200, changed.text

    deployment.cancel(campaign_id)
    record = deployment.wait_for(campaign_id, lambda r: r.state.final, "the verified end")
    assert record.state.status == "cancelled"
    assert record.state.store.status == "kept"
    assert deployment.store_price() == "39.00"
    notes = [e.detail or "" for e in deployment.timeline(campaign_id) if e.step == "revert-price"]
    assert any("changed by hand" in note and "39.00" in note for note in notes), notes
    assert [o for o in deployment.ebay_offers() if o["status"] == "PUBLISHED"] == []


def test_429_and_503_with_retry_after_are_waited_out(deployment: Deployment) -> None:
    # More failures in a row than the connector's own attempts (4): the job itself retries.
    deployment.sandbox.inject(
        kind="rate_limit", api="ebay", path_prefix="/sell/inventory", retry_after=2, times=5
    )
    deployment.sandbox.inject(
        kind="status", api="amazon", path_prefix="/listings", method="PUT", status=503,
        headers={"Retry-After": "2"}, times=5,
    )  # fmt: skip
    deployment.start_worker()
    campaign_id = deployment.create_campaign({"ebay": 3, "amazon": 3})
    _active(deployment, campaign_id)

    timeline = deployment.timeline(campaign_id)
    for channel, status in (("ebay", "429"), ("amazon", "503")):
        rows = [e for e in timeline if e.step == "list" and e.channel == channel]
        retries = [e for e in rows if e.outcome == "retry"]
        assert retries and status in (retries[0].detail or ""), rows
        (ok,) = [e for e in rows if e.outcome == "ok"]
        # The next try waited at least the marketplace's Retry-After.
        assert ok.attempt == retries[-1].attempt + 1
        assert (ok.at - retries[-1].at).total_seconds() >= 2 - 0.1
    assert deployment.campaign(campaign_id).state.store.status == "applied"


def test_an_end_that_cannot_be_verified_is_retried_until_it_is(deployment: Deployment) -> None:
    deployment.start_worker()
    campaign_id = deployment.create_campaign({"ebay": 4, "amazon": 4})
    _active(deployment, campaign_id)
    # eBay refuses every withdraw for a while (more than the connector's own attempts).
    deployment.sandbox.inject(
        kind="status", api="ebay", path_prefix="/sell/inventory/v1/offer", method="POST",
        status=500, times=10,
    )  # fmt: skip
    deployment.cancel(campaign_id)

    record = deployment.wait_for(
        campaign_id,
        lambda r: any(
            e.step == "end" and e.outcome == "retry" for e in deployment.timeline(campaign_id)
        ),
        "an end retried",
    )
    assert not record.state.final
    assert "ebay" in record.state.outstanding()
    record = deployment.wait_for(campaign_id, lambda r: r.state.final, "the verified end")
    assert record.state.status == "cancelled" and record.state.outstanding() == []
    assert deployment.store_price() == ORIGINAL_PRICE
    assert [o for o in deployment.ebay_offers() if o["status"] == "PUBLISHED"] == []
    retried = [
        e.detail
        for e in deployment.timeline(campaign_id)
        if e.step == "end" and e.outcome == "retry"
    ]
    assert all("outstanding: ebay" in (d or "") for d in retried), retried


def test_the_sweeper_ends_a_campaign_whose_end_job_was_deleted(deployment: Deployment) -> None:
    deployment.start_worker()
    deployment.wait_ready()
    campaign_id = deployment.create_campaign({"ebay": 2}, ends_in=timedelta(seconds=5))
    _active(deployment, campaign_id)
    assert deployment.store_price() == CLEARANCE_PRICE
    assert deployment.delete_queued_jobs(campaign_id) >= 1  # the deferred end is gone

    started = time.monotonic()
    record = deployment.wait_for(campaign_id, lambda r: r.state.final, "the sweeper's end")
    assert record.state.status == "completed"
    assert deployment.store_price() == ORIGINAL_PRICE
    assert [o for o in deployment.ebay_offers() if o["status"] == "PUBLISHED"] == []
    steps = [(e.step, e.outcome) for e in deployment.timeline(campaign_id)]
    assert ("sweep", "info") in steps and ("end", "ok") in steps
    assert time.monotonic() - started < 30


def test_a_listing_sold_out_is_ended_and_the_campaign_goes_on(deployment: Deployment) -> None:
    deployment.start_worker()
    campaign_id = deployment.create_campaign({"ebay": 2, "amazon": 3})
    _active(deployment, campaign_id)
    sku = deployment.campaign(campaign_id).skus["ebay"]
    made = deployment.sandbox.control(
        "POST", "/_sandbox/ebay/orders", {"sku": sku, "quantity": 1, "price": CLEARANCE_PRICE,
                                          "count": 2},
    )  # fmt: skip
    assert made.status_code == 201, made.text

    record = deployment.wait_for(
        campaign_id, lambda r: r.state.listing("ebay").status == "ended", "eBay sold out"
    )
    assert record.state.listing("ebay").units_sold == 2
    assert record.state.status == "active" and record.state.listing("amazon").status == "active"
    assert [o for o in deployment.ebay_offers() if o["status"] == "PUBLISHED"] == []
    assert deployment.store_price() == CLEARANCE_PRICE  # the campaign itself goes on
    assert any(e.step == "sold-out" and e.outcome == "ok" for e in deployment.timeline(campaign_id))


def test_tokens_refreshed_by_a_job_are_saved_back(deployment: Deployment) -> None:
    # Tokens that expire within the connectors' refresh margin: every job refreshes first.
    ttl = deployment.sandbox.control("POST", "/_sandbox/token-ttl", {"seconds": 30})
    assert ttl.status_code in (200, 204), ttl.text
    deployment.connect("ebay")
    connected = deployment.stored_account("ebay").tokens

    deployment.start_worker()
    campaign_id = deployment.create_campaign({"ebay": 2})
    _active(deployment, campaign_id)
    saved = deployment.stored_account("ebay").tokens
    assert saved.access_token != connected.access_token
    assert saved.expires_at > connected.expires_at
    grants = deployment.sandbox.control("GET", "/_sandbox/ebay/token_grants").json()
    assert "refresh_token" in grants


def test_a_campaign_whose_start_job_was_lost_is_started_from_the_database(
    deployment: Deployment,
) -> None:
    campaign_id = deployment.create_campaign({"ebay": 2}, enqueue=False)  # nothing queued
    deployment.start_worker(extra_env={"CHANNEL_ROUTER_WORKER_STALL_SECONDS": "2"})
    _active(deployment, campaign_id)
    assert deployment.store_price() == CLEARANCE_PRICE
    notes = [e.detail for e in deployment.timeline(campaign_id) if e.step == "sweep"]
    assert notes == ["stalled while starting: the start was queued again"]
