"""Campaigns in the database: created once per idempotency key, changed only through
`execution.states.apply` under compare-and-set, read back with their timeline.

The tables come from `server.db.tables` (one set per database); this module only needs
their piccolo classes, so it takes them as the `tables` object the server builds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec

from execution.states import (
    FINAL_STATUSES,
    LIVE_LISTINGS,
    CampaignState,
    CampaignStatus,
    EndState,
    Event,
    ListingProgress,
    StoreState,
    apply,
)


class IdempotencyConflict(Exception):
    """The Idempotency-Key was used before with another body (409)."""


class CampaignIdTaken(Exception):
    """The campaign id asked for belongs to a campaign made under another key (409)."""


class CampaignMissing(Exception):
    """No campaign with that id."""


class CampaignRecord(msgspec.Struct, frozen=True):
    """A campaign as stored: its state and what was executed."""

    campaign_id: str
    merchant_id: str
    state: CampaignState
    request: dict[str, Any]  # the DecideRequest executed
    decision: dict[str, Any]  # the Decision it carried out
    skus: dict[str, str]  # channel -> the sku listed under
    product_id: str
    variant_id: str
    version: int
    created_at: datetime
    updated_at: datetime


class TimelineEntry(msgspec.Struct, frozen=True):
    """One step or attempt of a campaign, as `GET /v1/campaigns/{id}` lists it in `events`."""

    at: datetime
    step: str
    outcome: str
    attempt: int = 1
    channel: str | None = None
    call: str = ""
    detail: str | None = None


Outcome = Literal["started", "ok", "retry", "failed", "skipped", "info"]

_CAS_ATTEMPTS = 20


def _utcnow() -> datetime:
    return datetime.now(UTC)


class CampaignStore:
    """Reads and writes campaigns, their listings, price changes, sales and timeline."""

    def __init__(self, tables: Any, clock: Callable[[], datetime] = _utcnow) -> None:
        self._t = tables
        self._clock = clock

    # Creation ------------------------------------------------------------------------------

    async def create(
        self,
        *,
        campaign_id: str,
        merchant_id: str,
        idempotency_key: str,
        body_sha256: str,
        request: dict[str, Any],
        decision: dict[str, Any],
        state: CampaignState,
        skus: dict[str, str],
        product_id: str,
        variant_id: str,
    ) -> tuple[CampaignRecord, bool]:
        """Store a new campaign under its idempotency key; returns (campaign, created).

        The same key and body give back the campaign made the first time (created False);
        the same key and another body raise IdempotencyConflict; a `campaign_id` that a
        campaign made under another key has raises CampaignIdTaken. The key and the
        campaign are written in one transaction, so a key always names a campaign that
        exists: when two requests with one key race, the second waits on the key's unique
        index for the first to commit, then finds its campaign."""
        keys = self._t.idempotency_key
        key_id = f"{merchant_id}:{idempotency_key}"
        try:
            async with keys._meta.db.transaction():
                now = self._clock()
                inserted = await (
                    keys.insert(
                        keys(
                            key_id=key_id,
                            merchant_id=merchant_id,
                            body_sha256=body_sha256,
                            campaign_id=campaign_id,
                            created_at=now,
                        )
                    )
                    .on_conflict(target=keys.key_id, action="DO NOTHING")
                    .returning(keys.id)
                    .run()
                )
                if not inserted:
                    row = await keys.select().where(keys.key_id == key_id).first().run()
                    if row["body_sha256"] != body_sha256:
                        raise IdempotencyConflict(
                            "this Idempotency-Key was used with another request body"
                        )
                    return await self.require(row["campaign_id"]), False
                await self._insert(
                    campaign_id,
                    merchant_id,
                    request,
                    decision,
                    state,
                    skus,
                    product_id,
                    variant_id,
                    now,
                )
        except (IdempotencyConflict, CampaignMissing):
            raise
        except Exception:
            # The campaign id's unique index refused it (the key's row went with the
            # rollback): a campaign made under another key has it.
            if await self.get(campaign_id) is None:
                raise
            raise CampaignIdTaken(
                f"campaign {campaign_id!r} exists, made with another Idempotency-Key"
            ) from None
        return await self.require(campaign_id), True

    async def key_use(self, merchant_id: str, idempotency_key: str) -> tuple[str, str] | None:
        """(body_sha256, campaign_id) the key was first used with, or None."""
        keys = self._t.idempotency_key
        row = (
            await keys.select(keys.body_sha256, keys.campaign_id)
            .where(keys.key_id == f"{merchant_id}:{idempotency_key}")
            .first()
            .run()
        )
        return None if row is None else (row["body_sha256"], row["campaign_id"])

    async def _insert(
        self,
        campaign_id: str,
        merchant_id: str,
        request: dict[str, Any],
        decision: dict[str, Any],
        state: CampaignState,
        skus: dict[str, str],
        product_id: str,
        variant_id: str,
        now: datetime,
    ) -> None:
        t = self._t
        async with t.campaign._meta.db.transaction():
            await t.campaign.insert(
                t.campaign(
                    campaign_id=campaign_id,
                    merchant_id=merchant_id,
                    status=state.status,
                    decision_id=str(decision.get("decision_id", "")),
                    decision=msgspec.json.encode(decision).decode(),
                    request=msgspec.json.encode(request).decode(),
                    clearance_price=state.clearance_price,
                    ends_at=state.ends_at,
                    version=0,
                    created_at=now,
                    updated_at=now,
                )
            ).run()
            await t.store_price_change.insert(
                t.store_price_change(
                    campaign_id=campaign_id,
                    merchant_id=merchant_id,
                    product_id=product_id,
                    variant_id=variant_id,
                    status=state.store.status,
                    clearance_price=state.clearance_price,
                )
            ).run()
            if state.listings:
                await t.campaign_listing.insert(
                    *[
                        t.campaign_listing(
                            listing_key=f"{campaign_id}:{item.channel}",
                            campaign_id=campaign_id,
                            channel=item.channel,
                            sku=skus[item.channel],
                            status=item.status,
                            allocated_units=item.allocated_units,
                            updated_at=now,
                        )
                        for item in state.listings
                    ]
                ).run()

    # Reading -------------------------------------------------------------------------------

    async def get(self, campaign_id: str) -> CampaignRecord | None:
        """The campaign, or None."""
        t = self._t
        row = await t.campaign.select().where(t.campaign.campaign_id == campaign_id).first().run()
        if row is None:
            return None
        return await self._record(row)

    async def require(self, campaign_id: str) -> CampaignRecord:
        record = await self.get(campaign_id)
        if record is None:
            raise CampaignMissing(campaign_id)
        return record

    async def for_merchant(
        self,
        merchant_id: str,
        *,
        status: CampaignStatus | None = None,
        before: tuple[datetime, str] | None = None,
        limit: int = 50,
    ) -> list[CampaignRecord]:
        """The merchant's campaigns, newest first; `before` is the (created_at, campaign_id)
        of the last one of the previous page (a keyset cursor: stable under inserts)."""
        c = self._t.campaign
        query = c.select().where(c.merchant_id == merchant_id)
        if status is not None:
            query = query.where(c.status == status)
        if before is not None:
            at, last_id = before
            query = query.where(
                (c.created_at < at) | ((c.created_at == at) & (c.campaign_id < last_id))
            )
        rows = await query.order_by(c.created_at, c.campaign_id, ascending=False).limit(limit).run()
        return [await self._record(row) for row in rows]

    async def timeline(self, campaign_id: str) -> list[TimelineEntry]:
        """The campaign's steps and attempts, oldest first."""
        e = self._t.campaign_event
        rows = (
            await e.select().where(e.campaign_id == campaign_id).order_by(e.created_at, e.id).run()
        )
        return [
            TimelineEntry(
                at=row["created_at"],
                step=row["step"],
                outcome=row["outcome"],
                attempt=row["attempt"],
                channel=row["channel"],
                call=row["call"],
                detail=row["detail"],
            )
            for row in rows
        ]

    async def due(self, now: datetime, limit: int = 100) -> list[str]:
        """Campaigns that should be ending: past `ends_at` or asked to end, not closed yet."""
        c = self._t.campaign
        rows = (
            await c.select(c.campaign_id)
            .where(c.status.not_in(list(FINAL_STATUSES)))
            .where((c.ends_at <= now) | c.end_requested_at.is_not_null())
            .order_by(c.ends_at)
            .limit(limit)
            .run()
        )
        return [row["campaign_id"] for row in rows]

    async def stalled(self, before: datetime, limit: int = 100) -> list[str]:
        """Campaigns still starting (pending or executing, no end asked) untouched since
        `before`: their start or listing jobs may have been lost with Redis."""
        c = self._t.campaign
        rows = (
            await c.select(c.campaign_id)
            .where(c.status.is_in(["pending", "executing"]))
            .where(c.end_requested_at.is_null())
            .where(c.updated_at < before)
            .order_by(c.updated_at)
            .limit(limit)
            .run()
        )
        return [row["campaign_id"] for row in rows]

    async def with_live_listings(self, limit: int = 500) -> list[str]:
        """Campaigns (not closed) with a listing that may be live: what the crons refresh."""
        li, c = self._t.campaign_listing, self._t.campaign
        open_ids = [
            row["campaign_id"]
            for row in await c.select(c.campaign_id)
            .where(c.status.not_in(list(FINAL_STATUSES)))
            .limit(limit)
            .run()
        ]
        if not open_ids:
            return []
        rows = (
            await li.select(li.campaign_id)
            .where(li.campaign_id.is_in(open_ids))
            .where(li.status.is_in(list(LIVE_LISTINGS)))
            .run()
        )
        return sorted({row["campaign_id"] for row in rows})

    # Changing ------------------------------------------------------------------------------

    async def apply(self, campaign_id: str, *events: Event) -> CampaignRecord:
        """Apply `events` in order and write the result, compare-and-set on `version`.

        Another writer in between makes the write miss; the events are then applied again
        to the fresh state (IllegalTransition from that is the caller's to handle)."""
        for _ in range(_CAS_ATTEMPTS):
            record = await self.require(campaign_id)
            state = record.state
            for event in events:
                state = apply(state, event)
            if state == record.state:
                return record
            if await self._write(record, state):
                return await self.require(campaign_id)
            await asyncio.sleep(0)
        raise RuntimeError(f"campaign {campaign_id}: {_CAS_ATTEMPTS} concurrent writes in a row")

    async def _write(self, record: CampaignRecord, state: CampaignState) -> bool:
        t = self._t
        c = t.campaign
        now = self._clock()
        end = state.end
        async with c._meta.db.transaction():
            updated = (
                await c.update(
                    {
                        c.status: state.status,
                        c.end_reason: end.reason if end else None,
                        c.end_requested_at: end.requested_at if end else None,
                        c.end_verified_at: end.verified_at if end else None,
                        c.version: record.version + 1,
                        c.updated_at: now,
                    }
                )
                .where(c.campaign_id == record.campaign_id)
                .where(c.version == record.version)
                .returning(c.id)
                .run()
            )
            if not updated:
                return False
            if state.store != record.state.store:
                p = t.store_price_change
                values: dict[Any, Any] = {
                    p.status: state.store.status,
                    p.price_before: state.store.price_before,
                    p.last_error: state.store.error,
                }
                if state.store.status == "applied":
                    values[p.set_at] = now
                if state.store.status in ("reverted", "kept"):
                    values[p.reverted_at] = now
                await p.update(values).where(p.campaign_id == record.campaign_id).run()
            old = {item.channel: item for item in record.state.listings}
            li = t.campaign_listing
            for item in state.listings:
                if old.get(item.channel) == item:
                    continue
                await (
                    li.update(
                        {
                            li.status: item.status,
                            li.external_listing_id: item.external_listing_id,
                            li.units_sold: item.units_sold,
                            li.attempted: int(item.attempted),
                            li.verified_ended: int(item.verified_ended),
                            li.last_error: item.error,
                            li.updated_at: now,
                        }
                    )
                    .where(li.listing_key == f"{record.campaign_id}:{item.channel}")
                    .run()
                )
        return True

    async def record_event(
        self,
        campaign_id: str,
        step: str,
        outcome: Outcome,
        *,
        channel: str | None = None,
        attempt: int = 1,
        call: str = "",
        detail: str | None = None,
    ) -> None:
        """Add a line to the timeline. `detail` is an error text from a connector, which
        never carries a token (connectors.errors); nothing else goes in."""
        e = self._t.campaign_event
        await e.insert(
            e(
                campaign_id=campaign_id,
                step=step,
                channel=channel,
                attempt=attempt,
                call=call,
                outcome=outcome,
                detail=detail,
                created_at=self._clock(),
            )
        ).run()

    async def record_sale(
        self,
        campaign_id: str,
        merchant_id: str,
        *,
        channel: str,
        order_id: str,
        sku: str,
        units: int,
        revenue: str,
        currency: str,
        sold_at: datetime,
        line: str = "",
    ) -> bool:
        """Store a sold order line once; False when it was synced before (a re-sync)."""
        s = self._t.synced_sale
        key = f"{channel}:{order_id}:{line or sku}"
        inserted = (
            await s.insert(
                s(
                    sale_key=key,
                    campaign_id=campaign_id,
                    merchant_id=merchant_id,
                    channel=channel,
                    order_id=order_id,
                    sku=sku,
                    units=units,
                    revenue=revenue,
                    currency=currency,
                    sold_at=sold_at,
                )
            )
            .on_conflict(target=s.sale_key, action="DO NOTHING")
            .returning(s.id)
            .run()
        )
        return bool(inserted)

    async def units_sold(self, campaign_id: str) -> dict[str, int]:
        """Units sold per channel, from the synced sales."""
        s = self._t.synced_sale
        rows = await s.select(s.channel, s.units).where(s.campaign_id == campaign_id).run()
        sold: dict[str, int] = {}
        for row in rows:
            sold[row["channel"]] = sold.get(row["channel"], 0) + row["units"]
        return sold

    # Rows -> records -----------------------------------------------------------------------

    async def _record(self, row: dict[str, Any]) -> CampaignRecord:
        t = self._t
        campaign_id = row["campaign_id"]
        price = (
            await t.store_price_change.select()
            .where(t.store_price_change.campaign_id == campaign_id)
            .first()
            .run()
        )
        li = t.campaign_listing
        listing_rows = await li.select().where(li.campaign_id == campaign_id).order_by(li.id).run()
        end = None
        if row["end_reason"]:
            end = EndState(
                reason=row["end_reason"],
                requested_at=row["end_requested_at"],
                verified_at=row["end_verified_at"],
            )
        state = CampaignState(
            status=row["status"],
            clearance_price=row["clearance_price"],
            ends_at=row["ends_at"],
            store=StoreState(
                status=price["status"],
                price_before=price["price_before"],
                error=price["last_error"],
            ),
            listings=tuple(
                ListingProgress(
                    channel=item["channel"],
                    allocated_units=item["allocated_units"],
                    status=item["status"],
                    external_listing_id=item["external_listing_id"],
                    units_sold=item["units_sold"],
                    error=item["last_error"],
                    attempted=bool(item["attempted"]),
                    verified_ended=bool(item["verified_ended"]),
                )
                for item in listing_rows
            ),
            end=end,
        )
        return CampaignRecord(
            campaign_id=campaign_id,
            merchant_id=row["merchant_id"],
            state=state,
            request=_json(row["request"]),
            decision=_json(row["decision"]),
            skus={item["channel"]: item["sku"] for item in listing_rows},
            product_id=price["product_id"],
            variant_id=price["variant_id"],
            version=row["version"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )


def _json(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    decoded: dict[str, Any] = msgspec.json.decode(value or "{}")
    return decoded
