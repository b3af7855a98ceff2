"""Shopify inventory in the sandbox shop: inventory items, levels per location and the 2025-01
inventory mutations, with Shopify's rules and userErrors.

Quantities follow Shopify's inventory states: `on_hand` = available + committed + reserved +
damaged + safety_stock + quality_control (derived, never stored); `incoming` is separate. The
non-available states are kept per ledger document URI as well, so the sandbox can show which
campaign holds which units (`reserved_by_document`) and refuses to release more under a document
than that document holds.

GraphQL (validated against the 2025-01 introspection schema by `sandbox.shopify`):
- `productVariant { inventoryItem { id tracked inventoryLevel(locationId:) inventoryLevels } }`,
  `inventoryItem(id:)`, `inventoryLevel(id:)`, `location(id:)`, `locations(first:)`, and on a
  level `quantities(names: [...])`.
- `inventoryMoveQuantities(input: {reason, referenceDocumentUri, changes: [{inventoryItemId,
  quantity, from: {locationId, name, ledgerDocumentUri}, to: {...}}]})`.
- `inventoryAdjustQuantities(input: {reason, name, referenceDocumentUri, changes: [{delta,
  inventoryItemId, locationId, ledgerDocumentUri}]})`.
- `inventorySetQuantities(input: {reason, name: available|on_hand, quantities: [{inventoryItemId,
  locationId, quantity, compareQuantity}], ignoreCompareQuantity})`: the schema's compare-and-set;
  a stale `compareQuantity` answers COMPARE_QUANTITY_STALE and changes nothing.
Each mutation is all or nothing. Two choices where Shopify's docs are silent: a move or an
adjustment that would take a quantity below zero is refused (userError INVALID_QUANTITY_NEGATIVE),
and so is a move out of a ledger document that holds fewer units.

Control (/_sandbox/shopify/...): GET inventory, GET inventory/{variant_id}, POST
inventory/{variant_id}/sell {"quantity", "location_id"?} (a store sale: available -> committed),
POST inventory/{variant_id}/release {"quantity"?, "ledger_document_uri"?, "location_id"?}
(someone else releases reserved units back to available), POST inventory/{variant_id}/set
{"available"?, "location_id"?} (a stock count), GET inventory-adjustments.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, NamedTuple
from urllib.parse import urlsplit

import msgspec
from graphql import GraphQLError, GraphQLResolveInfo

LOCATION_GID: Final = "gid://shopify/Location/"
ITEM_GID: Final = "gid://shopify/InventoryItem/"
LEVEL_GID: Final = "gid://shopify/InventoryLevel/"
GROUP_GID: Final = "gid://shopify/InventoryAdjustmentGroup/"
DEFAULT_LOCATION: Final = LOCATION_GID + "1"
DEFAULT_LOCATION_NAME: Final = "Sandbox Warehouse"

STORED_NAMES: Final = (
    "available",
    "committed",
    "damaged",
    "incoming",
    "quality_control",
    "reserved",
    "safety_stock",
)
ON_HAND_PARTS: Final = (
    "available",
    "committed",
    "damaged",
    "quality_control",
    "reserved",
    "safety_stock",
)
QUERY_NAMES: Final = frozenset((*STORED_NAMES, "on_hand"))
MOVABLE_NAMES: Final = frozenset(
    {"available", "damaged", "quality_control", "reserved", "safety_stock"}
)
ADJUSTABLE_NAMES: Final = frozenset(
    {"available", "damaged", "incoming", "quality_control", "reserved", "safety_stock"}
)
SETTABLE_NAMES: Final = frozenset({"available", "on_hand"})
# https://shopify.dev/docs/apps/fulfillment/inventory-management-apps/quantities-states
REASONS: Final = frozenset(
    {
        "correction",
        "cycle_count_available",
        "damaged",
        "movement_created",
        "movement_updated",
        "movement_received",
        "movement_canceled",
        "other",
        "promotion",
        "quality_control",
        "received",
        "reservation_created",
        "reservation_deleted",
        "reservation_updated",
        "restock",
        "safety_stock",
        "shrinkage",
    }
)
MAX_QUANTITY: Final = 2_000_000_000
VARIANT_LOOKUP: Final = "__variant_node__"
"""Key of the root value's variant-node function (not a schema field, so never queried)."""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Level:
    """An inventory item's quantities at one location."""

    level_id: int
    item_id: str
    location_id: str
    quantities: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STORED_NAMES, 0))
    by_document: dict[tuple[str, str], int] = field(default_factory=dict)
    created_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)

    def quantity(self, name: str) -> int:
        """A stored quantity, or on_hand derived from its parts."""
        if name == "on_hand":
            return sum(self.quantities[part] for part in ON_HAND_PARTS)
        return self.quantities[name]

    def gid(self) -> str:
        return f"{LEVEL_GID}{self.level_id}?inventory_item_id={self.item_id.rsplit('/', 1)[-1]}"

    def as_json(self, locations: dict[str, str]) -> dict[str, Any]:
        """What the /_sandbox/ inventory views show for the level."""
        return {
            "location_id": self.location_id,
            "location_name": locations.get(self.location_id, ""),
            **{name: self.quantity(name) for name in sorted(QUERY_NAMES)},
            "by_document": [
                {"name": name, "ledger_document_uri": uri, "quantity": quantity}
                for (name, uri), quantity in sorted(self.by_document.items())
                if quantity
            ],
        }


