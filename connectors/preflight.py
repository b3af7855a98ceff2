"""Pre-flight check of a campaign: every check that can be made without changing anything.

Given a merchant's connected accounts and a decision, `preflight` checks that the store and each
channel the decision lists are connected and their tokens refresh, reads the variant's price and
stock, validates each listing (Amazon by VALIDATION_PREVIEW, eBay by its publish rules checked on
our side), and returns the plan (the calls a campaign would make, units per channel, the price
before and after) with every problem found, each naming its channel and field. It reads only:
no price, listing or stock is changed (a refreshed access token stays in the given account object;
the caller decides whether to keep it). Channel errors become problems; nothing is raised for them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

import msgspec

from connectors.base import (
    ChannelAccount,
    ExternalChannel,
    ListingProblem,
    ListingRequest,
    StoreConnector,
    StoreInventory,
    ValidationSource,
)
from connectors.errors import ChannelError
from engine.types import Decision, ExternalAllocation, Product, Proposal


class PlannedCall(msgspec.Struct, frozen=True):
    """One marketplace or store call the campaign would make, in order per channel."""

    channel: str
    call: str
    detail: str


class StorePlan(msgspec.Struct, frozen=True):
    """What would happen on the store: the price change and the units held off it."""

    platform: str
    product_id: str
    variant_id: str
    price_before: str | None
    price_after: str
    available: int | None
    units_to_hold: int
    location_id: str | None = None
    inventory_item_id: str | None = None


class ChannelPlan(msgspec.Struct, frozen=True):
    """What would happen on one external channel."""

    channel: str
    units: int
    price: str
    duration_days: int
    sku: str
    checked_by: ValidationSource


class Plan(msgspec.Struct, frozen=True):
    """The whole campaign as it would run."""

    store: StorePlan
    channels: list[ChannelPlan]
    store_units: int
    calls: list[PlannedCall]


class PreflightReport(msgspec.Struct, frozen=True):
    """The plan and every problem; `ok` when no problem is an error (warnings may remain)."""

    ok: bool
    plan: Plan
    problems: list[ListingProblem]


def _problem(
    channel: str, field: str, message: str, code: str = "", warn: bool = False
) -> ListingProblem:
    return ListingProblem(channel, field, message, code, "warning" if warn else "error")


def _channel_error(channel: str, field: str, exc: ChannelError) -> ListingProblem:
    code = "TRANSIENT" if exc.transient else (str(exc.status) if exc.status is not None else "")
    return _problem(channel, field, exc.message, code)


async def _check_store(
    store: StoreConnector | None,
    account: ChannelAccount | None,
    platform: str,
    product: Product,
) -> tuple[StoreInventory | None, list[ListingProblem]]:
    """Read the variant's price and stock; problems when it cannot be read."""
    if store is None or account is None:
        return None, [_problem(platform, "credentials", f"the {platform} store is not connected")]
    if not product.variant_id:
        return None, [_problem(platform, "product.variant_id", "a variant id is required")]
    try:
        inventory = await store.read_inventory(account, product.product_id, product.variant_id)
    except ChannelError as exc:
        return None, [_channel_error(platform, "product.variant_id", exc)]
    return inventory, []


async def _check_channel(
    connector: ExternalChannel | None,
    account: ChannelAccount | None,
    allocation: ExternalAllocation,
    listing: ListingRequest,
) -> tuple[ValidationSource, list[ListingProblem]]:
    """Connected, token refreshes, listing validates."""
    name = allocation.channel
    if connector is None:
        return "none", [_problem(name, "channel", f"no connector for channel {name!r}")]
    if account is None:
        return "none", [_problem(name, "credentials", f"the {name} account is not connected")]
    try:
        await connector.refresh(account)
    except ChannelError as exc:
        return "none", [_channel_error(name, "credentials", exc)]
    try:
        validation = await connector.validate_listing(account, listing)
    except ChannelError as exc:
        return "none", [_channel_error(name, "listing", exc)]
    return validation.checked_by, list(validation.problems)


