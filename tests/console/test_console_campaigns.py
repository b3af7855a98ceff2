"""The campaign pages over real HTTP, on both databases: the list (newest first, status
filter, "older" pages), the detail, another merchant's campaign as a 404, and cancelling
with the confirmation step and the CSRF check."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from tests.console import campaign_data as data
from tests.console.conftest import ConsoleClient, Site

CHANNELS = ["ebay", "amazon"]


def _merchant(site: Site) -> tuple[str, str]:
    return site.create_merchant(enabled_external_channels=CHANNELS)


def _listed(page_text: str) -> list[str]:
    return re.findall(r'<tr data-campaign="([^"]+)"', page_text)


def _older(page_text: str) -> str | None:
    found = re.search(r'href="(/console/campaigns\?[^"]*)" rel="next"', page_text)
    return found.group(1).replace("&amp;", "&") if found else None


def test_the_list_shows_the_merchants_campaigns_newest_first(
    site: Site, client: ConsoleClient
) -> None:
    merchant, key = _merchant(site)
    at = datetime.now(UTC) - timedelta(hours=2)
    old = data.create(site, key, merchant, created_at=at, title="Old boots")
    new = data.create(
        site,
        key,
        merchant,
        created_at=at + timedelta(minutes=5),
        title="Linen shirt",
        events=data.running_events(CHANNELS, at),
    )
    client.login(key)
    page = client.get("/console/campaigns")
    assert page.status_code == 200
    assert _listed(page.text) == [new.campaign_id, old.campaign_id]
    row = page.text.split(f'data-campaign="{new.campaign_id}"')[1].split("</tr>")[0]
    assert "Linen shirt" in row and "Running" in row
    assert "49.99" in row and "19.99" in row  # store price before -> after
    assert "Store 18" in row and "eBay 21" in row and "Amazon 21" in row
    assert 'aria-current="page"' in page.text.split(">Campaigns</a>")[0].rsplit("<a", 1)[1]


def test_the_status_filter_shows_only_that_status(site: Site, client: ConsoleClient) -> None:
    merchant, key = _merchant(site)
    at = datetime.now(UTC)
    pending = data.create(site, key, merchant)
    active = data.create(site, key, merchant, events=data.running_events(CHANNELS, at))
    client.login(key)
    assert _listed(client.get("/console/campaigns", status="active").text) == [active.campaign_id]
    assert _listed(client.get("/console/campaigns", status="pending").text) == [pending.campaign_id]
    none = client.get("/console/campaigns", status="cancelled")
    assert _listed(none.text) == [] and "No campaign has the status cancelled" in none.text
    wrong = client.get("/console/campaigns", status="<b>nope</b>")
    assert wrong.status_code == 400 and "Choose one of the statuses listed." in wrong.text
    assert "<b>nope</b>" not in wrong.text  # what was typed is escaped, not markup


def test_older_pages_walk_every_campaign_once_in_order(site: Site, client: ConsoleClient) -> None:
    merchant, key = _merchant(site)
    base = datetime.now(UTC) - timedelta(days=1)
    made = []
    for i in range(45):
        # Pairs share a creation time: the id breaks the tie, and no row is lost or repeated.
        made.append(data.create(site, key, merchant, created_at=base + timedelta(seconds=i // 2)))
    expected = [
        r.campaign_id
        for r in sorted(made, key=lambda r: (r.created_at, r.campaign_id), reverse=True)
    ]
    client.login(key)
    seen: list[str] = []
    path: str | None = "/console/campaigns"
    pages = 0
    while path is not None:
        page = client.http.get(path)
        assert page.status_code == 200
        seen += _listed(page.text)
        path = _older(page.text)
        pages += 1
    assert seen == expected and pages == 3


def test_paging_keeps_the_status_filter(site: Site, client: ConsoleClient) -> None:
    merchant, key = _merchant(site)
    base = datetime.now(UTC) - timedelta(days=1)
    at = datetime.now(UTC)
    active = [
        data.create(
            site,
            key,
            merchant,
            created_at=base + timedelta(minutes=i),
            events=data.running_events(CHANNELS, at) if i % 2 else (),
        )
        for i in range(44)
    ]
    wanted = {r.campaign_id for r in active if r.state.status == "active"}
    client.login(key)
    first = client.get("/console/campaigns", status="active")
    older = _older(first.text)
    assert older is not None and "status=active" in older
    second = client.http.get(older)
    assert set(_listed(first.text)) | set(_listed(second.text)) == wanted
    assert _older(second.text) is None


def test_a_broken_older_link_says_so_and_starts_again(site: Site, client: ConsoleClient) -> None:
    merchant, key = _merchant(site)
    made = data.create(site, key, merchant)
    client.login(key)
    page = client.get("/console/campaigns", older="not-a-cursor")
    assert page.status_code == 400 and "This page link is not valid" in page.text
    assert _listed(page.text) == [made.campaign_id]


def test_the_detail_shows_prices_listings_end_and_timeline(
    site: Site, client: ConsoleClient
) -> None:
    merchant, key = _merchant(site)
    at = datetime.now(UTC)
    events = (
        data.running_events(["ebay"], at)[:3]  # price set, eBay listed
        + data.failed_listing_events("amazon", "Amazon refused: brand not approved", at)
    )
    made = data.create(site, key, merchant, events=events)
    data.timeline(
        site,
        made.campaign_id,
        [
            ("store-price", "ok", None, 1, None),
            ("list", "retry", "amazon", 1, "HTTP 503 from Amazon"),
            ("list", "failed", "amazon", 2, "Amazon refused: brand not approved"),
            ("list", "ok", "ebay", 1, None),
            ("a-new-step", "info", None, 1, None),
        ],
    )
    client.login(key)
    page = client.get(f"/console/campaigns/{made.campaign_id}")
    assert page.status_code == 200
    text = page.text
    assert "Running" in text and "49.99" in text and "19.99" in text
    assert "the clearance price is on the store" in text
    ebay = text.split('<tr data-channel="ebay">')[1].split("</tr>")[0]
    assert made.skus["ebay"] in ebay and "L-0-ebay" in ebay and "live" in ebay and ">21<" in ebay
    amazon = text.split('<tr data-channel="amazon">')[1].split("</tr>")[0]
    assert "refused by the marketplace" in amazon and "brand not approved" in amazon
    timeline = text.split('id="timeline"')[1]
    lines = re.findall(r"<strong>([^<]+)</strong>", timeline)
    assert lines == [
        "Setting the store price: done",
        "Listing on Amazon: did not work, will try again",
        "Listing on Amazon: failed (attempt 2)",
        "Listing on eBay: done",
        "A new step",
    ]
    assert "HTTP 503 from Amazon" in timeline
    assert 'href="/console/campaigns/' + made.campaign_id + '/cancel#confirm"' in text


def test_a_price_changed_by_hand_is_shown_as_kept(site: Site, client: ConsoleClient) -> None:
    from execution.states import EndRequested, EndVerified, ListingWithdrawn, PriceKept

    merchant, key = _merchant(site)
    at = datetime.now(UTC)
    made = data.create(
        site,
        key,
        merchant,
        events=(
            *data.running_events(CHANNELS, at),
            EndRequested(reason="scheduled", at=at),
            PriceKept(price_now="44.00", at=at),
            ListingWithdrawn(channel="ebay", units_sold=3, at=at),
            ListingWithdrawn(channel="amazon", units_sold=0, at=at),
            EndVerified(at=at),
        ),
    )
    client.login(key)
    page = client.get(f"/console/campaigns/{made.campaign_id}").text
    assert "Completed" in page and "kept: changed by hand" in page
    assert "Cancel this campaign" not in page  # nothing left to cancel
    listing = client.get("/console/campaigns").text
    assert "(kept: changed by hand)" in listing and "eBay 21 (3 sold)" in listing


def test_another_merchants_campaign_is_a_404_that_shows_nothing_of_it(
    site: Site, client: ConsoleClient
) -> None:
    _, key = _merchant(site)
    other, other_key = _merchant(site)
    theirs = data.create(site, other_key, other, title="Their secret sofa")
    client.login(key)
    for path in ("", "/cancel"):
        page = client.get(f"/console/campaigns/{theirs.campaign_id}{path}")
        assert page.status_code == 404, path
        assert "Their secret sofa" not in page.text and theirs.campaign_id not in page.text
    assert client.get("/console/campaigns/no-such-campaign").status_code == 404
    assert "Their secret sofa" not in client.get("/console/campaigns").text
    client.get("/console/campaigns")
    refused = client.post(f"/console/campaigns/{theirs.campaign_id}/cancel")
    assert refused.status_code == 404
    assert data.get(site, theirs.campaign_id).state.end is None


def test_the_admin_sees_the_picked_merchants_campaigns(site: Site, client: ConsoleClient) -> None:
    merchant, key = _merchant(site)
    made = data.create(site, key, merchant)
    client.login(str(site.config.admin_token))
    assert client.get(f"/console/campaigns/{made.campaign_id}").status_code == 303  # pick first
    client.get("/console/merchant")
    client.post("/console/merchant", {"merchant_id": merchant})
    assert _listed(client.get("/console/campaigns").text) == [made.campaign_id]
    assert client.get(f"/console/campaigns/{made.campaign_id}").status_code == 200


def test_cancel_asks_first_then_requests_the_end(site: Site, client: ConsoleClient) -> None:
    merchant, key = _merchant(site)
    made = data.create(site, key, merchant, events=data.running_events(CHANNELS, datetime.now(UTC)))
    client.login(key)
    confirm = client.get(f"/console/campaigns/{made.campaign_id}/cancel")
    assert confirm.status_code == 200 and "Yes, cancel the campaign" in confirm.text
    assert "49.99" in confirm.text and "eBay listing" in confirm.text
    assert data.get(site, made.campaign_id).state.end is None  # asking changes nothing
    done = client.post(f"/console/campaigns/{made.campaign_id}/cancel")
    assert done.status_code == 303
    assert done.headers["location"] == f"/console/campaigns/{made.campaign_id}#status"
    state = data.get(site, made.campaign_id).state
    assert state.end is not None and state.end.reason == "cancelled"
    assert data.end_job_queued(site, made.campaign_id)  # the worker is asked to end it now
    page = client.follow(done).text
    assert "Cancel requested." in page and "Cancelling" in page
    assert "the store price, eBay, Amazon" in page  # what the end still has to do
    assert "Cancel this campaign" not in page
    data.finish_end(site, made.campaign_id, CHANNELS)  # the worker's end job
    page = client.get(f"/console/campaigns/{made.campaign_id}").text
    assert "Cancelled" in page and "back to the price before (49.99)" in page
    again = client.post(f"/console/campaigns/{made.campaign_id}/cancel")
    assert again.status_code == 303
    assert "nothing to cancel" in client.follow(again).text


def test_cancel_without_the_csrf_token_is_refused(site: Site, client: ConsoleClient) -> None:
    merchant, key = _merchant(site)
    made = data.create(site, key, merchant, events=data.running_events(CHANNELS, datetime.now(UTC)))
    client.login(key)
    client.get(f"/console/campaigns/{made.campaign_id}/cancel")
    path = f"/console/campaigns/{made.campaign_id}/cancel"
    missing = client.http.post(path, data={})
    forged = client.http.post(path, data={"_csrf_token": "f" * 64 + "0" * 64})
    for answer in (missing, forged):
        assert answer.status_code == 403 and "could not be verified" in answer.text
    assert data.get(site, made.campaign_id).state.end is None


def test_the_campaign_pages_need_a_login(site: Site) -> None:
    import httpx

    answer = httpx.get(site.url + "/console/campaigns?status=active")
    assert answer.status_code == 303
    assert (
        answer.headers["location"] == "/console/login?next=%2Fconsole%2Fcampaigns%3Fstatus%3Dactive"
    )