@dataclass
class Item:
    """An inventory item: one per variant."""

    item_id: str
    variant_id: str
    sku: str = ""
    tracked: bool = True
    created_at: str = field(default_factory=_now)


@dataclass
class ShopifyInventory:
    """Locations, inventory items, levels and the adjustment history of the sandbox shop."""

    locations: dict[str, str] = field(
        default_factory=lambda: {DEFAULT_LOCATION: DEFAULT_LOCATION_NAME}
    )
    items: dict[str, Item] = field(default_factory=dict)
    levels: dict[tuple[str, str], Level] = field(default_factory=dict)
    groups: list[dict[str, Any]] = field(default_factory=list)
    ids: Any = field(default_factory=lambda: itertools.count(1001))

    def item_for_variant(self, variant_id: str) -> Item:
        """The variant's inventory item, made on first use (every Shopify variant has one)."""
        for item in self.items.values():
            if item.variant_id == variant_id:
                return item
        item = Item(item_id=f"{ITEM_GID}{next(self.ids)}", variant_id=variant_id)
        self.items[item.item_id] = item
        return item

    def stock(self, item: Item, location_id: str) -> Level:
        """The item's level at a location, activating the item there if it is not stocked yet."""
        self.locations.setdefault(location_id, f"Location {location_id.rsplit('/', 1)[-1]}")
        key = (item.item_id, location_id)
        level = self.levels.get(key)
        if level is None:
            level = self.levels[key] = Level(next(self.ids), item.item_id, location_id)
        return level

    def item_levels(self, item_id: str) -> list[Level]:
        return [level for (owner, _), level in self.levels.items() if owner == item_id]

    def level_by_gid(self, gid: str) -> Level | None:
        return next((lv for lv in self.levels.values() if lv.gid() == gid), None)

    def variant_json(self, variant_id: str) -> dict[str, Any]:
        """Inspection view of a variant's inventory."""
        item = self.item_for_variant(variant_id)
        return {
            "variant_id": variant_id,
            "inventory_item_id": item.item_id,
            "tracked": item.tracked,
            "levels": [lv.as_json(self.locations) for lv in self.item_levels(item.item_id)],
        }


# --- applying changes (all mutations and control endpoints go through these) ---


class _Change(NamedTuple):
    """One validated quantity change at a level, under a ledger document for ledger names."""

    level: Level
    name: str
    delta: int
    ledger: str | None


def _apply(
    inventory: ShopifyInventory, changes: list[_Change], reason: str, reference: str | None
) -> dict[str, Any]:
    """Apply validated changes and record them as one adjustment group (returned)."""
    records: list[dict[str, Any]] = []
    touched: dict[int, tuple[Level, int]] = {}
    for change in changes:
        level = change.level
        touched.setdefault(level.level_id, (level, level.quantity("on_hand")))
        level.quantities[change.name] += change.delta
        if change.ledger is not None:
            key = (change.name, change.ledger)
            level.by_document[key] = level.by_document.get(key, 0) + change.delta
        level.updated_at = _now()
        records.append(
            {
                "item_id": level.item_id,
                "location_id": level.location_id,
                "name": change.name,
                "delta": change.delta,
                "quantity_after": level.quantity(change.name),
                "ledger_document_uri": change.ledger,
            }
        )
    for level, on_hand_before in touched.values():
        on_hand_delta = level.quantity("on_hand") - on_hand_before
        if on_hand_delta:
            records.append(
                {
                    "item_id": level.item_id,
                    "location_id": level.location_id,
                    "name": "on_hand",
                    "delta": on_hand_delta,
                    "quantity_after": level.quantity("on_hand"),
                    "ledger_document_uri": None,
                }
            )
    group = {
        "id": f"{GROUP_GID}{next(inventory.ids)}",
        "created_at": _now(),
        "reason": reason,
        "reference_document_uri": reference,
        "changes": records,
    }
    inventory.groups.append(group)
    return group


