"""Connect account through each marketplace's consent page (the sandbox's), over real HTTP:
the state checks, the exchange through the one connect path, and what the page shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from server.console.oauth import ConsentRefused, OAuthStates
from server.console.sessions import hashed
from server.db.connection import make_engine, migrate
from server.db.tables import build_tables
from tests.console.conftest import AMAZON_APP_ID, ConsoleClient, Site, query_of


def _start(client: ConsoleClient, channel: str, **asked: str) -> httpx.Response:
    """Press "Connect account": the answer sends the browser to the consent page."""
    client.get("/console/channels")
    response = client.post(f"/console/channels/{channel}/connect", asked)
    assert response.status_code == 303, response.text
    return response


def _consent(site: Site, leave: httpx.Response, path: str, **choice: str) -> httpx.Response:
    """Open the sandbox's consent page and answer it; returns the redirect back to us."""
    location = leave.headers["location"]
    page = httpx.get(location)
    assert page.status_code == 200, page.text
    asked = query_of(location)
    form = {k: asked[k] for k in ("redirect_uri", "state", "shop") if k in asked}
    answer = httpx.post(site.sandbox_url + path, data={**form, "decision": "yes", **choice})
    assert answer.status_code == 302, answer.text
    return answer


def _flashes(client: ConsoleClient) -> str:
    return client.get("/console/channels").text


def test_amazon_connect_runs_the_website_authorization(site: Site, client: ConsoleClient) -> None:
    merchant, key = site.create_merchant()
    client.login(key)
    grants = site.sandbox.amazon.token_grants.get("authorization_code", 0)
    leave = _start(client, "amazon")
    consent = leave.headers["location"]
    assert consent.startswith(site.sandbox_url + "/apps/authorize/consent?")
    assert query_of(consent)["application_id"] == AMAZON_APP_ID
    back = _consent(site, leave, "/apps/authorize/consent", selling_partner_id="A1SELLER42")
    done = client.follow(back)
    assert done.status_code == 303 and done.headers["location"].startswith("/console/channels")
    assert "Amazon account connected." in _flashes(client)
    state = site.connection(merchant, "amazon")
    assert state["connected"] is True and state["seller_id"] == "A1SELLER42"
    assert site.sandbox.amazon.token_grants.get("authorization_code") == grants + 1


def test_ebay_connect_shows_the_seller_it_is_connected_as(
    site: Site, client: ConsoleClient
) -> None:
    merchant, key = site.create_merchant()
    client.login(key)
    leave = _start(client, "ebay")
    scopes = query_of(leave.headers["location"])["scope"].split()
    assert "https://api.ebay.com/oauth/api_scope/commerce.identity.readonly" in scopes
    client.follow(_consent(site, leave, "/oauth2/authorize"))
    state = site.connection(merchant, "ebay")
    assert state["connected"] is True and state["seller_id"] == "sandbox_seller"
    card = client.get("/console/channels").text.split('id="channel-ebay"')[1].split("</section>")[0]
    assert "<dt>Seller</dt><dd>sandbox_seller</dd>" in card


def test_shopify_install_verifies_the_signature_and_exchanges_the_code(
    site: Site, client: ConsoleClient
) -> None:
    merchant, key = site.create_merchant()
    client.login(key)
    leave = _start(client, "shopify", shop_domain="acme-test.myshopify.com")
    assert query_of(leave.headers["location"])["scope"] == "read_products,write_products"
    back = _consent(site, leave, "/admin/oauth/authorize")
    code = query_of(back.headers["location"])["code"]
    assert code in site.sandbox.shopify.install_codes
    client.follow(back)
    state = site.connection(merchant, "shopify")
    assert state["connected"] is True and state["marketplace_id"] == "acme-test.myshopify.com"
    assert code not in site.sandbox.shopify.install_codes  # exchanged, once


def test_shopify_answer_with_a_forged_signature_is_refused(
    site: Site, client: ConsoleClient
) -> None:
    merchant, key = site.create_merchant()
    client.login(key)
    leave = _start(client, "shopify", shop_domain="acme-test.myshopify.com")
    back = _consent(site, leave, "/admin/oauth/authorize")
    forged = back.headers["location"].replace("hmac=", "hmac=0")
    client.follow(httpx.Response(302, headers={"location": forged}))
    assert "signature on the answer does not verify" in _flashes(client)
    assert site.connection(merchant, "shopify")["connected"] is False


def test_shop_domain_is_checked_next_to_the_field(site: Site, client: ConsoleClient) -> None:
    _, key = site.create_merchant()
    client.login(key)
    client.get("/console/channels")
    page = client.post("/console/channels/shopify/connect", {"shop_domain": "not a host"})
    assert page.status_code == 422
    assert 'id="shopify-shop_domain-error"' in page.text
    assert "like acme.myshopify.com" in page.text


