"""Holding a campaign's external units off the store, and giving the unsold ones back
(issue 11, item 1). The arithmetic is in `execution.hold_plan`; this module does the I/O.

- `hold`: the units allocated to external channels move available -> reserved at the variant's
  location (the one with most available units), under a ledger document naming the campaign.
  With fewer units available, what is there is shared by the allocation rule and the reason is
  recorded.
- `sold`: units a marketplace sold leave reserved (they were sold), once per reported total.
- `release`: at the end (or cancel, or a listing that never went live) the units still held
  for a channel move reserved -> available.

Each move is made at most once, however often a job retries:
1. Moves of one inventory item at one location are serialized by a lock (Redis, shared by every
   worker), so between two of our moves nobody of ours changes the level.
2. The level is read and recorded with the move (`inventory_move`, status "started") *before*
   the call; the call is made with one attempt (no transport retry: a timed-out mutation may
   have been made).
3. The answer marks it "applied". If there is none (timeout, crash), the move stays "started";
   whoever takes the lock next compares the level with the recorded one first
   (`connectors.base.already_moved`): the reserved quantity shows the move -> "applied", shows
   none -> "not_made" (made again by the retry), shows anything else -> "conflict" (someone
   else changed reserved units; flagged, never guessed silently).
Shopify 2025-01 has no compare-and-set or idempotency key on moves (2026-01 adds
`changeFromQuantity` and `@idempotent`); this record and the lock stand in for them. The lock
outlives any one call (its TTL is longer than the calls made under it), which the comparison
relies on.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any, Final

import msgspec
from redis.exceptions import LockError

from connectors.base import (
    ChannelAccount,
    InventoryLevel,
    InventoryMove,
    StoreConnector,
    already_moved,
)
from connectors.errors import InventoryConflict, PermanentChannelError, TransientChannelError
from connectors.http import ApiClient
from connectors.shopify import ledger_uri
from execution.hold_plan import (
    HOLD_KEY,
    Move,
    MoveStatus,
    MoveStep,
    Tally,
    release_key,
    release_step,
    sold_key,
    sold_step,
    split_available,
    tally,
)

log = logging.getLogger(__name__)


class HeldLock:
    """A lock being held. `keep()`: at the end, hold it one more TTL and let it expire."""

    def __init__(self) -> None:
        self.kept = False

    def keep(self) -> None:
        self.kept = True


LockFactory = Callable[[str], AbstractAsyncContextManager[HeldLock]]
"""A lock per name, held across workers while moves of one item at one location are made."""

LOCK_TTL_SECONDS: Final = 60.0
LOCK_TTL_ENV: Final = "CHANNEL_ROUTER_HOLD_LOCK_SECONDS"
HOLD_ATTEMPTS: Final = 3  # a hold refused because a store sale took units meanwhile: re-read


def lock_seconds(env: Mapping[str, str]) -> float:
    """The lock's time to live from CHANNEL_ROUTER_HOLD_LOCK_SECONDS (default 60, at least 1)."""
    raw = env.get(LOCK_TTL_ENV, "").strip()
    try:
        return max(1.0, float(raw)) if raw else LOCK_TTL_SECONDS
    except ValueError:
        return LOCK_TTL_SECONDS


def redis_locks(redis: Any, prefix: str, ttl: float = LOCK_TTL_SECONDS) -> LockFactory:
    """Locks in Redis (redis-py's Lock: SET NX PX, released by its token) under `prefix`.

    A move whose answer was lost keeps its lock for another full TTL from the failure: its
    request may still be running at the store, and no other move may read the level before it
    has landed. Waiting longer than the TTL for a lock is a TransientChannelError (the job
    retries later)."""

    @contextlib.asynccontextmanager
    async def lock(name: str) -> AsyncIterator[HeldLock]:
        held = redis.lock(f"{prefix}:inventory-lock:{name}", timeout=ttl, blocking_timeout=ttl)
        if not await held.acquire():
            raise TransientChannelError(
                "inventory moves at this location are busy; try again", api="store"
            )
        handle = HeldLock()
        try:
            yield handle
        finally:
            with contextlib.suppress(LockError):  # expired meanwhile: nothing to keep or free
                if handle.kept:
                    await held.reacquire()  # a full TTL from now, then it expires
                else:
                    await held.release()

    return lock