def _shortfall(changes: list[_Change]) -> str | None:
    """Why these changes would take a quantity (or a document's share) below zero, if they do."""
    totals: dict[tuple[int, str, str | None], int] = {}
    levels: dict[int, Level] = {}
    for change in changes:
        key = (change.level.level_id, change.name, change.ledger)
        totals[key] = totals.get(key, 0) + change.delta
        levels[change.level.level_id] = change.level
    for (level_id, name, ledger), delta in totals.items():
        level = levels[level_id]
        if level.quantities[name] + delta < 0:
            return (
                f"{name} would be {level.quantities[name] + delta}: only {level.quantities[name]}"
            )
        if ledger is not None:
            held = level.by_document.get((name, ledger), 0)
            if held + delta < 0:
                return f"ledger document {ledger} holds only {held} {name}"
    return None


# --- GraphQL nodes ---


def _location_node(inventory: ShopifyInventory, location_id: str) -> dict[str, Any] | None:
    name = inventory.locations.get(location_id)
    if name is None:
        return None
    return {
        "__typename": "Location",
        "id": location_id,
        "legacyResourceId": location_id.rsplit("/", 1)[-1],
        "name": name,
        "isActive": True,
        "fulfillsOnlineOrders": True,
        "hasActiveInventory": True,
        "shipsInventory": True,
        "inventoryLevel": lambda _info, inventoryItemId: _level_node(
            inventory, inventory.levels.get((inventoryItemId, location_id))
        ),
    }


def _quantities(level: Level, names: list[str]) -> list[dict[str, Any]]:
    unknown = [n for n in names if n not in QUERY_NAMES]
    if unknown:
        raise GraphQLError(f"Invalid quantity names: {', '.join(unknown)}")
    return [
        {
            "__typename": "InventoryQuantity",
            "id": f"gid://shopify/InventoryQuantity/{level.level_id}?name={name}",
            "name": name,
            "quantity": level.quantity(name),
            "updatedAt": level.updated_at,
        }
        for name in names
    ]


def _level_node(inventory: ShopifyInventory, level: Level | None) -> dict[str, Any] | None:
    if level is None:
        return None
    return {
        "__typename": "InventoryLevel",
        "id": level.gid(),
        "createdAt": level.created_at,
        "updatedAt": level.updated_at,
        "canDeactivate": not any(level.quantities.values()),
        "location": _location_node(inventory, level.location_id),
        "item": lambda _info: _item_node(inventory, inventory.items[level.item_id]),
        "quantities": lambda _info, names: _quantities(level, names),
    }


def _connection(nodes: list[dict[str, Any]], first: int | None) -> dict[str, Any]:
    page = nodes if first is None else nodes[: max(0, first)]
    return {
        "edges": [{"cursor": node["id"], "node": node} for node in page],
        "nodes": page,
        "pageInfo": {
            "hasNextPage": len(page) < len(nodes),
            "hasPreviousPage": False,
            "startCursor": page[0]["id"] if page else None,
            "endCursor": page[-1]["id"] if page else None,
        },
    }


def _item_node(inventory: ShopifyInventory, item: Item) -> dict[str, Any]:
    def levels(_info: GraphQLResolveInfo, first: int | None = None, **_: Any) -> dict[str, Any]:
        nodes = [_level_node(inventory, lv) for lv in inventory.item_levels(item.item_id)]
        return _connection([n for n in nodes if n is not None], first)

    return {
        "__typename": "InventoryItem",
        "id": item.item_id,
        "legacyResourceId": item.item_id.rsplit("/", 1)[-1],
        "sku": item.sku or None,
        "tracked": item.tracked,
        "requiresShipping": True,
        "duplicateSkuCount": 0,
        "createdAt": item.created_at,
        "updatedAt": item.created_at,
        "locationsCount": {"count": len(inventory.item_levels(item.item_id)), "precision": "EXACT"},
        "inventoryLevel": lambda _info, locationId: _level_node(
            inventory, inventory.levels.get((item.item_id, locationId))
        ),
        "inventoryLevels": levels,
        # The root value carries the variant lookup (sandbox.shopify builds it).
        "variant": lambda info: info.root_value[VARIANT_LOOKUP](item.variant_id),
    }


