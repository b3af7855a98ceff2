"""ShopifyStore inventory against the Shopify sandbox over real HTTP: reading levels, holding and
giving back units under the campaign's ledger document at most once, selling off held units, and
the schema's compare-and-set."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from connectors.base import ChannelAccount, InventoryLevel, InventoryMove
from connectors.config import ApiConfig
from connectors.errors import InventoryConflict, PermanentChannelError
from connectors.http import ApiClient
from connectors.shopify import ShopifyStore, ledger_uri
from sandbox.shopify_inventory import DEFAULT_LOCATION
from tests.connectors.conftest import Sandbox

TOKEN = "good-shpat-77aa88bb99cc"
SHOP = "acme.myshopify.com"
SECOND_LOCATION = "gid://shopify/Location/2"


def seed(sandbox: Sandbox, available: int = 60, **extra: Any) -> None:
    body = {"product_id": "8812", "variant_id": "4410", "price": "49.99", "available": available}
    response = sandbox.control("POST", "/_sandbox/shopify/variants", {**body, **extra})
    assert response.status_code == 201, response.text


def level(sandbox: Sandbox, location: str = DEFAULT_LOCATION) -> dict[str, Any]:
    data = sandbox.control("GET", "/_sandbox/shopify/inventory/4410").json()
    found: dict[str, Any] = next(lv for lv in data["levels"] if lv["location_id"] == location)
    return found


@pytest.fixture
def store(api: ApiClient, api_config: ApiConfig) -> ShopifyStore:
    return ShopifyStore(api, api_config)


@pytest.fixture
async def account(store: ShopifyStore, sandbox: Sandbox) -> ChannelAccount:
    return await store.connect({"shop_domain": SHOP, "access_token": TOKEN})


async def recorded(store: ShopifyStore, account: ChannelAccount) -> tuple[str, InventoryLevel]:
    """The inventory item and the level a caller records before its first move."""
    inventory = await store.read_inventory(account, "8812", "4410")
    before = inventory.level()
    assert before is not None
    return inventory.inventory_item_id, before


def hold(item: str, quantity: int, key: str = "hold", step: Any = "hold") -> InventoryMove:
    return InventoryMove(
        campaign_id="camp-7",
        move_key=key,
        step=step,
        inventory_item_id=item,
        location_id=DEFAULT_LOCATION,
        quantity=quantity,
    )


async def test_read_inventory_gives_price_item_and_every_level(
    store: ShopifyStore, account: ChannelAccount, sandbox: Sandbox
) -> None:
    seed(
        sandbox, levels=[{"location_id": SECOND_LOCATION, "available": 5, "location_name": "Shop"}]
    )
    inventory = await store.read_inventory(account, "8812", "4410")
    assert inventory.price == Decimal("49.99")
    assert inventory.inventory_item_id.startswith("gid://shopify/InventoryItem/")
    assert inventory.tracked is True
    assert {(lv.location_id, lv.available, lv.on_hand) for lv in inventory.levels} == {
        (DEFAULT_LOCATION, 60, 60),
        (SECOND_LOCATION, 5, 5),
    }
    assert inventory.available == 65
    assert inventory.level() == inventory.level(DEFAULT_LOCATION)


async def test_read_inventory_refuses_a_missing_variant_or_another_product(
    store: ShopifyStore, account: ChannelAccount, sandbox: Sandbox
) -> None:
    seed(sandbox)
    with pytest.raises(PermanentChannelError, match="does not exist"):
        await store.read_inventory(account, "8812", "999")
    with pytest.raises(PermanentChannelError, match="does not belong"):
        await store.read_inventory(account, "1", "4410")


async def test_hold_moves_units_to_reserved_under_the_campaign_ledger(
    store: ShopifyStore, account: ChannelAccount, sandbox: Sandbox
) -> None:
    seed(sandbox)
    item, _ = await recorded(store, account)
    outcome = await store.move_inventory(account, hold(item, 42))
    assert outcome.applied is True
    assert (outcome.before.available, outcome.before.reserved) == (60, 0)
    assert (outcome.after.available, outcome.after.reserved, outcome.after.on_hand) == (18, 42, 60)
    now = level(sandbox)
    assert (now["available"], now["reserved"], now["on_hand"]) == (18, 42, 60)
    assert now["by_document"] == [
        {"name": "reserved", "ledger_document_uri": ledger_uri("camp-7"), "quantity": 42}
    ]
    groups = sandbox.control("GET", "/_sandbox/shopify/inventory-adjustments").json()
    assert [(g["reason"], g["reference_document_uri"]) for g in groups] == [
        ("reservation_created", "channel-router://campaigns/camp-7/moves/hold")
    ]
    assert groups[0]["id"] == outcome.adjustment_group_id


async def test_a_retried_hold_with_the_recorded_level_never_moves_twice(
    store: ShopifyStore, account: ChannelAccount, sandbox: Sandbox
) -> None:
    seed(sandbox)
    item, before = await recorded(store, account)
    move = hold(item, 42)
    first = await store.move_inventory(account, move, before)
    # The job died after the mutation, before recording it: the retry brings the same record.
    retried = await store.move_inventory(account, move, before)
    assert (first.applied, retried.applied) == (True, False)
    assert retried.after.reserved == 42
    assert level(sandbox)["reserved"] == 42
    assert len(sandbox.control("GET", "/_sandbox/shopify/inventory-adjustments").json()) == 1


async def test_a_retry_makes_the_move_when_the_first_attempt_never_landed(
    store: ShopifyStore, account: ChannelAccount, sandbox: Sandbox
) -> None:
    seed(sandbox)
    item, before = await recorded(store, account)
    outcome = await store.move_inventory(account, hold(item, 10), before)
    assert outcome.applied is True
    assert level(sandbox)["reserved"] == 10


async def test_a_retry_refuses_when_someone_else_changed_the_held_units(
    store: ShopifyStore, account: ChannelAccount, sandbox: Sandbox
) -> None:
    seed(sandbox)
    item, before = await recorded(store, account)
    move = hold(item, 20)
    await store.move_inventory(account, move, before)
    released = sandbox.control("POST", "/_sandbox/shopify/inventory/4410/release", {"quantity": 5})
    assert released.status_code == 200, released.text
    with pytest.raises(InventoryConflict) as caught:
        await store.move_inventory(account, move, before)
    assert (caught.value.expected, caught.value.actual) == (0, 15)
    assert level(sandbox)["reserved"] == 15


async def test_release_and_sold_leave_reserved_and_sold_units_leave_on_hand(
    store: ShopifyStore, account: ChannelAccount, sandbox: Sandbox
) -> None:
    seed(sandbox)
    item = (await store.read_inventory(account, "8812", "4410")).inventory_item_id
    await store.move_inventory(account, hold(item, 42))
    sold = await store.move_inventory(account, hold(item, 7, "sold-ebay-1", "sold"))
    assert (sold.after.reserved, sold.after.on_hand) == (35, 53)
    back = await store.move_inventory(account, hold(item, 35, "release", "release"))
    assert (back.after.available, back.after.reserved, back.after.on_hand) == (53, 0, 53)
    now = level(sandbox)
    assert (now["available"], now["reserved"], now["on_hand"], now["by_document"]) == (
        53,
        0,
        53,
        [],
    )
    reasons = [
        g["reason"]
        for g in sandbox.control("GET", "/_sandbox/shopify/inventory-adjustments").json()
    ]
    assert reasons == ["reservation_created", "other", "reservation_deleted"]


async def test_holding_more_than_is_available_is_refused_and_changes_nothing(
    store: ShopifyStore, account: ChannelAccount, sandbox: Sandbox
) -> None:
    seed(sandbox, available=10)
    item = (await store.read_inventory(account, "8812", "4410")).inventory_item_id
    with pytest.raises(PermanentChannelError, match="can't be negative"):
        await store.move_inventory(account, hold(item, 11))
    now = level(sandbox)
    assert (now["available"], now["reserved"]) == (10, 0)


async def test_releasing_more_than_the_campaign_holds_is_refused(
    store: ShopifyStore, account: ChannelAccount, sandbox: Sandbox
) -> None:
    seed(sandbox)
    item = (await store.read_inventory(account, "8812", "4410")).inventory_item_id
    await store.move_inventory(account, hold(item, 5))
    other = InventoryMove(
        campaign_id="camp-other",
        move_key="release",
        step="release",
        inventory_item_id=item,
        location_id=DEFAULT_LOCATION,
        quantity=5,
    )
    with pytest.raises(PermanentChannelError, match="holds only 0"):
        await store.move_inventory(account, other)
    assert level(sandbox)["reserved"] == 5


async def test_set_available_is_a_compare_and_set(
    store: ShopifyStore, account: ChannelAccount, sandbox: Sandbox
) -> None:
    seed(sandbox)
    item = (await store.read_inventory(account, "8812", "4410")).inventory_item_id
    after = await store.set_available(account, item, DEFAULT_LOCATION, 50, compare_quantity=60)
    assert (after.available, after.on_hand) == (50, 50)
    sandbox.control("POST", "/_sandbox/shopify/inventory/4410/sell", {"quantity": 3})
    with pytest.raises(InventoryConflict) as caught:
        await store.set_available(account, item, DEFAULT_LOCATION, 40, compare_quantity=50)
    assert (caught.value.expected, caught.value.actual) == (50, 47)
    assert level(sandbox)["available"] == 47


async def test_read_level_refuses_an_item_not_stocked_at_the_location(
    store: ShopifyStore, account: ChannelAccount, sandbox: Sandbox
) -> None:
    seed(sandbox)
    item = (await store.read_inventory(account, "8812", "4410")).inventory_item_id
    with pytest.raises(PermanentChannelError, match="not stocked"):
        await store.read_level(account, item, SECOND_LOCATION)