def test_a_state_works_once(site: Site, client: ConsoleClient) -> None:
    merchant, key = site.create_merchant()
    client.login(key)
    back = _consent(site, _start(client, "ebay"), "/oauth2/authorize")
    client.follow(back)
    assert site.connection(merchant, "ebay")["connected"] is True
    site.api.delete(f"/v1/merchants/{merchant}/channels/ebay/credentials", headers=site.admin)
    client.follow(back)  # the same answer again
    assert "was used already" in _flashes(client)
    assert site.connection(merchant, "ebay")["connected"] is False


def test_a_state_from_another_session_is_refused(site: Site, client: ConsoleClient) -> None:
    merchant, key = site.create_merchant()
    client.login(key)
    back = _consent(site, _start(client, "ebay"), "/oauth2/authorize")
    other = ConsoleClient(site.url)  # the same merchant, logged in elsewhere
    try:
        other.login(key)
        other.follow(back)
        assert "does not belong to a connect started in this session" in _flashes(other)
    finally:
        other.close()
    assert site.connection(merchant, "ebay")["connected"] is False
    client.follow(back)  # the session that asked can still use it
    assert site.connection(merchant, "ebay")["connected"] is True


def test_a_declined_consent_connects_nothing(site: Site, client: ConsoleClient) -> None:
    merchant, key = site.create_merchant()
    client.login(key)
    back = _consent(site, _start(client, "ebay"), "/oauth2/authorize", decision="no")
    assert "error=access_denied" in back.headers["location"]
    client.follow(back)
    assert "did not grant access (access denied)" in _flashes(client)
    assert site.connection(merchant, "ebay")["connected"] is False


def test_a_refused_code_is_reported_and_nothing_stored(site: Site, client: ConsoleClient) -> None:
    merchant, key = site.create_merchant()
    client.login(key)
    back = _consent(site, _start(client, "ebay"), "/oauth2/authorize")
    refused = back.headers["location"].replace("code=good", "code=bad")
    client.follow(httpx.Response(302, headers={"location": refused}))
    assert "eBay was not connected" in _flashes(client)
    assert site.connection(merchant, "ebay")["connected"] is False


def test_disconnect_forgets_the_account_and_no_secret_is_ever_shown(
    site: Site, client: ConsoleClient
) -> None:
    merchant, key = site.create_merchant()
    client.login(key)
    client.follow(_consent(site, _start(client, "ebay"), "/oauth2/authorize"))
    page = client.get("/console/channels")
    assert "Connected" in page.text
    issued = list(site.sandbox.tokens) + list(site.sandbox.ebay.refresh_tokens)
    assert issued and not any(token in page.text for token in issued)
    assert site.config.secret_key not in page.text
    done = client.post("/console/channels/ebay/disconnect")
    assert done.status_code == 303
    assert "eBay account disconnected." in client.follow(done).text
    assert site.connection(merchant, "ebay")["connected"] is False


@pytest.mark.parametrize("case", ["expired", "other channel"])
async def test_state_store_refuses_expired_and_misrouted_states(
    database_url: str, case: str
) -> None:
    engine = make_engine(database_url)
    tables = build_tables(engine)
    await migrate(engine, tables)
    ttl = timedelta(seconds=-1) if case == "expired" else timedelta(minutes=5)
    states = OAuthStates(tables, ttl)
    session = hashed("a session id")
    state = await states.issue(session, "acme", "ebay", {})
    rows = await tables.console_oauth_state.select().run()
    assert [r["state_key"] for r in rows] == [hashed(state)]  # stored hashed, never in clear
    channel = "ebay" if case == "expired" else "amazon"
    with pytest.raises(ConsentRefused):
        await states.consume(state, session, channel)
    with pytest.raises(ConsentRefused, match="used already"):
        await states.consume(state, session, "ebay")
    assert rows[0]["expires_at"] < datetime.now(UTC) + timedelta(minutes=6)


def test_connection_endpoints_keep_to_the_merchant(site: Site) -> None:
    mine, key = site.create_merchant()
    other, _ = site.create_merchant()
    bearer = {"Authorization": f"Bearer {key}"}
    path = "/v1/merchants/{}/channels/{}/credentials"
    assert site.api.get(path.format(mine, "ebay"), headers=bearer).json()["connected"] is False
    assert site.api.get(path.format(other, "ebay"), headers=bearer).status_code == 403
    assert site.api.delete(path.format(other, "ebay"), headers=bearer).status_code == 403
    assert site.api.get(path.format(mine, "etsy"), headers=bearer).status_code == 404
    assert site.api.delete(path.format(mine, "ebay"), headers=bearer).status_code == 404
    assert site.api.get(path.format(mine, "ebay")).status_code == 401