def inventory_item_field(inventory: ShopifyInventory, variant_id: str) -> Any:
    """The `inventoryItem` field of a variant node (resolved lazily)."""
    return lambda _info: _item_node(inventory, inventory.item_for_variant(variant_id))


def available_total(inventory: ShopifyInventory, variant_id: str) -> int:
    """`inventoryQuantity` of a variant: available units over all its locations."""
    item = inventory.item_for_variant(variant_id)
    return sum(level.quantity("available") for level in inventory.item_levels(item.item_id))


def _group_node(inventory: ShopifyInventory, group: dict[str, Any] | None) -> Any:
    if group is None:
        return None

    def changes(
        _info: GraphQLResolveInfo,
        inventoryItemIds: list[str] | None = None,
        locationIds: list[str] | None = None,
        quantityNames: list[str] | None = None,
    ) -> list[dict[str, Any]]:
        return [
            {
                "__typename": "InventoryChange",
                "name": c["name"],
                "delta": c["delta"],
                "quantityAfterChange": c["quantity_after"],
                "ledgerDocumentUri": c["ledger_document_uri"],
                "item": lambda _i, c=c: _item_node(inventory, inventory.items[c["item_id"]]),
                "location": lambda _i, c=c: _location_node(inventory, c["location_id"]),
            }
            for c in group["changes"]
            if (inventoryItemIds is None or c["item_id"] in inventoryItemIds)
            and (locationIds is None or c["location_id"] in locationIds)
            and (quantityNames is None or c["name"] in quantityNames)
        ]

    return {
        "__typename": "InventoryAdjustmentGroup",
        "id": group["id"],
        "createdAt": group["created_at"],
        "reason": group["reason"],
        "referenceDocumentUri": group["reference_document_uri"],
        "changes": changes,
        "app": None,
        "staffMember": None,
    }


# --- mutations ---


def _error(kind: str, path: list[str], message: str, code: str) -> dict[str, Any]:
    return {"__typename": kind, "field": path, "message": message, "code": code}


def _is_uri(value: Any) -> bool:
    if not isinstance(value, str) or not value:
        return False
    parts = urlsplit(value)
    return bool(parts.scheme) and bool(parts.netloc or parts.path)