def one_attempt(store: StoreConnector) -> StoreConnector:
    """The same connector, making each call once: a move that timed out may have been made, so
    it is never sent again blindly; the ledger settles it instead."""
    api = store.api
    config = msgspec.structs.replace(api.config, max_attempts=1)
    single = ApiClient(api.client, config, budget=api.budget)
    return type(store)(single, store.config)


class MoveRecord(msgspec.Struct, frozen=True):
    """A row of `inventory_move`."""

    move_id: str
    campaign_id: str
    merchant_id: str
    move_key: str
    step: MoveStep
    status: MoveStatus
    lock_key: str
    inventory_item_id: str
    location_id: str
    ledger_document_uri: str
    quantity: int
    units: dict[str, int]
    reported_sold: dict[str, int]
    level_before: InventoryLevel | None
    level_after: InventoryLevel | None
    reason: str | None
    adjustment_group_id: str | None
    attempts: int
    created_at: datetime
    updated_at: datetime

    def as_move(self) -> Move:
        return Move(
            move_key=self.move_key,
            step=self.step,
            status=self.status,
            quantity=self.quantity,
            units=self.units,
            reported_sold=self.reported_sold,
        )

    def inventory_move(self) -> InventoryMove:
        return InventoryMove(
            campaign_id=self.campaign_id,
            move_key=self.move_key,
            step=self.step,
            inventory_item_id=self.inventory_item_id,
            location_id=self.location_id,
            quantity=self.quantity,
        )


def _json(value: Any) -> Any:
    if isinstance(value, str):
        return msgspec.json.decode(value or "{}")
    return value


def _level(value: Any) -> InventoryLevel | None:
    raw = _json(value)
    return msgspec.convert(raw, InventoryLevel) if raw else None


