"""The console in a real browser: Debian's headless Chromium driven by Playwright.

One browser per module (started once), a fresh context per test, one merchant per test, on
SQLite (the HTTP tests beside this file run the same flows on PostgreSQL as well).
Each test asserts on what the page shows and on the API state afterwards; key pages are
checked with axe-core (no serious or critical violation) at desktop and phone width and
saved as screenshots under artifacts/console/ (gitignored; CI keeps them).
Without /usr/bin/chromium the tests skip with that reason, unless
CHANNEL_ROUTER_REQUIRE_BROWSER=1 (CI), where that is a failure.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.console import campaign_data as data
from tests.console import live_campaign as live
from tests.console.conftest import Site, site_on

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
# The flags this machine needs (closed network: no background fetches, no QUIC, no sync).
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "console"
SERIOUS = ("serious", "critical")


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (apt-get install -y chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "Playwright for Python is not installed (pip install -e '.[dev]')"
    return None


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Site]:
    """SQLite only here: the pages run the same code on both databases, and the HTTP tests
    beside this file run every flow on PostgreSQL too (a browser run costs ~35 s)."""
    with site_on("sqlite", tmp_path_factory, redis_url, None) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium from Debian through Playwright's executable path (a fresh profile each)."""
    missing = _missing()
    if missing:
        if os.environ.get("CHANNEL_ROUTER_REQUIRE_BROWSER") == "1":
            pytest.fail(missing + " (CHANNEL_ROUTER_REQUIRE_BROWSER=1)")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
    try:
        yield chromium
    finally:
        chromium.close()
        playwright.stop()


@pytest.fixture
def page(site: Site, browser: Any) -> Iterator[Any]:
    context = browser.new_context(base_url=site.url, viewport=DESKTOP)
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def _axe_source() -> str:
    spec = importlib.util.find_spec("axe_playwright_python")
    assert spec is not None and spec.origin is not None
    return (Path(spec.origin).parent / "axe.min.js").read_text()