class _Checker:
    """Collects userErrors for one mutation, under the payload's error type name."""

    def __init__(self, inventory: ShopifyInventory, kind: str) -> None:
        self.inventory = inventory
        self.kind = kind
        self.errors: list[dict[str, Any]] = []

    def fail(self, path: list[str], message: str, code: str) -> None:
        self.errors.append(_error(self.kind, path, message, code))

    def reason(self, value: str) -> None:
        if value not in REASONS:
            self.fail(["input", "reason"], "The specified reason is invalid.", "INVALID_REASON")

    def reference(self, value: Any, required: bool) -> None:
        if (value is None and required) or (value is not None and not _is_uri(value)):
            self.fail(
                ["input", "referenceDocumentUri"],
                "The specified reference document is invalid.",
                "INVALID_REFERENCE_DOCUMENT",
            )

    def ledger(self, path: list[str], name: str, uri: Any) -> bool:
        """Shopify's ledger document rules for one quantity name; True when they hold."""
        if name == "available":
            if uri is not None:
                self.fail(
                    path,
                    "A ledger document URI is not allowed when adjusting available.",
                    "INVALID_AVAILABLE_DOCUMENT",
                )
                return False
            return True
        if uri is None:
            self.fail(
                path,
                "A ledger document URI is required except when adjusting available.",
                "INVALID_QUANTITY_DOCUMENT",
            )
            return False
        if str(uri).startswith("gid://shopify/"):
            self.fail(
                path,
                "Internal (gid://shopify/) ledger documents are not allowed to be adjusted via "
                "API.",
                "INTERNAL_LEDGER_DOCUMENT",
            )
            return False
        if not _is_uri(uri):
            self.fail(path, "The specified ledger document is invalid.", "INVALID_LEDGER_DOCUMENT")
            return False
        return True

    def level(self, path: list[str], item_id: str, location_id: str) -> Level | None:
        item = self.inventory.items.get(item_id)
        if item is None:
            self.fail(
                [*path, "inventoryItemId"],
                "The specified inventory item could not be found.",
                "INVALID_INVENTORY_ITEM",
            )
            return None
        if location_id not in self.inventory.locations:
            self.fail(
                [*path, "locationId"],
                "The specified location could not be found.",
                "INVALID_LOCATION",
            )
            return None
        level = self.inventory.levels.get((item_id, location_id))
        if level is None:
            self.fail(
                [*path, "locationId"],
                "The inventory item is not stocked at the location.",
                "ITEM_NOT_STOCKED_AT_LOCATION",
            )
        return level

    def amount(self, path: list[str], value: int, *, signed: bool) -> bool:
        if not signed and value < 0:
            self.fail(path, "The quantity can't be negative.", "INVALID_QUANTITY_NEGATIVE")
            return False
        if value > MAX_QUANTITY:
            self.fail(
                path,
                "The quantity can't be higher than 2,000,000,000.",
                "INVALID_QUANTITY_TOO_HIGH",
            )
            return False
        if value < -MAX_QUANTITY:
            self.fail(
                path, "The quantity can't be lower than -2,000,000,000.", "INVALID_QUANTITY_TOO_LOW"
            )
            return False
        return True

    def shortfall(self, changes: list[_Change], path: list[str]) -> None:
        problem = _shortfall(changes)
        if problem is not None:
            self.fail(
                path, f"The quantity can't be negative: {problem}.", "INVALID_QUANTITY_NEGATIVE"
            )


def _start(
    inventory: ShopifyInventory, kind: str, data: dict[str, Any], *, reference_required: bool
) -> _Checker:
    """A checker for one mutation, with its reason and reference document checked."""
    check = _Checker(inventory, kind)
    check.reason(data["reason"])
    check.reference(data.get("referenceDocumentUri"), required=reference_required)
    return check


def move_quantities(inventory: ShopifyInventory, data: dict[str, Any]) -> dict[str, Any]:
    """inventoryMoveQuantities: between quantity names at one location, all or nothing."""
    check = _start(inventory, "InventoryMoveQuantitiesUserError", data, reference_required=True)
    changes: list[_Change] = []
    ledgers: set[str] = set()
    for index, change in enumerate(data["changes"]):
        where = ["input", "changes", str(index)]
        source, target = change["from"], change["to"]
        ok = True
        for side, terminal in (("from", source), ("to", target)):
            if terminal["name"] not in MOVABLE_NAMES:
                check.fail(
                    [*where, side, "name"],
                    "The specified quantity name is invalid.",
                    "INVALID_QUANTITY_NAME",
                )
                ok = False
            elif check.ledger(
                [*where, side, "ledgerDocumentUri"],
                terminal["name"],
                terminal.get("ledgerDocumentUri"),
            ):
                if terminal.get("ledgerDocumentUri"):
                    ledgers.add(terminal["ledgerDocumentUri"])
            else:
                ok = False
        if source["name"] == target["name"]:
            check.fail(
                where,
                "The quantity names for each change can't be the same.",
                "SAME_QUANTITY_NAME",
            )
            ok = False
        if source["locationId"] != target["locationId"]:
            check.fail(
                where,
                "The quantities can't be moved between different locations.",
                "DIFFERENT_LOCATIONS",
            )
            ok = False
        ok = check.amount([*where, "quantity"], change["quantity"], signed=False) and ok
        level = check.level([*where, "from"], change["inventoryItemId"], source["locationId"])
        if ok and level is not None:
            changes.append(
                _Change(level, source["name"], -change["quantity"], source.get("ledgerDocumentUri"))
            )
            changes.append(
                _Change(level, target["name"], change["quantity"], target.get("ledgerDocumentUri"))
            )
    if len(ledgers) > 2:
        check.fail(
            ["input", "changes"],
            "Only a maximum of 2 ledger document URIs across all changes is allowed.",
            "MAXIMUM_LEDGER_DOCUMENT_URIS",
        )
    if not check.errors:
        check.shortfall(changes, ["input", "changes"])
    return _payload(inventory, check, changes, data)


