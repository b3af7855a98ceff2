"""The sandbox's shared machinery over real HTTP: fault table semantics, control and inspection
endpoints, reset, spec validation helpers, GraphQL refusal, and the `sandbox` command."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime

import httpx
import pytest

from sandbox import specs
from sandbox.faults import FaultSpec, FaultTable, api_for_path
from tests.connectors.conftest import Sandbox, free_port, inject

GRAPHQL = "/admin/api/2025-01/graphql.json"
AUTH = {"X-Shopify-Access-Token": "good-token"}


def graphql(
    sandbox: Sandbox, query: str, variables: dict[str, object] | None = None
) -> httpx.Response:
    return httpx.post(
        sandbox.base_url + GRAPHQL,
        headers=AUTH,
        json={"query": query, "variables": variables or {}},
        timeout=10,
    )


# --- fault table ------------------------------------------------------------------------------


def test_fault_counts_down_and_disappears() -> None:
    table = FaultTable()
    table.add(FaultSpec(kind="status", status=503, times=2))
    assert table.take("GET", "/sell/inventory/v1/offer") is not None
    assert table.all()[0].remaining == 1
    assert table.take("GET", "/sell/inventory/v1/offer") is not None
    assert table.all() == []
    assert table.take("GET", "/sell/inventory/v1/offer") is None


def test_first_matching_fault_wins_and_filters_apply() -> None:
    table = FaultTable()
    table.add(FaultSpec(kind="status", status=500, api="amazon"))
    table.add(FaultSpec(kind="status", status=502, path_prefix="/sell/fulfillment/"))
    table.add(FaultSpec(kind="status", status=503, method="put"))
    table.add(FaultSpec(kind="status", status=504))
    assert table.take("GET", "/sell/inventory/v1/offer") == FaultSpec(kind="status", status=504)
    put = table.take("PUT", "/sell/inventory/v1/inventory_item/a")
    assert put is not None and put.status == 503
    fulfillment = table.take("GET", "/sell/fulfillment/v1/order")
    assert fulfillment is not None and fulfillment.status == 502
    amazon = table.take("GET", "/orders/v0/orders")
    assert amazon is not None and amazon.status == 500
    assert table.take("GET", "/orders/v0/orders") is None


@pytest.mark.parametrize(
    ("path", "api"),
    [
        ("/admin/api/2025-01/graphql.json", "shopify"),
        ("/auth/o2/token", "lwa"),
        ("/identity/v1/oauth2/token", "ebay"),
        ("/sell/account/v1/payment_policy", "ebay"),
        ("/listings/2021-08-01/items/S1/sku", "amazon"),
        ("/orders/v0/orders", "amazon"),
        ("/_sandbox/state", None),
    ],
)
def test_api_for_path(path: str, api: str | None) -> None:
    assert api_for_path(path) == api


def test_control_paths_are_never_faulted(sandbox: Sandbox) -> None:
    inject(sandbox, kind="status", status=500, times=5)
    assert sandbox.control("GET", "/_sandbox/state").status_code == 200
    assert sandbox.control("GET", "/_sandbox/faults").json()[0]["remaining"] == 5


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "explode"},
        {"kind": "status", "times": 0},
        {"kind": "status", "status": 42},
        {"kind": "delay", "delay_seconds": -1},
        {"kind": "status", "api": "etsy"},
        {"kind": "status", "colour": "red"},
        {"status": 500},
    ],
)
def test_invalid_faults_are_refused(sandbox: Sandbox, fault: dict[str, object]) -> None:
    response = sandbox.control("POST", "/_sandbox/faults", fault)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert sandbox.control("GET", "/_sandbox/faults").json() == []


def test_faults_list_and_clear(sandbox: Sandbox) -> None:
    first = inject(sandbox, kind="status", status=502, api="ebay", times=3)
    second = inject(sandbox, kind="delay", delay_seconds=0.1, path_prefix="/orders/")
    assert second["id"] == first["id"] + 1
    listed = sandbox.control("GET", "/_sandbox/faults").json()
    assert [(f["kind"], f["remaining"]) for f in listed] == [("status", 3), ("delay", 1)]
    assert sandbox.control("DELETE", "/_sandbox/faults").status_code == 204
    assert sandbox.control("GET", "/_sandbox/faults").json() == []


# --- fault kinds over the wire ----------------------------------------------------------------


def test_status_fault_uses_the_apis_error_shape(sandbox: Sandbox) -> None:
    inject(sandbox, kind="status", status=503, api="amazon", method="GET")
    response = httpx.get(sandbox.base_url + "/orders/v0/orders", timeout=10)
    assert response.status_code == 503
    assert response.json()["errors"][0]["code"] == "InternalFailure"


def test_rate_limit_fault_is_429_with_retry_after_for_rest_apis(sandbox: Sandbox) -> None:
    inject(sandbox, kind="rate_limit", api="ebay", retry_after=2)
    inject(sandbox, kind="rate_limit", api="amazon", retry_after=1.2)
    ebay = httpx.post(sandbox.base_url + "/identity/v1/oauth2/token", timeout=10)
    assert (ebay.status_code, ebay.headers["retry-after"]) == (429, "2")
    assert ebay.json()["errors"][0]["errorId"] == 2001
    amazon = httpx.get(sandbox.base_url + "/orders/v0/orders", timeout=10)
    assert (amazon.status_code, amazon.headers["retry-after"]) == (429, "2")  # whole seconds
    assert amazon.json()["errors"][0]["code"] == "QuotaExceeded"


def test_rate_limit_fault_is_a_throttled_200_for_shopify(sandbox: Sandbox) -> None:
    inject(sandbox, kind="rate_limit", api="shopify", retry_after=2.5)
    response = graphql(sandbox, "{ shop { name } }")
    assert response.status_code == 200
    body = response.json()
    assert body["errors"][0]["extensions"]["code"] == "THROTTLED"
    cost = body["extensions"]["cost"]
    status = cost["throttleStatus"]
    wait = (cost["requestedQueryCost"] - status["currentlyAvailable"]) / status["restoreRate"]
    assert wait == pytest.approx(2.5)


def test_delay_fault_slows_the_answer(sandbox: Sandbox) -> None:
    inject(sandbox, kind="delay", api="shopify", delay_seconds=0.3)
    started = time.monotonic()
    response = graphql(sandbox, "{ shop { name } }")
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.3


def test_drop_fault_breaks_the_connection(sandbox: Sandbox) -> None:
    inject(sandbox, kind="drop", api="shopify")
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        graphql(sandbox, "{ shop { name } }")
    assert graphql(sandbox, "{ shop { name } }").status_code == 200


def test_requests_are_logged_with_the_fault_applied(sandbox: Sandbox) -> None:
    inject(sandbox, kind="status", status=500, api="shopify")
    graphql(sandbox, "{ shop { name } }")
    graphql(sandbox, "{ shop { name } }")
    logged = [r for r in sandbox.control("GET", "/_sandbox/requests").json() if r["api"]]
    arrivals = [r.pop("at") for r in logged]
    assert logged == [
        {"api": "shopify", "method": "POST", "path": GRAPHQL, "fault": "status"},
        {"api": "shopify", "method": "POST", "path": GRAPHQL, "fault": None},
    ]
    assert arrivals == sorted(arrivals) and arrivals[0] > 0


# --- reset, token TTL, state ------------------------------------------------------------------


def test_reset_empties_everything(sandbox: Sandbox) -> None:
    sandbox.control(
        "POST", "/_sandbox/shopify/variants", {"product_id": "1", "variant_id": "2", "price": "3"}
    )
    inject(sandbox, kind="status", status=500)
    assert sandbox.control("POST", "/_sandbox/token-ttl", {"seconds": 5}).status_code == 200
    sandbox.state.tokens["x"] = ("ebay", datetime.now(UTC))
    assert sandbox.control("POST", "/_sandbox/reset").status_code == 204
    state = sandbox.control("GET", "/_sandbox/state").json()
    assert state["faults"] == [] and state["tokens_issued"] == 0
    assert state["token_ttl_seconds"] == 7200
    assert state["shopify"]["variants"] == []
    assert sandbox.control("GET", "/_sandbox/shopify/variants").json() == []


def test_token_ttl_is_settable_and_validated(sandbox: Sandbox) -> None:
    assert sandbox.control("POST", "/_sandbox/token-ttl", {"seconds": 1}).json() == {"seconds": 1}
    assert sandbox.state.token_ttl_seconds == 1
    assert sandbox.control("POST", "/_sandbox/token-ttl", {"seconds": -1}).status_code == 400
    assert sandbox.control("POST", "/_sandbox/token-ttl", {"secs": 1}).status_code == 400


def test_state_summary_covers_every_api(sandbox: Sandbox) -> None:
    sandbox.control(
        "POST",
        "/_sandbox/shopify/variants",
        {"product_id": "8812", "variant_id": "4410", "price": "49.99"},
    )
    state = sandbox.control("GET", "/_sandbox/state").json()
    assert set(state) >= {
        "faults",
        "token_ttl_seconds",
        "tokens_issued",
        "ebay",
        "amazon",
        "shopify",
    }
    assert state["shopify"]["variants"] == [
        {
            "product_id": "gid://shopify/Product/8812",
            "variant_id": "gid://shopify/ProductVariant/4410",
            "price": "49.99",
            "compare_at_price": None,
            "title": "Default Title",
            "sku": "",
        }
    ]


def test_seeding_a_variant_validates_its_body(sandbox: Sandbox) -> None:
    response = sandbox.control("POST", "/_sandbox/shopify/variants", {"product_id": "1"})
    assert response.status_code == 400


# --- Shopify GraphQL refusals -----------------------------------------------------------------


def test_unknown_field_is_refused_like_shopify(sandbox: Sandbox) -> None:
    response = graphql(sandbox, '{ productVariant(id: "gid://shopify/ProductVariant/1") { cost } }')
    assert response.status_code == 200
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["message"] == "Cannot query field 'cost' on type 'ProductVariant'."


def test_syntax_error_is_refused(sandbox: Sandbox) -> None:
    body = graphql(sandbox, "{ shop { name }").json()
    assert body["errors"][0]["message"].startswith("Syntax Error")


def test_removed_mutation_is_refused(sandbox: Sandbox) -> None:
    # productVariantUpdate is not in 2025-01 (see the Shopify notes)
    query = (
        'mutation { productVariantUpdate(input: {id: "x", price: "1"}) { userErrors { message } } }'
    )
    body = graphql(sandbox, query).json()
    assert "productVariantUpdate" in body["errors"][0]["message"]


@pytest.mark.parametrize(
    ("variables", "fragment"),
    [
        ({"productId": "gid://shopify/Product/1"}, "$variants"),
        (
            {"productId": "gid://shopify/Product/1", "variants": [{"id": "x", "prise": "1"}]},
            "prise",
        ),
        ({"productId": ["a"], "variants": []}, "$productId"),
        (
            {
                "productId": "gid://shopify/Product/1",
                "variants": [{"id": "x", "price": "1", "taxable": "yes"}],
            },
            "taxable",
        ),
    ],
)
def test_wrong_variables_are_refused(
    sandbox: Sandbox, variables: dict[str, object], fragment: str
) -> None:
    query = (
        "mutation($productId: ID!, $variants: [ProductVariantsBulkInput!]!) {"
        " productVariantsBulkUpdate(productId: $productId, variants: $variants)"
        " { userErrors { message } } }"
    )
    body = graphql(sandbox, query, variables).json()
    assert "data" not in body
    assert fragment in body["errors"][0]["message"]


def test_missing_query_is_a_400(sandbox: Sandbox) -> None:
    response = httpx.post(sandbox.base_url + GRAPHQL, headers=AUTH, json={"q": 1}, timeout=10)
    assert response.status_code == 400
    assert response.json() == {"errors": {"query": "Required parameter missing or invalid"}}


def test_wrong_token_is_a_401(sandbox: Sandbox) -> None:
    response = httpx.post(
        sandbox.base_url + GRAPHQL,
        headers={"X-Shopify-Access-Token": "nope"},
        json={"query": "{ shop { name } }"},
        timeout=10,
    )
    assert response.status_code == 401
    assert "Invalid API key or access token" in response.json()["errors"]


def test_every_answer_carries_the_query_cost(sandbox: Sandbox) -> None:
    body = graphql(sandbox, "{ shop { name } }").json()
    assert body["data"] == {"shop": {"name": "Sandbox Shop"}}
    assert body["extensions"]["cost"]["requestedQueryCost"] == 1.0


# --- spec validation helpers ------------------------------------------------------------------


def test_validate_body_reports_problems_against_the_official_specs() -> None:
    assert specs.validate_body("amazon", "putListingsItem", {"productType": 3}) == [
        "body: 'attributes' is a required property",
        "body.productType: 3 is not of type 'string'",
    ]
    problems = specs.validate_body(
        "ebay",
        "createOrReplaceInventoryItem",
        {"availability": {"shipToLocationAvailability": {"quantity": "ten"}}},
    )
    assert problems == [
        "body.availability.shipToLocationAvailability.quantity: 'ten' is not of type 'integer'"
    ]
    assert specs.validate_body("ebay", ("put", "/inventory_item/{sku}"), {"condition": "NEW"}) == []


def test_validate_body_for_an_unknown_operation_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        specs.validate_body("ebay", "noSuchOperation", {})


# --- the command --------------------------------------------------------------------------------


def test_sandbox_command_serves_and_prints_its_url_and_env() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "sandbox", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert f"http://127.0.0.1:{port}" in first
        lines = [process.stdout.readline() for _ in range(5)]
        assert f"  export CHANNEL_ROUTER_SHOPIFY_BASE_URL=http://127.0.0.1:{port}\n" in lines
        assert (
            f"  export CHANNEL_ROUTER_AMAZON_TOKEN_URL=http://127.0.0.1:{port}/auth/o2/token\n"
            in lines
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/_sandbox/state", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "sandbox did not start"
                assert process.poll() is None, "sandbox exited"
                time.sleep(0.05)
        assert response.status_code == 200
        assert response.json()["faults"] == []
    finally:
        process.terminate()
        process.wait(timeout=10)
