"""Holds on the store (execution.holds) against the sandbox over HTTP, on both backends, with the
test Redis for the locks: 30 campaigns share one variant; faults lose mutation answers after the
sandbox made the move; every unit is accounted for in the sandbox's own state."""

from __future__ import annotations

import asyncio
import random
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import httpx
import msgspec
import pytest

from connectors.base import ChannelAccount
from connectors.config import ApiConfig
from connectors.errors import ChannelError
from connectors.http import ApiClient
from connectors.shopify import ShopifyStore, ledger_uri
from execution.holds import HoldLedger, Holds, redis_locks
from server.services import Services
from tests.connectors.conftest import Sandbox

T = TypeVar("T")
VARIANT = "4410"
STOCK = 500
CAMPAIGNS = 30


class Shop(msgspec.Struct):
    store: ShopifyStore
    account: ChannelAccount
    holds: Holds


@pytest.fixture
async def shop(svc: Services, sandbox: Sandbox) -> AsyncIterator[Shop]:
    seed = {"product_id": "8812", "variant_id": VARIANT, "price": "49.99", "available": STOCK}
    assert sandbox.control("POST", "/_sandbox/shopify/variants", seed).status_code == 201
    config = ApiConfig(shopify_base_url=sandbox.base_url, timeout_seconds=0.5, max_attempts=3)
    async with httpx.AsyncClient() as client:
        store = ShopifyStore(ApiClient(client, config), config)
        account = await store.connect(
            {"shop_domain": "acme.myshopify.com", "access_token": "shpat_good_holds"}
        )
        # A lost answer keeps its location locked this long (longer than the 0.8 s delays).
        locks = redis_locks(svc.redis, f"test-holds-{secrets.token_hex(4)}", ttl=2)
        yield Shop(store, account, Holds(HoldLedger(svc.tables), locks))


def level(sandbox: Sandbox) -> dict[str, Any]:
    """The variant's one level as the sandbox holds it."""
    [found] = sandbox.control("GET", f"/_sandbox/shopify/inventory/{VARIANT}").json()["levels"]
    return dict(found)


def reserved_by_campaign(sandbox: Sandbox) -> dict[str, int]:
    return {
        d["ledger_document_uri"]: d["quantity"]
        for d in level(sandbox)["by_document"]
        if d["name"] == "reserved"
    }


async def until_done(step: Callable[[], Awaitable[T]], attempts: int = 30) -> T:
    """What a job queue does: try again after a transient failure (a lost answer)."""
    for _ in range(attempts - 1):
        try:
            return await step()
        except ChannelError as exc:
            if not exc.transient:
                raise
    return await step()


def allocation(i: int) -> list[tuple[str, int]]:
    return [("ebay", 8 + i % 7), ("amazon", 8 + i % 5)]


async def test_one_campaign_holds_sells_and_gives_back(shop: Shop, sandbox: Sandbox) -> None:
    args = {"campaign_id": "c-1", "merchant_id": "acme"}
    held = await shop.holds.hold(
        shop.store,
        shop.account,
        product_id="8812",
        variant_id=VARIANT,
        allocations=[("ebay", 21), ("amazon", 21)],
        **args,
    )
    assert (held.units, held.reason) == ({"ebay": 21, "amazon": 21}, None)
    assert (level(sandbox)["available"], level(sandbox)["reserved"]) == (STOCK - 42, 42)
    assert reserved_by_campaign(sandbox) == {ledger_uri("c-1"): 42}
    again = await shop.holds.hold(
        shop.store,
        shop.account,
        product_id="8812",
        variant_id=VARIANT,
        allocations=[("ebay", 21), ("amazon", 21)],
        **args,
    )
    assert again.units == held.units and level(sandbox)["reserved"] == 42  # a retry: no move

    assert (
        await shop.holds.sold(shop.store, shop.account, channel="ebay", units_sold=5, **args) == 5
    )
    assert (
        await shop.holds.sold(shop.store, shop.account, channel="ebay", units_sold=5, **args) == 0
    )
    assert (
        await shop.holds.sold(shop.store, shop.account, channel="amazon", units_sold=25, **args)
        == 21
    )
    returned = await shop.holds.release(shop.store, shop.account, **args)
    assert returned == {"ebay": 16, "amazon": 0}
    assert await shop.holds.release(shop.store, shop.account, **args) == {"ebay": 0, "amazon": 0}

    after = level(sandbox)
    assert (after["available"], after["reserved"], after["on_hand"]) == (
        STOCK - 26,
        0,
        STOCK - 26,
    )
    view = await shop.holds.units("c-1")
    assert (view.held, view.sold, view.returned, view.still_held, view.oversold) == (
        42,
        26,
        16,
        0,
        4,
    )
    assert view.channels["amazon"]["oversold"] == 4