def adjust_quantities(inventory: ShopifyInventory, data: dict[str, Any]) -> dict[str, Any]:
    """inventoryAdjustQuantities: deltas of one quantity name, all or nothing."""
    check = _start(inventory, "InventoryAdjustQuantitiesUserError", data, reference_required=False)
    name = data["name"]
    if name not in ADJUSTABLE_NAMES:
        check.fail(
            ["input", "name"], "The specified quantity name is invalid.", "INVALID_QUANTITY_NAME"
        )
    changes: list[_Change] = []
    ledgers = {c.get("ledgerDocumentUri") for c in data["changes"]}
    if len(ledgers) > 1:
        check.fail(
            ["input", "changes"],
            "All changes must have the same ledger document URI or, in the case of adjusting "
            "available, no ledger document URI.",
            "MAX_ONE_LEDGER_DOCUMENT",
        )
    for index, change in enumerate(data["changes"]):
        where = ["input", "changes", str(index)]
        ok = name in ADJUSTABLE_NAMES and check.ledger(
            [*where, "ledgerDocumentUri"], name, change.get("ledgerDocumentUri")
        )
        ok = check.amount([*where, "delta"], change["delta"], signed=True) and ok
        level = check.level(where, change["inventoryItemId"], change["locationId"])
        if ok and level is not None:
            changes.append(_Change(level, name, change["delta"], change.get("ledgerDocumentUri")))
    if not check.errors:
        check.shortfall(changes, ["input", "changes"])
    return _payload(inventory, check, changes, data)


def set_quantities(inventory: ShopifyInventory, data: dict[str, Any]) -> dict[str, Any]:
    """inventorySetQuantities: absolute values with compare-and-set on `compareQuantity`."""
    check = _start(inventory, "InventorySetQuantitiesUserError", data, reference_required=False)
    name = data["name"]
    if name not in SETTABLE_NAMES:
        check.fail(
            ["input", "name"],
            "The quantity name must be either 'available' or 'on_hand'.",
            "INVALID_NAME",
        )
    ignore = bool(data.get("ignoreCompareQuantity"))
    changes: list[_Change] = []
    seen: set[tuple[str, str]] = set()
    for index, entry in enumerate(data["quantities"]):
        where = ["input", "quantities", str(index)]
        pair = (entry["inventoryItemId"], entry["locationId"])
        if pair in seen:
            check.fail(
                where,
                "The combination of inventoryItemId and locationId must be unique.",
                "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR",
            )
            continue
        seen.add(pair)
        if not check.amount([*where, "quantity"], entry["quantity"], signed=False):
            continue
        level = check.level(where, *pair)
        if level is None or name not in SETTABLE_NAMES:
            continue
        current = level.quantity(name)
        compare = entry.get("compareQuantity")
        if not ignore and compare is None:
            check.fail(
                [*where, "compareQuantity"],
                "The compareQuantity argument must be given to each quantity or ignored using "
                "ignoreCompareQuantity.",
                "COMPARE_QUANTITY_REQUIRED",
            )
            continue
        if not ignore and compare != current:
            check.fail(
                [*where, "compareQuantity"],
                "The compareQuantity value does not match persisted value.",
                "COMPARE_QUANTITY_STALE",
            )
            continue
        # Setting on_hand changes available by the same amount (the other states stay).
        changes.append(_Change(level, "available", entry["quantity"] - current, None))
    if not check.errors:
        check.shortfall(changes, ["input", "quantities"])
    return _payload(inventory, check, changes, data)


def _payload(
    inventory: ShopifyInventory, check: _Checker, changes: list[_Change], data: dict[str, Any]
) -> dict[str, Any]:
    if check.errors:
        return {"inventoryAdjustmentGroup": None, "userErrors": check.errors}
    group = _apply(inventory, changes, data["reason"], data.get("referenceDocumentUri"))
    return {"inventoryAdjustmentGroup": _group_node(inventory, group), "userErrors": []}