def _encode(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def _utcnow() -> datetime:
    return datetime.now(UTC)


class HoldLedger:
    """The `inventory_move` table: our record of every move."""

    def __init__(self, tables: Any, clock: Callable[[], datetime] = _utcnow) -> None:
        self._t = tables.inventory_move
        self._clock = clock

    def _record(self, row: dict[str, Any]) -> MoveRecord:
        return MoveRecord(
            move_id=row["move_id"],
            campaign_id=row["campaign_id"],
            merchant_id=row["merchant_id"],
            move_key=row["move_key"],
            step=row["step"],
            status=row["status"],
            lock_key=row["lock_key"],
            inventory_item_id=row["inventory_item_id"],
            location_id=row["location_id"],
            ledger_document_uri=row["ledger_document_uri"],
            quantity=row["quantity"],
            units=_json(row["units"]),
            reported_sold=_json(row["reported_sold"]),
            level_before=_level(row["level_before"]),
            level_after=_level(row["level_after"]),
            reason=row["reason"],
            adjustment_group_id=row["adjustment_group_id"],
            attempts=row["attempts"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    async def moves(self, campaign_id: str) -> list[MoveRecord]:
        """The campaign's moves, oldest first."""
        t = self._t
        rows = await t.select().where(t.campaign_id == campaign_id).order_by(t.id).run()
        return [self._record(row) for row in rows]

    async def get(self, campaign_id: str, move_key: str) -> MoveRecord | None:
        t = self._t
        row = await t.select().where(t.move_id == f"{campaign_id}:{move_key}").first().run()
        return None if row is None else self._record(row)

    async def started(self, lock_key: str) -> list[MoveRecord]:
        """Moves at one item and location whose outcome is not known yet, oldest first."""
        t = self._t
        rows = (
            await t.select()
            .where(t.lock_key == lock_key)
            .where(t.status == "started")
            .order_by(t.updated_at, t.id)
            .run()
        )
        return [self._record(row) for row in rows]

    async def begin(
        self,
        *,
        campaign_id: str,
        merchant_id: str,
        move_key: str,
        step: MoveStep,
        lock_key: str,
        inventory_item_id: str,
        location_id: str,
        quantity: int,
        units: dict[str, int],
        reported_sold: dict[str, int],
        level_before: InventoryLevel,
        reason: str | None,
        status: MoveStatus = "started",
        level_after: InventoryLevel | None = None,
    ) -> MoveRecord:
        """Record a move (again, for a retry of one not made) before its call is sent."""
        t = self._t
        move_id = f"{campaign_id}:{move_key}"
        now = self._clock()
        values = {
            t.step: step,
            t.status: status,
            t.lock_key: lock_key,
            t.inventory_item_id: inventory_item_id,
            t.location_id: location_id,
            t.quantity: quantity,
            t.units: _encode(units),
            t.reported_sold: _encode(reported_sold),
            t.level_before: _encode(level_before),
            t.level_after: _encode(level_after) if level_after else "{}",
            t.reason: reason,
            t.updated_at: now,
        }
        existing = await self.get(campaign_id, move_key)
        if existing is None:
            await t.insert(
                t(
                    move_id=move_id,
                    campaign_id=campaign_id,
                    merchant_id=merchant_id,
                    move_key=move_key,
                    ledger_document_uri=ledger_uri(campaign_id),
                    attempts=1,
                    created_at=now,
                    **{column._meta.name: value for column, value in values.items()},
                )
            ).run()
        else:
            values[t.attempts] = existing.attempts + 1
            if existing.status == "conflict":  # keep it visible: the retry may move twice
                values[t.reason] = "; ".join(
                    part for part in (f"conflict: {existing.reason}", reason) if part
                )
            await t.update(values).where(t.move_id == move_id).run()
        record = await self.get(campaign_id, move_key)
        assert record is not None
        return record

    async def finish(
        self,
        record: MoveRecord,
        status: MoveStatus,
        *,
        level_after: InventoryLevel | None = None,
        adjustment_group_id: str | None = None,
        reason: str | None = None,
    ) -> MoveRecord:
        """Write what became of a started move."""
        t = self._t
        values: dict[Any, Any] = {t.status: status, t.updated_at: self._clock()}
        if level_after is not None:
            values[t.level_after] = _encode(level_after)
        if adjustment_group_id is not None:
            values[t.adjustment_group_id] = adjustment_group_id
        if reason is not None:
            values[t.reason] = reason if not record.reason else f"{record.reason}; {reason}"
        await t.update(values).where(t.move_id == record.move_id).run()
        found = await self.get(record.campaign_id, record.move_key)
        assert found is not None
        return found


class Planned(msgspec.Struct, frozen=True):
    """What a move is to do, decided under the lock from the level and the tally."""

    quantity: int
    units: dict[str, int]
    reason: str | None = None
    reported_sold: dict[str, int] = {}


class HoldOutcome(msgspec.Struct, frozen=True):
    """Units held per channel (in the decision's order) and why fewer, when fewer."""

    units: dict[str, int]
    reason: str | None
    inventory_item_id: str
    location_id: str

    @property
    def total(self) -> int:
        return sum(self.units.values())


class CampaignUnits(msgspec.Struct, frozen=True):
    """What the campaign view shows of its stock: per channel and in all."""

    held: int
    sold: int
    returned: int
    still_held: int
    oversold: int
    channels: dict[str, dict[str, int]]
    reason: str | None = None
    conflicts: list[str] = []


def units_view(records: Sequence[MoveRecord]) -> CampaignUnits:
    """Held, sold (per channel), returned and oversold units from a campaign's moves."""
    totals = tally(r.as_move() for r in records)
    channels = {
        channel: {
            "held": totals.held.get(channel, 0),
            "sold": totals.sold.get(channel, 0),
            "returned": totals.returned.get(channel, 0),
            "still_held": totals.still_held(channel),
            "reported_sold": totals.reported_sold.get(channel, 0),
            "oversold": totals.oversold(channel),
        }
        for channel in totals.channels
    }
    hold = next((r for r in records if r.move_key == HOLD_KEY), None)
    return CampaignUnits(
        held=sum(c["held"] for c in channels.values()),
        sold=sum(c["sold"] for c in channels.values()),
        returned=sum(c["returned"] for c in channels.values()),
        still_held=sum(c["still_held"] for c in channels.values()),
        oversold=sum(c["oversold"] for c in channels.values()),
        channels=channels,
        reason=hold.reason if hold is not None else None,
        conflicts=[
            f"{r.move_key}: {r.reason}"
            for r in records
            if r.status == "conflict" or (r.reason or "").startswith("conflict: ")
        ],
    )


class Holds:
    """Hold, sell off and release a campaign's units at most once (see the module doc)."""

    def __init__(self, ledger: HoldLedger, locks: LockFactory) -> None:
        self.ledger = ledger
        self._locks = locks

    async def units(self, campaign_id: str) -> CampaignUnits:
        return units_view(await self.ledger.moves(campaign_id))

    async def tally(self, campaign_id: str) -> Tally:
        return tally(r.as_move() for r in await self.ledger.moves(campaign_id))

    async def hold(
        self,
        store: StoreConnector,
        account: ChannelAccount,
        *,
        campaign_id: str,
        merchant_id: str,
        product_id: str,
        variant_id: str,
        allocations: Sequence[tuple[str, int]],
    ) -> HoldOutcome:
        """Hold the allocated units (or what the store has, shared by the rule); a retry
        returns what the first attempt held."""
        done = await self.ledger.get(campaign_id, HOLD_KEY)
        if done is not None and done.status == "applied":
            return _hold_outcome(done, allocations)
        mover = one_attempt(store)
        if done is not None:
            item, location = done.inventory_item_id, done.location_id
        else:
            inventory = await mover.read_inventory(account, product_id, variant_id)
            if not inventory.tracked:
                raise PermanentChannelError(
                    "the store does not track this variant's inventory: units cannot be held",
                    api=store.name,
                )
            level = inventory.level()
            if level is None:
                raise PermanentChannelError(
                    "the variant is not stocked at any location", api=store.name
                )
            item, location = inventory.inventory_item_id, level.location_id

        async def plan(now: InventoryLevel, _: Tally) -> Planned:
            split = split_available(allocations, now.available)
            return Planned(quantity=split.total, units=split.units, reason=split.reason)

        for attempt in range(1, HOLD_ATTEMPTS + 1):
            try:
                record = await self._move(
                    mover, account, campaign_id, merchant_id, HOLD_KEY, "hold", item, location, plan
                )
            except PermanentChannelError:
                if attempt == HOLD_ATTEMPTS:
                    raise
                continue
            return _hold_outcome(record, allocations)
        raise AssertionError("unreachable")  # pragma: no cover

    async def sold(
        self,
        store: StoreConnector,
        account: ChannelAccount,
        *,
        campaign_id: str,
        merchant_id: str,
        channel: str,
        units_sold: int,
    ) -> int:
        """A channel reports `units_sold` in all: the new ones leave reserved. Returns the
        units moved now (0 for a total seen before, or when nothing is held for it)."""
        hold = await self.ledger.get(campaign_id, HOLD_KEY)
        if hold is None or hold.status != "applied" or units_sold <= 0:
            return 0
        key = sold_key(channel, units_sold)

        async def plan(_: InventoryLevel, current: Tally) -> Planned:
            quantity = sold_step(current, channel, units_sold)
            return Planned(
                quantity=quantity, units={channel: quantity}, reported_sold={channel: units_sold}
            )

        before = await self.ledger.get(campaign_id, key)
        if before is not None and before.status == "applied":
            return 0
        record = await self._move(
            one_attempt(store),
            account,
            campaign_id,
            merchant_id,
            key,
            "sold",
            hold.inventory_item_id,
            hold.location_id,
            plan,
        )
        return record.quantity

    async def release(
        self,
        store: StoreConnector,
        account: ChannelAccount,
        *,
        campaign_id: str,
        merchant_id: str,
        channels: Sequence[str] | None = None,
    ) -> dict[str, int]:
        """Give back every unit still held for `channels` (all: None). Returns the units
        given back per channel by this call (0 where a retry finds it done)."""
        hold = await self.ledger.get(campaign_id, HOLD_KEY)
        if hold is None or hold.status != "applied":
            return {}
        mover = one_attempt(store)
        returned: dict[str, int] = {}
        for channel in channels if channels is not None else list(hold.units):
            key = release_key(channel)
            done = await self.ledger.get(campaign_id, key)
            if done is not None and done.status == "applied":
                returned[channel] = 0
                continue

            async def plan(_: InventoryLevel, current: Tally, channel: str = channel) -> Planned:
                quantity = release_step(current, channel)
                return Planned(quantity=quantity, units={channel: quantity})

            record = await self._move(
                mover,
                account,
                campaign_id,
                merchant_id,
                key,
                "release",
                hold.inventory_item_id,
                hold.location_id,
                plan,
            )
            returned[channel] = record.quantity
        return returned

    async def _move(
        self,
        mover: StoreConnector,
        account: ChannelAccount,
        campaign_id: str,
        merchant_id: str,
        move_key: str,
        step: MoveStep,
        item: str,
        location: str,
        plan: Callable[[InventoryLevel, Tally], Awaitable[Planned]],
    ) -> MoveRecord:
        """Make one move at most once, under the lock of its item and location."""
        lock_key = f"{merchant_id}|{item}|{location}"
        async with self._locks(lock_key) as lock:
            now = await mover.read_level(account, item, location)
            await self._settle(lock_key, now)
            existing = await self.ledger.get(campaign_id, move_key)
            if existing is not None and existing.status == "applied":
                return existing
            planned = await plan(now, await self.tally(campaign_id))
            fields: dict[str, Any] = {
                "campaign_id": campaign_id,
                "merchant_id": merchant_id,
                "move_key": move_key,
                "step": step,
                "lock_key": lock_key,
                "inventory_item_id": item,
                "location_id": location,
                "quantity": planned.quantity,
                "units": planned.units,
                "reported_sold": planned.reported_sold,
                "level_before": now,
                "reason": planned.reason,
            }
            if planned.quantity == 0:  # nothing to move: recorded as made
                return await self.ledger.begin(**fields, status="applied", level_after=now)
            record = await self.ledger.begin(**fields)
            try:
                outcome = await mover.move_inventory(account, record.inventory_move(), before=now)
            except InventoryConflict as exc:  # the level changed before the call: none sent
                await self.ledger.finish(record, "not_made", reason=exc.message)
                raise
            except PermanentChannelError as exc:  # refused: GraphQL mutations are all or nothing
                await self.ledger.finish(record, "refused", reason=exc.message)
                log.warning("%s of campaign %s refused: %s", move_key, campaign_id, exc.message)
                raise
            except BaseException:
                # No answer (timeout, broken connection, 5xx): the call may still land at the
                # store. It stays "started", and the lock is kept until it expires, so the
                # next move reads the level only once this one has landed or never will.
                lock.keep()
                raise
            return await self.ledger.finish(
                record,
                "applied",
                level_after=outcome.after,
                adjustment_group_id=outcome.adjustment_group_id,
            )

    async def _settle(self, lock_key: str, now: InventoryLevel) -> None:
        """Decide what became of moves left "started" at this item and location (a timeout or
        a crash), from the level now; called under the lock, before any new move."""
        open_moves = await self.ledger.started(lock_key)
        if len(open_moves) > 1:  # cannot happen under the lock; never guess between them
            for record in open_moves:
                await self.ledger.finish(
                    record, "conflict", reason="several moves unresolved at one location"
                )
            return
        for record in open_moves:
            before = record.level_before
            if before is None:
                await self.ledger.finish(record, "not_made", reason="no level recorded")
                continue
            try:
                made = already_moved(record.inventory_move(), before, now)
            except InventoryConflict as exc:
                log.warning("move %s: %s", record.move_id, exc.message)
                await self.ledger.finish(record, "conflict", reason=exc.message)
                continue
            if made:
                await self.ledger.finish(
                    record, "applied", level_after=now, reason="found made after a failed attempt"
                )
            else:
                await self.ledger.finish(
                    record, "not_made", reason="found not made after a failed attempt"
                )


def _hold_outcome(record: MoveRecord, allocations: Sequence[tuple[str, int]]) -> HoldOutcome:
    units = {channel: record.units.get(channel, 0) for channel, _ in allocations}
    return HoldOutcome(
        units=units,
        reason=record.reason,
        inventory_item_id=record.inventory_item_id,
        location_id=record.location_id,
    )