async def test_a_short_store_is_shared_by_the_rule_and_says_why(
    shop: Shop, sandbox: Sandbox
) -> None:
    sandbox.control("POST", f"/_sandbox/shopify/inventory/{VARIANT}/set", {"available": 31})
    held = await shop.holds.hold(
        shop.store,
        shop.account,
        campaign_id="c-short",
        merchant_id="acme",
        product_id="8812",
        variant_id=VARIANT,
        allocations=[("ebay", 21), ("amazon", 21)],
    )
    assert held.units == {"ebay": 16, "amazon": 15}
    assert held.reason is not None and "31 units available" in held.reason
    assert (level(sandbox)["available"], level(sandbox)["reserved"]) == (0, 31)
    assert (await shop.holds.units("c-short")).reason == held.reason


async def test_thirty_campaigns_on_one_variant_under_lost_answers(
    shop: Shop, sandbox: Sandbox
) -> None:
    """Faults: answers delayed past the client's timeout (the sandbox still makes the move) and
    connections dropped after the move; every step is retried until it goes through."""
    for kind in ("delay", "drop", "status"):
        sandbox.inject(
            kind=kind, api="shopify", method="POST", times=6, delay_seconds=0.8, status=503
        )
    wanted = {f"c-{i}": allocation(i) for i in range(CAMPAIGNS)}

    async def hold(campaign_id: str) -> Any:
        return await until_done(
            lambda: shop.holds.hold(
                shop.store,
                shop.account,
                campaign_id=campaign_id,
                merchant_id="acme",
                product_id="8812",
                variant_id=VARIANT,
                allocations=wanted[campaign_id],
            )
        )

    outcomes = dict(zip(wanted, await asyncio.gather(*(hold(c) for c in wanted)), strict=True))
    total_wanted = sum(u for alloc in wanted.values() for _, u in alloc)
    total_held = sum(o.total for o in outcomes.values())
    assert total_wanted > STOCK  # some campaigns come too late for all their units
    assert total_held == STOCK  # ... and get what is left, never more
    assert any(o.reason for o in outcomes.values())
    for campaign_id, outcome in outcomes.items():
        for channel, units in wanted[campaign_id]:
            assert outcome.units[channel] <= units
    now = level(sandbox)
    assert (now["available"], now["reserved"]) == (STOCK - total_held, total_held)
    by_doc = reserved_by_campaign(sandbox)
    for campaign_id, outcome in outcomes.items():  # no unit both on the store and held twice
        assert by_doc.get(ledger_uri(campaign_id), 0) == outcome.total

    rng = random.Random(11)
    sales = {
        c: {ch: rng.randint(0, o.units[ch] + 2) for ch in o.units} for c, o in outcomes.items()
    }
    for kind in ("delay", "drop"):
        sandbox.inject(kind=kind, api="shopify", method="POST", times=5, delay_seconds=0.8)

    async def close(campaign_id: str) -> None:
        for channel, units in sales[campaign_id].items():
            await until_done(
                lambda channel=channel, units=units: shop.holds.sold(
                    shop.store,
                    shop.account,
                    campaign_id=campaign_id,
                    merchant_id="acme",
                    channel=channel,
                    units_sold=units,
                )
            )
        await until_done(
            lambda: shop.holds.release(
                shop.store, shop.account, campaign_id=campaign_id, merchant_id="acme"
            )
        )

    await asyncio.gather(*(close(c) for c in outcomes))
    sold_total = 0
    for campaign_id, outcome in outcomes.items():
        view = await shop.holds.units(campaign_id)
        assert view.held == outcome.total
        assert view.held == view.sold + view.returned  # held + returned + sold = allocated
        assert view.still_held == 0 and view.conflicts == []
        for channel, units in sales[campaign_id].items():
            assert view.channels[channel]["sold"] == min(units, outcome.units[channel])
            assert view.channels[channel]["oversold"] == max(0, units - outcome.units[channel])
        sold_total += view.sold
    final = level(sandbox)
    assert (final["available"], final["reserved"]) == (STOCK - sold_total, 0)
    assert final["on_hand"] == STOCK - sold_total