def graphql_fields(inventory: ShopifyInventory) -> dict[str, Any]:
    """Root fields (queries and mutations) the sandbox resolves for inventory."""

    def inventory_item(_info: GraphQLResolveInfo, id: str) -> Any:
        item = inventory.items.get(id)
        return None if item is None else _item_node(inventory, item)

    def inventory_level(_info: GraphQLResolveInfo, id: str) -> Any:
        return _level_node(inventory, inventory.level_by_gid(id))

    def location(_info: GraphQLResolveInfo, id: str | None = None) -> Any:
        return _location_node(inventory, id or DEFAULT_LOCATION)

    def locations(_info: GraphQLResolveInfo, first: int | None = None, **_: Any) -> Any:
        nodes = [_location_node(inventory, gid) for gid in inventory.locations]
        return _connection([n for n in nodes if n is not None], first)

    return {
        "inventoryItem": inventory_item,
        "inventoryLevel": inventory_level,
        "location": location,
        "locations": locations,
        "inventoryMoveQuantities": lambda _info, input: move_quantities(inventory, input),
        "inventoryAdjustQuantities": lambda _info, input: adjust_quantities(inventory, input),
        "inventorySetQuantities": lambda _info, input: set_quantities(inventory, input),
    }


# --- control (drift and inspection) ---


class SeedLevel(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A level given when a variant is seeded: its location and available units."""

    available: int = 0
    location_id: str = DEFAULT_LOCATION
    location_name: str | None = None


class StoreSale(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Body of POST /_sandbox/shopify/inventory/{variant_id}/sell."""

    quantity: int
    location_id: str = DEFAULT_LOCATION


class ForeignRelease(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Body of POST .../release: all (or `quantity`) reserved units go back to available."""

    quantity: int | None = None
    ledger_document_uri: str | None = None
    location_id: str = DEFAULT_LOCATION


class StockCount(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Body of POST .../set: the merchant counts the shelf and sets available."""

    available: int
    location_id: str = DEFAULT_LOCATION


def seed_levels(inventory: ShopifyInventory, variant_id: str, levels: list[SeedLevel]) -> None:
    """Stock a freshly seeded variant (replacing the quantities it had)."""
    item = inventory.item_for_variant(variant_id)
    for seed in levels:
        if seed.location_name:
            inventory.locations[seed.location_id] = seed.location_name
        level = inventory.stock(item, seed.location_id)
        level.quantities = dict.fromkeys(STORED_NAMES, 0)
        level.by_document.clear()
        level.quantities["available"] = seed.available


def control_level(inventory: ShopifyInventory, variant_id: str, location_id: str) -> Level | str:
    """The variant's level at a location, or why there is none."""
    item = inventory.item_for_variant(variant_id)
    level = inventory.levels.get((item.item_id, location_id))
    return level if level is not None else f"variant not stocked at {location_id}"


def sell_on_store(inventory: ShopifyInventory, level: Level, sale: StoreSale) -> str | None:
    """A store order: `quantity` available units become committed. None, or why not."""
    if sale.quantity < 1:
        return "quantity must be at least 1"
    if level.quantities["available"] < sale.quantity:
        return f"only {level.quantities['available']} available"
    _apply(
        inventory,
        [
            _Change(level, "available", -sale.quantity, None),
            _Change(level, "committed", sale.quantity, None),
        ],
        "other",
        "sandbox://store-order",
    )
    return None


def release_reserved(inventory: ShopifyInventory, level: Level, body: ForeignRelease) -> str | None:
    """Someone other than us moves reserved units back to available. None, or why not."""
    held = {
        uri: n
        for (name, uri), n in level.by_document.items()
        if name == "reserved" and n > 0 and body.ledger_document_uri in (None, uri)
    }
    wanted = sum(held.values()) if body.quantity is None else body.quantity
    if wanted < 1 or wanted > sum(held.values()):
        return f"{sum(held.values())} reserved units can be released"
    changes: list[_Change] = []
    for uri, n in held.items():
        take = min(n, wanted - sum(-c.delta for c in changes if c.name == "reserved"))
        if take > 0:
            changes.append(_Change(level, "reserved", -take, uri))
    changes.append(_Change(level, "available", wanted, None))
    _apply(inventory, changes, "reservation_deleted", "sandbox://manual-release")
    return None


def count_stock(inventory: ShopifyInventory, level: Level, body: StockCount) -> str | None:
    """The merchant sets available by hand. None, or why not."""
    if body.available < 0:
        return "available must not be negative"
    delta = body.available - level.quantities["available"]
    _apply(inventory, [_Change(level, "available", delta, None)], "correction", "sandbox://count")
    return None