def check_page(page: Any, name: str, request: pytest.FixtureRequest) -> None:
    """axe-core at desktop and phone width, no sideways scrolling on a phone, screenshots."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    source = _axe_source()
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"), full_page=True)
        if "axe" not in page.evaluate("Object.keys(window)"):
            page.evaluate(source)
        result = page.evaluate("async () => await axe.run(document)")
        serious = [
            f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
            for v in result["violations"]
            if v["impact"] in SERIOUS
        ]
        assert not serious, f"{name} at {label} width:\n" + "\n".join(serious)
        if label == "phone":
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 1, f"{name} scrolls sideways at phone width by {overflow}px"
    page.set_viewport_size(DESKTOP)


def login(page: Any, key: str) -> None:
    page.goto("/console/login")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/console/(channels|merchant)"))


def flash(page: Any) -> str:
    text: str = page.locator(".flashes").inner_text()
    return text


def test_login_refuses_a_wrong_key_next_to_the_field_then_admits_the_right_one(
    page: Any, site: Site, request: pytest.FixtureRequest
) -> None:
    _, key = site.create_merchant()
    page.goto("/console/channels")
    assert "/console/login" in page.url  # not logged in: sent to the login page
    page.get_by_label("API key").fill("cr_" + "x" * 43)
    page.get_by_role("button", name="Log in").click()
    field = page.get_by_label("API key")
    assert field.get_attribute("aria-invalid") == "true"
    error = page.locator("#api_key-error")
    assert "This key is not valid" in error.inner_text()
    assert field.get_attribute("aria-describedby") == "api_key-hint api_key-error"
    check_page(page, "login-error", request)
    field.fill(key)
    page.keyboard.press("Enter")  # the form works from the keyboard
    page.wait_for_url("**/console/channels")
    assert page.get_by_role("heading", name="Channels", level=1).is_visible()
    cookie = next(c for c in page.context.cookies() if c["name"] == "cr_console_session")
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax"
    assert cookie["path"] == "/console"
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/console/login")
    page.goto("/console/preferences")
    assert "/console/login" in page.url


def test_keyboard_focus_is_visible(page: Any, site: Site) -> None:
    _, key = site.create_merchant()
    login(page, key)
    page.keyboard.press("Tab")
    focused = page.evaluate(
        "(() => { const e = document.activeElement; const s = getComputedStyle(e);"
        " return [e.textContent.trim(), s.outlineStyle, parseFloat(s.outlineWidth)]; })()"
    )
    assert focused[0] == "Skip to content"
    assert focused[1] != "none" and focused[2] >= 2


def test_connect_ebay_through_the_sandbox_consent_page(
    page: Any, site: Site, request: pytest.FixtureRequest
) -> None:
    merchant, key = site.create_merchant()
    login(page, key)
    card = page.locator("#channel-ebay")
    assert "Not connected" in card.inner_text()
    card.get_by_role("button", name=re.compile("Connect account")).click()
    page.wait_for_url(site.sandbox_url + "/oauth2/authorize*")
    assert page.get_by_role("heading", name=re.compile("Grant application access")).is_visible()
    page.get_by_role("button", name="Agree", exact=True).click()
    page.wait_for_url("**/console/channels*")
    assert "eBay account connected." in flash(page)
    card = page.locator("#channel-ebay")
    assert "Connected" in card.inner_text() and "EBAY_US" in card.inner_text()
    assert "sandbox_seller" in card.inner_text()  # the seller it is connected as
    assert card.get_by_role("button", name=re.compile("Disconnect")).is_visible()
    state = site.connection(merchant, "ebay")
    assert state["connected"] is True and state["marketplace_id"] == "EBAY_US"
    check_page(page, "channels-connected", request)
    page.once("dialog", lambda dialog: dialog.accept())  # "Disconnect the eBay account?"
    card.get_by_role("button", name=re.compile("Disconnect")).click()
    page.wait_for_selector(".flashes")
    assert "eBay account disconnected." in flash(page)
    assert site.connection(merchant, "ebay")["connected"] is False


def test_toggling_a_channel_saves_it(page: Any, site: Site) -> None:
    merchant, key = site.create_merchant(enabled_external_channels=["amazon"])
    login(page, key)
    switch = page.get_by_role("switch", name="Use eBay for routing")
    assert not switch.is_checked()
    switch.check()  # the script submits the switch's form at once
    page.wait_for_selector(".flashes")
    assert "eBay is now on for routing." in flash(page)
    assert page.get_by_role("switch", name="Use eBay for routing").is_checked()
    assert site.settings(merchant)["enabled_external_channels"] == ["amazon", "ebay"]
    page.get_by_role("switch", name="Use Amazon for routing").focus()
    page.keyboard.press("Space")  # by keyboard
    page.wait_for_url("**#channel-amazon")
    assert "Amazon is now off for routing." in flash(page)
    assert site.settings(merchant)["enabled_external_channels"] == ["ebay"]


def test_excluded_categories_add_and_remove(
    page: Any, site: Site, request: pytest.FixtureRequest
) -> None:
    merchant, key = site.create_merchant()
    login(page, key)
    page.get_by_role("link", name="Routing preferences").click()
    page.get_by_role("button", name="Add category").click()  # nothing typed
    assert "Enter a category name." in page.locator("#category-error").inner_text()
    assert page.get_by_label("Category to exclude").get_attribute("aria-invalid") == "true"
    page.get_by_label("Category to exclude").fill("Garden Tools")
    page.get_by_role("button", name="Add category").click()
    page.wait_for_selector(".flashes")
    assert "Garden Tools is now excluded" in flash(page)
    assert page.locator(".chips li > span").all_inner_texts() == ["Garden Tools"]
    assert site.settings(merchant)["external_excluded_categories"] == ["Garden Tools"]
    check_page(page, "preferences", request)
    page.get_by_role("button", name="Remove Garden Tools").click()
    page.wait_for_selector(".flashes")
    assert "No category is excluded." in page.locator("#categories").inner_text()
    assert site.settings(merchant)["external_excluded_categories"] == []


def test_reordering_channels_changes_who_gets_the_remainder(page: Any, site: Site) -> None:
    merchant, key = site.create_merchant(enabled_external_channels=["ebay", "amazon"])
    login(page, key)
    page.goto("/console/preferences")
    names = page.locator("ol.order .name")
    assert names.all_inner_texts() == ["eBay", "Amazon"]
    page.get_by_role("button", name="Move down eBay").click()
    page.wait_for_selector(".flashes")
    assert "eBay is now number 2 of 2." in flash(page)
    assert page.locator("ol.order .name").all_inner_texts() == ["Amazon", "eBay"]
    assert site.settings(merchant)["enabled_external_channels"] == ["amazon", "ebay"]
    assert page.get_by_role("button", name="Move up Amazon").is_disabled()


def test_explorer_shows_a_decision_and_an_override_side_by_side(
    page: Any, site: Site, request: pytest.FixtureRequest
) -> None:
    merchant, key = site.create_merchant(enabled_external_channels=["ebay", "amazon"])
    logged = site.api.post(
        "/v1/decide",
        headers={"Authorization": f"Bearer {key}"},
        json={
            "merchant_id": merchant,
            "product": {
                "product_id": "8812",
                "title": "Linen shirt",
                "category": "Apparel",
                "stock_quantity": 60,
                "days_since_last_sale": 45,
            },
            "proposal": {"proposed_price": "19.99"},
        },
    )
    assert logged.status_code == 200
    login(page, key)
    page.get_by_role("link", name="Decision explorer").click()
    page.get_by_role("link", name="Linen shirt").click()  # a recent decision from the log
    assert page.get_by_label("Units in stock").input_value() == "60"
    page.get_by_label("Parameter 1").select_option("dead_external_percent")
    page.get_by_label("Value 1").fill("50")
    page.get_by_role("button", name="Explain the decision").click()
    results = page.locator("article.result")
    assert results.count() == 2
    base, tried = results.nth(0), results.nth(1)

    def units(card: Any) -> dict[str, str]:
        rows = card.locator("table.allocation tbody tr")
        return {
            r.get_attribute("data-channel"): r.locator("td").first.inner_text() for r in rows.all()
        }

    assert units(base) == {"store": "18", "ebay": "21", "amazon": "21"}
    assert units(tried) == {"store": "30", "ebay": "15", "amazon": "15"}
    assert "The override changes the decision." in page.locator("#results").inner_text()
    assert "dead-stock matched" in base.locator("ol.trace").inner_text()
    changed = tried.locator("table.params tr.changed")
    assert changed.count() == 1 and "this campaign's override" in changed.inner_text()
    assert "Store 18 units (30.0%)" in base.locator("svg.bar title").text_content()
    assert base.locator("svg.bar rect.seg-store").get_attribute("width") == "30.0"
    assert tried.locator("svg.bar rect.seg-ebay").get_attribute("width") == "25.0"
    check_page(page, "explorer", request)
    page.get_by_label("Value 1").fill("lots")
    page.get_by_role("button", name="Explain the decision").click()
    assert "Enter a whole number." in page.locator("#override_1_value-error").inner_text()
    assert site.settings(merchant)["enabled_external_channels"] == ["ebay", "amazon"]


def test_a_forged_csrf_token_is_refused(page: Any, site: Site) -> None:
    merchant, key = site.create_merchant()
    login(page, key)
    page.goto("/console/preferences")
    page.get_by_label("Category to exclude").fill("Forged")
    page.evaluate(
        "document.querySelectorAll('input[name=_csrf_token]').forEach("
        "i => { i.value = 'f'.repeat(64) + '0'.repeat(64); })"
    )
    with page.expect_response(re.compile("/categories/add")) as answer:
        page.get_by_role("button", name="Add category").click()
    assert answer.value.status == 403
    assert page.get_by_role("heading", name="This form could not be verified").is_visible()
    assert site.settings(merchant)["external_excluded_categories"] == []


def test_the_admin_picks_a_merchant(page: Any, site: Site) -> None:
    merchant, _ = site.create_merchant()
    login(page, str(site.config.admin_token))
    assert "/console/merchant" in page.url
    page.get_by_label("Merchant").select_option(merchant)
    page.get_by_role("button", name="Open").click()
    page.wait_for_url("**/console/channels")
    assert f"acting for {merchant}" in page.locator("header").inner_text()


def test_a_campaign_is_cancelled_through_the_confirmation_by_keyboard(
    page: Any, site: Site, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A real campaign (POST /v1/execute, run by `channel-router worker` against the
    sandbox), followed and cancelled in the browser; the end is checked in the API and in
    the sandbox's own store price."""
    merchant, key = site.create_merchant(enabled_external_channels=["ebay", "amazon"])
    live.connect_accounts(site, merchant)
    live.seed_variant(site)
    older = data.create(site, key, merchant, title="Wool socks", created_at=datetime.now(UTC))
    log = tmp_path / "worker.log"
    with live.worker(site, log):
        made = live.execute(site, key, merchant, "Linen shirt")
        campaign_id = made["campaign_id"]
        live.wait_for(
            site,
            key,
            campaign_id,
            lambda c: c["status"] == "active",
            "listed on eBay and Amazon",
            log,
        )
        assert live.store_price(site) == live.CLEARANCE_PRICE
        login(page, key)
        page.get_by_role("link", name="Campaigns").click()
        rows = page.locator("table.campaigns tbody tr")
        assert [r.get_attribute("data-campaign") for r in rows.all()] == [
            campaign_id,
            older.campaign_id,
        ]
        page.get_by_label("Status").select_option("active")
        page.get_by_role("button", name="Show").click()
        assert page.locator("table.campaigns tbody tr").count() == 1
        check_page(page, "campaigns", request)
        page.get_by_role("link", name="Linen shirt").click()
        page.wait_for_url(f"**/console/campaigns/{campaign_id}")
        assert "Running" in page.locator("#status h2").inner_text()
        ebay = page.locator('#listings tr[data-channel="ebay"]').inner_text()
        assert "live" in ebay and "21" in ebay
        timeline = page.locator("#timeline").inner_text()
        assert "Setting the store price: done" in timeline
        assert "Listing on eBay: done" in timeline
        check_page(page, "campaign", request)
        page.get_by_role("link", name="Cancel this campaign…").focus()
        page.keyboard.press("Enter")
        page.wait_for_url("**/cancel#confirm")
        check_page(page, "campaign-cancel", request)
        page.keyboard.press("Tab")  # from the confirmation, focused on arrival, to its button
        focused = page.evaluate("document.activeElement.textContent.trim()")
        assert focused == "Yes, cancel the campaign"
        page.keyboard.press("Enter")
        page.wait_for_url(f"**/console/campaigns/{campaign_id}#status")
        assert "Cancel requested." in flash(page)
        assert page.locator("#status h2").inner_text().split(": ")[1] in (
            "Cancelling",
            "Cancelled",  # the worker may have finished the end already
        )
        assert page.get_by_role("link", name="Cancel this campaign…").count() == 0
        ended = live.wait_for(
            site, key, campaign_id, lambda c: c["status"] == "cancelled", "the verified end", log
        )
    assert ended["store"]["status"] == "reverted"
    assert live.store_price(site) == live.ORIGINAL_PRICE
    page.reload()
    assert "Cancelled" in page.locator("#status h2").inner_text()
    assert "back to the price before (49.99)" in page.locator("#store").inner_text()
    timeline = page.locator("#timeline").inner_text()
    assert "Putting the store price back: done" in timeline
    assert "Ending the campaign: done" in timeline