def _money(value: str) -> Decimal | None:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def _planned_calls(store: StorePlan, channels: list[ChannelPlan]) -> list[PlannedCall]:
    calls = [
        PlannedCall(
            store.platform,
            "productVariantsBulkUpdate",
            f"price {store.price_before or '?'} -> {store.price_after}",
        )
    ]
    if store.units_to_hold:
        calls.append(
            PlannedCall(
                store.platform,
                "inventoryMoveQuantities",
                f"hold {store.units_to_hold} units: available -> reserved at "
                f"{store.location_id or 'the variant location'}",
            )
        )
    for plan in channels:
        if plan.channel == "ebay":
            steps = [
                ("createOrReplaceInventoryItem", f"sku {plan.sku}, quantity {plan.units}"),
                ("createOffer or updateOffer", f"price {plan.price}, quantity {plan.units}"),
                ("publishOffer", "fixed price, good till cancelled"),
            ]
        elif plan.channel == "amazon":
            steps = [("putListingsItem", f"sku {plan.sku}, price {plan.price}, qty {plan.units}")]
        else:
            steps = [("create_listing", f"sku {plan.sku}, price {plan.price}, qty {plan.units}")]
        calls.extend(PlannedCall(plan.channel, call, detail) for call, detail in steps)
    return calls


async def preflight(
    *,
    decision: Decision,
    product: Product,
    proposal: Proposal,
    store: StoreConnector | None,
    store_account: ChannelAccount | None,
    channels: Mapping[str, ExternalChannel],
    accounts: Mapping[str, ChannelAccount],
    sku: str | Mapping[str, str],
    platform: str = "shopify",
) -> PreflightReport:
    """Check everything a campaign for `decision` needs, changing nothing (see the module doc).

    `channels` and `accounts` are the connectors and connected accounts by channel name (a
    missing account = not connected); `sku` is the SKU the campaign would list under (one for
    every channel, or one per channel name)."""
    external = [a for a in decision.external_channels if a.allocated_units > 0]
    skus = {a.channel: sku if isinstance(sku, str) else sku[a.channel] for a in external}
    listings = {
        a.channel: ListingRequest(
            sku=skus[a.channel],
            title=product.title,
            price=_money(str(a.price)) or Decimal(0),
            quantity=a.allocated_units,
            category=product.category,
            product_id=product.product_id,
            variant_id=product.variant_id or "",
        )
        for a in external
    }
    store_task = asyncio.create_task(_check_store(store, store_account, platform, product))
    channel_results = await asyncio.gather(
        *(
            _check_channel(channels.get(a.channel), accounts.get(a.channel), a, listings[a.channel])
            for a in external
        )
    )
    inventory, store_problems = await store_task
    problems = list(store_problems)
    held = sum(a.allocated_units for a in external)
    level = inventory.level() if inventory is not None else None
    if inventory is not None:
        if not inventory.tracked:
            problems.append(
                _problem(
                    platform,
                    "inventoryItem.tracked",
                    "the store does not track this variant's inventory: units cannot be held",
                )
            )
        if inventory.available < held:
            problems.append(
                _problem(
                    platform,
                    "product.stock_quantity",
                    f"the store has {inventory.available} units available but the decision sends "
                    f"{held} to external channels; the campaign would allocate the available units",
                    "STOCK_SHORT",
                    warn=True,
                )
            )
        if level is not None and held > level.available and len(inventory.levels) > 1:
            problems.append(
                _problem(
                    platform,
                    "location",
                    f"no single location holds {held} units (most: {level.available} at "
                    f"{level.location_name or level.location_id})",
                    "STOCK_SPLIT",
                    warn=True,
                )
            )
        current = _money(str(product.current_price)) if product.current_price is not None else None
        if current is not None and current != inventory.price:
            problems.append(
                _problem(
                    platform,
                    "product.current_price",
                    f"the store price is {inventory.price}, "
                    f"the request says {product.current_price}",
                    "PRICE_DIFFERS",
                    warn=True,
                )
            )
    channel_plans: list[ChannelPlan] = []
    for allocation, (checked_by, found) in zip(external, channel_results, strict=True):
        problems.extend(found)
        channel_plans.append(
            ChannelPlan(
                channel=allocation.channel,
                units=allocation.allocated_units,
                price=allocation.price,
                duration_days=allocation.duration_days,
                sku=skus[allocation.channel],
                checked_by=checked_by,
            )
        )
    store_plan = StorePlan(
        platform=platform,
        product_id=product.product_id,
        variant_id=product.variant_id or "",
        price_before=str(inventory.price) if inventory is not None else None,
        # Money is a decimal string on the wire (engine.types); a Decimal is accepted too.
        price_after=str(proposal.proposed_price),
        available=inventory.available if inventory is not None else None,
        units_to_hold=held,
        location_id=level.location_id if level is not None else None,
        inventory_item_id=inventory.inventory_item_id if inventory is not None else None,
    )
    plan = Plan(
        store=store_plan,
        channels=channel_plans,
        store_units=decision.store_units,
        calls=_planned_calls(store_plan, channel_plans),
    )
    return PreflightReport(
        ok=not any(p.severity == "error" for p in problems), plan=plan, problems=problems
    )
