"""What the execution tests need from the sandbox: faults on a share of the calls, a dropped
answer after the change was made, and GET /_sandbox/live (every store price and listing, and
how often each SKU's listing was created), over real HTTP."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from connectors.base import ListingRequest
from connectors.config import ApiConfig
from connectors.ebay import EbayChannel
from connectors.http import ApiClient
from sandbox.faults import FaultSpec, FaultTable
from tests.connectors.conftest import Sandbox, inject

OFFER = "/sell/inventory/v1/offer"


def _share(table: FaultTable, calls: int = 4000) -> float:
    hits = sum(table.take("GET", "/sell/inventory/v1/offer") is not None for _ in range(calls))
    return hits / calls


def test_a_fault_with_a_probability_strikes_that_share_of_calls() -> None:
    table = FaultTable()
    table.add(FaultSpec(kind="status", probability=0.3, seed=11, times=10**6))
    assert _share(table) == pytest.approx(0.3, abs=0.03)


def test_spared_calls_go_on_to_the_next_fault() -> None:
    """Four faults of 7.5 % of all calls each (conditional shares) fault 30 % of them."""
    table = FaultTable()
    for index, kind in enumerate(("status", "rate_limit", "delay", "drop")):
        share = 0.075 / (1 - 0.075 * index)
        table.add(FaultSpec(kind=kind, probability=share, seed=index, times=10**6))  # type: ignore[arg-type]
    assert _share(table) == pytest.approx(0.3, abs=0.03)


def test_a_seed_repeats_the_same_draws() -> None:
    def draws() -> list[bool]:
        table = FaultTable()
        table.add(FaultSpec(kind="drop", probability=0.5, seed=3, times=10**6))
        return [table.take("GET", OFFER) is not None for _ in range(50)]

    assert draws() == draws()


@pytest.mark.parametrize("probability", [0.0, 1.5])
def test_a_probability_outside_0_to_1_is_refused(sandbox: Sandbox, probability: float) -> None:
    refused = sandbox.control(
        "POST", "/_sandbox/faults", {"kind": "drop", "probability": probability}
    )
    assert refused.status_code == 400
    assert "probability" in refused.json()["detail"]


def _listing(sku: str) -> ListingRequest:
    return ListingRequest(
        sku=sku,
        title="Linen shirt",
        price=Decimal("19.99"),
        quantity=21,
        description="A linen shirt, clearance",
        category="Apparel",
    )


async def test_a_dropped_answer_after_the_create_leaves_one_listing(
    sandbox: Sandbox, api: ApiClient, api_config: ApiConfig
) -> None:
    """drop_after makes the offer, then breaks the answer; the connector's retry finds the
    offer, and the sandbox counts one creation, live."""
    ebay = EbayChannel(api, api_config)
    account = await ebay.authenticate({"authorization_code": "good-code"})
    inject(sandbox, kind="drop_after", api="ebay", path_prefix=OFFER, method="POST", times=1)

    created = await ebay.create_listing(account, _listing("cr-live-1"))

    log = sandbox.control("GET", "/_sandbox/requests").json()
    assert next(r["fault"] for r in log if r["path"] == OFFER and r["method"] == "POST") == (
        "drop_after"
    )
    live = sandbox.control("GET", "/_sandbox/live").json()
    assert live["created"]["ebay_offers"] == {"cr-live-1": 1}
    assert live["created"]["ebay_listings"] == {"cr-live-1": 1}
    [row] = live["listings"]
    assert row["api"] == "ebay" and row["sku"] == "cr-live-1" and row["live"] is True
    assert row["offer_id"] == created.external_listing_id
    assert (row["price"], row["quantity"]) == ("19.99", 21)

    await ebay.cancel_listing(account, "cr-live-1", created.external_listing_id)
    [row] = sandbox.control("GET", "/_sandbox/live").json()["listings"]
    assert row["live"] is False and row["status"] == "ENDED"


def test_live_shows_store_prices_by_variant_id(sandbox: Sandbox) -> None:
    seeded = sandbox.control(
        "POST",
        "/_sandbox/shopify/variants",
        {"product_id": "8812", "variant_id": "4410", "price": "49.99"},
    )
    assert seeded.status_code == 201, seeded.text
    sandbox.control("POST", "/_sandbox/shopify/variants/4410/price", {"price": "45.00"})
    live = httpx.get(sandbox.base_url + "/_sandbox/live", timeout=10).json()
    assert live["store_prices"] == {"4410": "45.00"}
    assert live["listings"] == []
    sandbox.control("POST", "/_sandbox/reset")
    assert sandbox.control("GET", "/_sandbox/live").json() == {
        "store_prices": {},
        "listings": [],
        "created": {"ebay_offers": {}, "ebay_listings": {}, "amazon_listings": {}},
    }
