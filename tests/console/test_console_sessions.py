"""Console logins over HTTP: cookies, server-side sessions, CSRF, merchant isolation, headers."""

from __future__ import annotations

import httpx

from server.console.sessions import COOKIE, hashed
from server.db.connection import make_engine
from server.db.tables import build_tables
from tests.console.conftest import ConsoleClient, Site, run_apart


def _session_keys(site: Site) -> list[str]:
    """The stored session keys, read through an engine of our own (not the app's)."""
    table = build_tables(make_engine(site.config.database_url)).console_session

    async def keys() -> list[str]:
        return [r["session_key"] for r in await table.select(table.session_key).run()]

    return run_apart(keys())


def test_login_cookie_is_rotated_http_only_and_stored_hashed(
    site: Site, client: ConsoleClient
) -> None:
    _, key = site.create_merchant()
    client.get("/console/login")
    planted = "a" * 64  # an id set before login is worth nothing afterwards
    client.http.cookies.set(COOKIE, planted, path="/console")
    client.get("/console/login")
    answer = client.post("/console/login", {"api_key": key})
    assert answer.status_code == 303
    header = next(h for h in answer.headers.get_list("set-cookie") if h.startswith(COOKIE))
    assert "HttpOnly" in header and "SameSite=lax" in header and "Path=/console" in header
    session_id = answer.cookies[COOKIE]
    assert session_id != planted
    keys = _session_keys(site)
    assert hashed(session_id) in keys and session_id not in keys and hashed(planted) not in keys


def test_anonymous_visits_store_no_session(site: Site) -> None:
    before = len(_session_keys(site))
    for _ in range(3):
        assert httpx.get(site.url + "/console/login").status_code == 200
    assert len(_session_keys(site)) == before


def test_logout_ends_the_session_for_every_copy_of_the_cookie(
    site: Site, client: ConsoleClient
) -> None:
    _, key = site.create_merchant()
    client.login(key)
    copied = dict(client.http.cookies)
    client.post("/console/logout")
    replay = httpx.get(site.url + "/console/channels", cookies=copied)
    assert replay.status_code == 303 and replay.headers["location"].startswith("/console/login")


def test_a_merchant_sees_only_its_own_merchant(site: Site, client: ConsoleClient) -> None:
    mine, key = site.create_merchant()
    other, _ = site.create_merchant(external_excluded_categories=["Secret category"])
    client.login(key)
    picked = client.post("/console/merchant", {"merchant_id": other})
    assert picked.headers["location"] == "/console/channels"  # merchants have no picker
    page = client.get("/console/preferences")
    assert mine in page.text and other not in page.text and "Secret category" not in page.text


def test_a_post_without_the_csrf_token_is_refused(site: Site, client: ConsoleClient) -> None:
    merchant, key = site.create_merchant()
    client.login(key)
    answer = client.http.post("/console/preferences/categories/add", data={"category": "No token"})
    assert answer.status_code == 403 and "could not be verified" in answer.text
    assert site.settings(merchant)["external_excluded_categories"] == []


def test_the_console_refuses_what_the_api_refuses(site: Site, client: ConsoleClient) -> None:
    merchant, key = site.create_merchant()
    client.login(key)
    client.get("/console/preferences")
    too_long = "x" * 201
    api = site.api.put(
        f"/v1/merchants/{merchant}/settings",
        json={"external_excluded_categories": [too_long]},
        headers=site.admin,
    )
    page = client.post("/console/preferences/categories/add", {"category": too_long})
    assert api.status_code == 422 and page.status_code == 422
    assert "at most 200 characters" in page.text and 'aria-invalid="true"' in page.text
    assert site.settings(merchant)["external_excluded_categories"] == []


def test_pages_carry_a_strict_content_security_policy(site: Site, client: ConsoleClient) -> None:
    _, key = site.create_merchant()
    page = client.login(key)
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert site.sandbox_url in policy  # the form-action allows the consent pages only
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert httpx.get(site.url + "/console/static/console.js").status_code == 200
    assert "cdn" not in page.text.lower() and "https://" not in page.text
