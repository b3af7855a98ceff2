"""The sandbox's Shopify inventory: documents checked against the 2025-01 schema, Shopify's
ledger and quantity rules as userErrors, drift control endpoints, and (property) the quantity
invariants under any sequence of mutations."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox import shopify_inventory as inv
from sandbox.shopify import GraphqlRequest, ShopifyState, ShopifyVariant, run_graphql
from tests.connectors.conftest import Sandbox

TOKEN = "good-shpat-inventory-tests"
GRAPHQL = "/admin/api/2025-01/graphql.json"
LOCATION = inv.DEFAULT_LOCATION
VARIANT = "gid://shopify/ProductVariant/4410"
MOVE = """mutation M($input: InventoryMoveQuantitiesInput!) { inventoryMoveQuantities(input: $input)
  { inventoryAdjustmentGroup { id } userErrors { field message code } } }"""
ADJUST = """mutation A($input: InventoryAdjustQuantitiesInput!) {
  inventoryAdjustQuantities(input: $input) {
    inventoryAdjustmentGroup { id } userErrors { code } } }"""
SET = """mutation S($input: InventorySetQuantitiesInput!) { inventorySetQuantities(input: $input)
  { inventoryAdjustmentGroup { id } userErrors { code } } }"""
ITEM_QUERY = "query Q($id: ID!) { productVariant(id: $id) { inventoryItem { id } } }"


def graphql(sandbox: Sandbox, query: str, variables: dict[str, Any] | None = None) -> Any:
    response = httpx.post(
        sandbox.base_url + GRAPHQL,
        json={"query": query, "variables": variables or {}},
        headers={"X-Shopify-Access-Token": TOKEN},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


def seeded(sandbox: Sandbox, available: int = 60) -> str:
    body = {"product_id": "8812", "variant_id": "4410", "price": "49.99", "available": available}
    created = sandbox.control("POST", "/_sandbox/shopify/variants", body)
    assert created.status_code == 201, created.text
    item: str = created.json()["inventory_item_id"]
    return item


def move_input(item: str, quantity: int = 5, **overrides: Any) -> dict[str, Any]:
    change = {
        "inventoryItemId": item,
        "quantity": quantity,
        "from": {"locationId": LOCATION, "name": "available"},
        "to": {"locationId": LOCATION, "name": "reserved", "ledgerDocumentUri": "app://c/1"},
    }
    base = {"reason": "reservation_created", "referenceDocumentUri": "app://c/1/hold"}
    return {**base, "changes": [change], **overrides}


def codes(body: Any, field: str) -> list[str]:
    return [e["code"] for e in body["data"][field]["userErrors"]]


def test_a_document_outside_the_schema_is_refused(sandbox: Sandbox) -> None:
    seeded(sandbox)
    body = graphql(sandbox, '{ productVariant(id: "x") { inventoryItem { stockOnHand } } }')
    assert "data" not in body
    assert "stockOnHand" in body["errors"][0]["message"]


def test_quantities_must_have_known_names(sandbox: Sandbox) -> None:
    item = seeded(sandbox)
    query = """query Q($item: ID!, $loc: ID!) { inventoryItem(id: $item) {
      inventoryLevel(locationId: $loc) {
        quantities(names: ["available", "sold"]) { quantity } } } }"""
    body = graphql(sandbox, query, {"item": item, "loc": LOCATION})
    assert "Invalid quantity names: sold" in body["errors"][0]["message"]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"to": {"locationId": LOCATION, "name": "reserved"}}, "INVALID_QUANTITY_DOCUMENT"),
        (
            {
                "to": {
                    "locationId": LOCATION,
                    "name": "reserved",
                    "ledgerDocumentUri": "gid://shopify/Order/1",
                }
            },
            "INTERNAL_LEDGER_DOCUMENT",
        ),
        (
            {"from": {"locationId": LOCATION, "name": "available", "ledgerDocumentUri": "app://x"}},
            "INVALID_AVAILABLE_DOCUMENT",
        ),
        ({"to": {"locationId": LOCATION, "name": "available"}}, "SAME_QUANTITY_NAME"),
        (
            {
                "to": {
                    "locationId": "gid://shopify/Location/1",
                    "name": "on_hand",
                    "ledgerDocumentUri": "a://b",
                }
            },
            "INVALID_QUANTITY_NAME",
        ),
        ({"quantity": -1}, "INVALID_QUANTITY_NEGATIVE"),
        ({"quantity": 61}, "INVALID_QUANTITY_NEGATIVE"),
        ({"inventoryItemId": "gid://shopify/InventoryItem/1"}, "INVALID_INVENTORY_ITEM"),
    ],
)
def test_move_rules_answer_shopify_user_errors_and_change_nothing(
    sandbox: Sandbox, change: dict[str, Any], code: str
) -> None:
    item = seeded(sandbox)
    data = move_input(item)
    data["changes"][0].update(change)
    body = graphql(sandbox, MOVE, {"input": data})
    assert code in codes(body, "inventoryMoveQuantities")
    assert body["data"]["inventoryMoveQuantities"]["inventoryAdjustmentGroup"] is None
    levels = sandbox.control("GET", "/_sandbox/shopify/inventory/4410").json()["levels"]
    assert (levels[0]["available"], levels[0]["reserved"]) == (60, 0)


def test_reason_and_reference_are_checked(sandbox: Sandbox) -> None:
    item = seeded(sandbox)
    body = graphql(
        sandbox, MOVE, {"input": move_input(item, reason="because", referenceDocumentUri="no uri")}
    )
    assert sorted(codes(body, "inventoryMoveQuantities")) == [
        "INVALID_REASON",
        "INVALID_REFERENCE_DOCUMENT",
    ]


def test_adjust_and_set_follow_their_rules(sandbox: Sandbox) -> None:
    item = seeded(sandbox)
    change = {"delta": 3, "inventoryItemId": item, "locationId": LOCATION}
    adjust = {"reason": "received", "name": "available", "changes": [change]}
    assert codes(graphql(sandbox, ADJUST, {"input": adjust}), "inventoryAdjustQuantities") == []
    bad = {**adjust, "name": "reserved"}
    assert codes(graphql(sandbox, ADJUST, {"input": bad}), "inventoryAdjustQuantities") == [
        "INVALID_QUANTITY_DOCUMENT"
    ]
    entry = {"inventoryItemId": item, "locationId": LOCATION, "quantity": 10}
    set_input = {"reason": "correction", "name": "available", "quantities": [entry]}
    assert codes(graphql(sandbox, SET, {"input": set_input}), "inventorySetQuantities") == [
        "COMPARE_QUANTITY_REQUIRED"
    ]
    ignored = {**set_input, "ignoreCompareQuantity": True}
    assert codes(graphql(sandbox, SET, {"input": ignored}), "inventorySetQuantities") == []
    on_hand = {**set_input, "name": "committed", "ignoreCompareQuantity": True}
    assert codes(graphql(sandbox, SET, {"input": on_hand}), "inventorySetQuantities") == [
        "INVALID_NAME"
    ]
    level = sandbox.control("GET", "/_sandbox/shopify/inventory/4410").json()["levels"][0]
    assert (level["available"], level["on_hand"]) == (10, 10)


def test_drift_controls_sell_release_count_and_reprice(sandbox: Sandbox) -> None:
    item = seeded(sandbox)
    assert (
        codes(graphql(sandbox, MOVE, {"input": move_input(item, 20)}), "inventoryMoveQuantities")
        == []
    )
    sold = sandbox.control("POST", "/_sandbox/shopify/inventory/4410/sell", {"quantity": 4})
    assert sold.status_code == 200, sold.text
    level = sold.json()["levels"][0]
    assert (level["available"], level["committed"], level["reserved"], level["on_hand"]) == (
        36,
        4,
        20,
        60,
    )
    too_many = sandbox.control("POST", "/_sandbox/shopify/inventory/4410/sell", {"quantity": 99})
    assert too_many.status_code == 409
    released = sandbox.control("POST", "/_sandbox/shopify/inventory/4410/release", {})
    assert released.json()["levels"][0]["reserved"] == 0
    assert released.json()["levels"][0]["available"] == 56
    counted = sandbox.control("POST", "/_sandbox/shopify/inventory/4410/set", {"available": 7})
    assert counted.json()["levels"][0]["available"] == 7
    priced = sandbox.control("POST", "/_sandbox/shopify/variants/4410/price", {"price": "44.00"})
    assert priced.json()["price"] == "44.00"
    assert sandbox.control("GET", "/_sandbox/shopify/price-updates").json() == []
    assert (
        sandbox.control("POST", "/_sandbox/shopify/inventory/9/sell", {"quantity": 1}).status_code
        == 404
    )


def test_reset_forgets_inventory(sandbox: Sandbox) -> None:
    seeded(sandbox)
    assert sandbox.control("POST", "/_sandbox/reset").status_code == 204
    assert sandbox.control("GET", "/_sandbox/shopify/inventory").json() == []
    assert sandbox.control("GET", "/_sandbox/shopify/inventory-adjustments").json() == []


# --- property: the quantity invariants hold after any sequence of mutations -------------------

NAMES = st.sampled_from(["available", "reserved", "damaged", "on_hand", "committed"])
LEDGERS = st.sampled_from([None, "app://c/1", "app://c/2"])


@st.composite
def operations(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    kind = draw(st.sampled_from(["move", "adjust", "set"]))
    quantity = draw(st.integers(-5, 40))
    if kind == "move":
        change = {
            "quantity": quantity,
            "from": {
                "locationId": LOCATION,
                "name": draw(NAMES),
                "ledgerDocumentUri": draw(LEDGERS),
            },
            "to": {"locationId": LOCATION, "name": draw(NAMES), "ledgerDocumentUri": draw(LEDGERS)},
        }
        return MOVE, {
            "reason": "reservation_created",
            "referenceDocumentUri": "a://r",
            "changes": [change],
        }
    if kind == "adjust":
        change = {"delta": quantity, "locationId": LOCATION, "ledgerDocumentUri": draw(LEDGERS)}
        return ADJUST, {"reason": "other", "name": draw(NAMES), "changes": [change]}
    entry = {
        "locationId": LOCATION,
        "quantity": quantity,
        "compareQuantity": draw(st.integers(0, 60)),
    }
    return SET, {"reason": "correction", "name": draw(NAMES), "quantities": [entry]}


@settings(max_examples=60, deadline=None)
@given(st.lists(operations(), max_size=12))
def test_quantities_stay_consistent_whatever_is_asked(
    ops: list[tuple[str, dict[str, Any]]],
) -> None:
    shop = ShopifyState()
    shop.variants[VARIANT] = ShopifyVariant("gid://shopify/Product/1", VARIANT, Decimal("5"))
    inv.seed_levels(shop.inventory, VARIANT, [inv.SeedLevel(available=30)])
    item = shop.inventory.item_for_variant(VARIANT).item_id
    shop.maximum_available = shop.available = 1e9
    level = shop.inventory.levels[(item, LOCATION)]
    for query, data in ops:
        for change in data.get("changes", data.get("quantities", [])):
            change["inventoryItemId"] = item
        before = (dict(level.quantities), dict(level.by_document))
        body = run_graphql(shop, GraphqlRequest(query=query, variables={"input": data}))
        payload = next(iter(body["data"].values()))
        if payload["userErrors"]:
            assert (level.quantities, level.by_document) == before  # all or nothing
        assert all(value >= 0 for value in level.quantities.values())
        assert level.quantity("on_hand") == sum(level.quantities[n] for n in inv.ON_HAND_PARTS)
        for name in ("reserved", "damaged"):
            held = sum(q for (n, _), q in level.by_document.items() if n == name)
            assert held == level.quantities[name]
