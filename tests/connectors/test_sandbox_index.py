"""The sandbox's index page (GET /): its APIs, its control endpoints and what it holds now."""

from __future__ import annotations

import httpx

from tests.connectors.conftest import Sandbox


def test_index_page_lists_every_api_the_control_endpoints_and_the_state(sandbox: Sandbox) -> None:
    seeded = sandbox.control(
        "POST",
        "/_sandbox/shopify/variants",
        {"product_id": "8812", "variant_id": "4410", "price": "49.99"},
    )
    assert seeded.status_code in (200, 201), seeded.text
    page = httpx.get(sandbox.base_url + "/", timeout=10)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    for expected in (
        "/admin/api/{version}/graphql.json",  # Shopify
        "/identity/v1/oauth2/token",  # eBay
        "/sell/inventory/v1/offer/{offer_id}/publish",
        "/auth/o2/token",  # Login with Amazon
        "/listings/2021-08-01/items/{seller_id}/{sku}",  # Amazon
        "/orders/v0/orders",
        "/_sandbox/faults",  # control
        "/_sandbox/reset",
        f"export CHANNEL_ROUTER_EBAY_BASE_URL={sandbox.base_url}",
        "49.99",  # the state: the seeded variant
    ):
        assert expected in html, expected
    assert "<script" not in html  # nothing loaded from elsewhere, nothing to run


def test_index_as_json_for_programs(sandbox: Sandbox) -> None:
    sandbox.inject(kind="status", api="ebay", status=503, times=2)
    answer = httpx.get(
        sandbox.base_url + "/", headers={"Accept": "application/json"}, timeout=10
    ).json()
    apis = {api["api"]: api for api in answer["apis"]}
    assert set(apis) == {"shopify", "lwa", "ebay", "amazon", "consent", "control"}
    assert {e["path"] for e in apis["consent"]["endpoints"]} >= {"/oauth2/authorize"}
    listings = next(
        e for e in apis["amazon"]["endpoints"] if e["path"].startswith("/listings/2021-08-01")
    )
    assert listings["methods"] == ["DELETE", "GET", "PATCH", "PUT"]
    assert all(e["path"].startswith("/_sandbox/") for e in apis["control"]["endpoints"])
    assert [f["status"] for f in answer["state"]["faults"]] == [503]
    assert answer["base_url"] == sandbox.base_url


def test_index_visits_are_not_logged_as_api_requests(sandbox: Sandbox) -> None:
    for _ in range(3):
        httpx.get(sandbox.base_url + "/", timeout=10)
    logged = sandbox.control("GET", "/_sandbox/requests").json()
    assert [r for r in logged if r["path"] == "/"] == []
