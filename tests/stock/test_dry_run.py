"""The dry run of /v1/execute (server.execute_preflight) on both backends, against the sandbox
over HTTP: the plan, every problem by channel and field, and nothing changed but the decision log
(the sandbox's state and our tables, decision log aside, are identical before and after)."""

from __future__ import annotations

import copy
from typing import Any

import msgspec

from engine.types import DecideRequest
from execution.sku import campaign_sku
from server.accounts import connect_and_save
from server.campaigns import generated_campaign_id
from server.db.credentials import CredentialStore
from server.execute_preflight import dry_run
from server.services import Services
from tests.connectors.conftest import Sandbox
from tests.server.helpers import decide_body
from tests.stock.conftest import CREDENTIALS, connected

SANDBOX_VIEWS = (
    "/_sandbox/shopify/variants",
    "/_sandbox/shopify/inventory",
    "/_sandbox/shopify/price-updates",
    "/_sandbox/shopify/inventory-adjustments",
    "/_sandbox/ebay/offers",
    "/_sandbox/ebay/inventory_items",
    "/_sandbox/amazon/listings",
)


def sandbox_state(sandbox: Sandbox) -> dict[str, Any]:
    """Everything a campaign could change on the marketplaces and the store."""
    return {path: sandbox.control("GET", path).json() for path in SANDBOX_VIEWS}


async def table_counts(svc: Services) -> dict[str, int]:
    """Rows of every campaign table (a dry run writes none)."""
    t = svc.tables
    tables = {
        "campaign": t.campaign,
        "campaign_listing": t.campaign_listing,
        "store_price_change": t.store_price_change,
        "idempotency_key": t.idempotency_key,
        "campaign_event": t.campaign_event,
    }
    return {name: await table.count().run() for name, table in tables.items()}


def seed_variant(sandbox: Sandbox, available: int = 60, price: str = "49.99") -> None:
    seed = {"product_id": "8812", "variant_id": "4410", "price": price, "available": available}
    response = sandbox.control("POST", "/_sandbox/shopify/variants", seed)
    assert response.status_code == 201, response.text


def request(**changes: Any) -> DecideRequest:
    body = decide_body("acme")
    body["product"]["category"] = "11450"  # an eBay category id: no warning about it
    body = {**copy.deepcopy(body), **changes}
    return msgspec.convert(body, DecideRequest)


async def test_dry_run_answers_the_plan_and_changes_nothing(
    svc: Services, sandbox: Sandbox
) -> None:
    seed_variant(sandbox)
    await connected(svc)
    before, rows_before = sandbox_state(sandbox), await table_counts(svc)
    logged_before = await svc.tables.decision_log.count().run()

    answer = await dry_run(svc, request())

    assert answer.ok is True, answer.problems
    assert answer.problems == []
    assert answer.decision.rule_id == "dead-stock"
    plan = answer.plan
    assert (plan.store.price_before, plan.store.price_after) == ("49.99", "19.99")
    assert (plan.store.available, plan.store.units_to_hold, plan.store_units) == (60, 42, 18)
    assert [(c.channel, c.units, c.checked_by) for c in plan.channels] == [
        ("ebay", 21, "local"),
        ("amazon", 21, "marketplace"),
    ]
    assert all(c.sku.startswith("cr-4410-") for c in plan.channels)
    assert plan.channels[0].sku != plan.channels[1].sku  # one SKU per channel
    assert [c.call for c in plan.calls][:2] == [
        "productVariantsBulkUpdate",
        "inventoryMoveQuantities",
    ]
    assert sandbox_state(sandbox) == before
    assert await table_counts(svc) == rows_before
    await svc.decision_log.drain()
    assert await svc.tables.decision_log.count().run() == logged_before + 1


async def test_missing_account_and_amazon_refusal_are_named_by_channel_and_field(
    svc: Services, sandbox: Sandbox
) -> None:
    seed_variant(sandbox)
    await connected(svc, channels=("shopify", "amazon"))  # eBay never connected
    before = sandbox_state(sandbox)

    body = decide_body("acme")
    body["product"]["category"] = "11450"
    body["proposal"]["proposed_price"] = "0"  # Amazon's VALIDATION_PREVIEW refuses the offer
    answer = await dry_run(svc, msgspec.convert(body, DecideRequest))

    assert answer.ok is False
    found = [(p.channel, p.field, p.severity) for p in answer.problems]
    assert ("ebay", "credentials", "error") in found
    assert ("amazon", "attributes.purchasable_offer", "error") in found
    assert all(p.channel in ("ebay", "amazon") for p in answer.problems)
    assert sandbox_state(sandbox) == before


async def test_no_store_connection_and_stock_short(svc: Services, sandbox: Sandbox) -> None:
    seed_variant(sandbox, available=30)
    await connected(svc, channels=("ebay", "amazon"))
    answer = await dry_run(svc, request())
    assert [(p.channel, p.field) for p in answer.problems] == [("shopify", "credentials")]
    assert answer.plan.store.price_before is None

    store = CredentialStore(svc.tables, svc.secret_box)
    await connect_and_save(
        store, "acme", "shopify", CREDENTIALS["shopify"], svc.http, svc.config.env
    )
    short = await dry_run(svc, request())
    assert short.ok is True  # a warning: the campaign would allocate the 30 units there are
    [problem] = short.problems
    assert (problem.channel, problem.code, problem.severity) == (
        "shopify",
        "STOCK_SHORT",
        "warning",
    )


async def test_the_dry_run_never_shows_a_token(svc: Services, sandbox: Sandbox) -> None:
    seed_variant(sandbox)
    await connected(svc)
    answer = await dry_run(svc, request())
    text = msgspec.json.encode(answer).decode()
    for secret in ("shpat_good_stock", "good-code-stock"):
        assert secret not in text


async def test_the_plan_names_the_skus_the_execute_would_list_under(
    svc: Services, sandbox: Sandbox
) -> None:
    seed_variant(sandbox)
    await connected(svc)
    answer = await dry_run(svc, request(), idempotency_key="key-1")
    campaign_id = generated_campaign_id("acme", "key-1")
    assert answer.campaign_id == campaign_id
    assert [c.sku for c in answer.plan.channels] == [
        campaign_sku("acme", campaign_id, channel, "4410") for channel in ("ebay", "amazon")
    ]
