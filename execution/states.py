"""The campaign state machine (CONTRACT §4, docs/execution.md): pure, no I/O.

A campaign is the store price change plus one listing per external channel. The jobs
(`execution.jobs`) call the marketplaces and then feed what happened to `apply`, which
returns the new state or raises `IllegalTransition`; they persist the result. Time comes in
on the events (`at`), never from a clock read here, so the machine is deterministic.

Statuses a client sees: `pending` (accepted, nothing done yet), `executing` (the store price
is set, listings are being created), `active` (every listing resolved), `failed` (the store
price could not be set: nothing was listed), `completed` (ended as scheduled) and `cancelled`
(ended on request). The end is *verified*: a campaign becomes `completed` or `cancelled` only
once the store price is back (or was changed by hand and left alone) and every listing that
could be live has been seen ended on its marketplace. Until then it keeps its status and
`end.outstanding` names what is left.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal

import msgspec
from msgspec.structs import replace

CampaignStatus = Literal["pending", "executing", "active", "failed", "completed", "cancelled"]
STATUSES: Final[tuple[CampaignStatus, ...]] = (
    "pending",
    "executing",
    "active",
    "failed",
    "completed",
    "cancelled",
)
FINAL_STATUSES: Final = frozenset({"failed", "completed", "cancelled"})

StoreStatus = Literal["pending", "setting", "applied", "failed", "skipped", "reverted", "kept"]
""""setting": the price before is read and kept, and a call setting the clearance price may be
under way (or may have landed before its worker died), so the end must read the store back;
"applied": the clearance price is on the store; "skipped": never set (ended first);
"reverted": the price before is back and was read back; "kept": someone changed the price by
hand during the campaign, so the end left their price alone."""

ListingStatus = Literal["pending", "submitted", "active", "failed", "rejected", "skipped", "ended"]
""""submitted": the marketplace accepted it but it is not buyable yet (Amazon ACCEPTED);
"skipped": never attempted (the store price failed, or the campaign ended first);
"ended": seen ended on the marketplace (withdrawn by us, sold out, or ended there)."""

EndReason = Literal["scheduled", "cancelled"]

LIVE_LISTINGS: Final = frozenset({"pending", "submitted", "active"})
"""Listings that may exist on a marketplace and must be seen ended before the campaign is."""


class IllegalTransition(Exception):
    """An event that the campaign's current state does not allow (a bug or a stale job)."""


class StoreState(msgspec.Struct, frozen=True):
    status: StoreStatus = "pending"
    price_before: str | None = None
    error: str | None = None


class ListingProgress(msgspec.Struct, frozen=True):
    channel: str
    allocated_units: int
    status: ListingStatus = "pending"
    external_listing_id: str | None = None
    units_sold: int = 0
    error: str | None = None
    # Whether anything may have reached the marketplace (a create call was made): a failed
    # create may still have left an item there, so the end checks it too.
    attempted: bool = False
    verified_ended: bool = False


class EndState(msgspec.Struct, frozen=True):
    reason: EndReason
    requested_at: datetime
    verified_at: datetime | None = None


class CampaignState(msgspec.Struct, frozen=True):
    status: CampaignStatus
    clearance_price: str
    ends_at: datetime
    store: StoreState
    listings: tuple[ListingProgress, ...]
    end: EndState | None = None

    def listing(self, channel: str) -> ListingProgress:
        for item in self.listings:
            if item.channel == channel:
                return item
        raise IllegalTransition(f"the campaign has no listing on {channel!r}")

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES

    def price_outstanding(self) -> bool:
        """The clearance price may still be on the store (the end must revert it)."""
        return self.store.status in ("pending", "setting", "applied")

    def listings_outstanding(self) -> list[str]:
        """Channels whose listing may still be live on its marketplace."""
        return [
            item.channel
            for item in self.listings
            if not item.verified_ended
            and (item.status in LIVE_LISTINGS or (item.status == "failed" and item.attempted))
        ]

    def outstanding(self) -> list[str]:
        """What the end still has to do, in words a merchant reads ("store price", "ebay")."""
        left = ["store price"] if self.price_outstanding() else []
        return left + self.listings_outstanding()

    def due(self, now: datetime) -> bool:
        """The campaign should be ending: its time is up, or an end was requested."""
        return not self.final and (self.end is not None or now >= self.ends_at)


def new_campaign(
    clearance_price: str, ends_at: datetime, allocations: dict[str, int]
) -> CampaignState:
    """A campaign just accepted: nothing done yet, one pending listing per allocated channel."""
    listings = tuple(
        ListingProgress(channel=channel, allocated_units=units)
        for channel, units in allocations.items()
    )
    return CampaignState(
        status="pending",
        clearance_price=clearance_price,
        ends_at=ends_at,
        store=StoreState(),
        listings=listings,
    )


# Events: what a job observed. Each is applied by `apply`.


class PriceAttempted(msgspec.Struct, frozen=True, tag=True):
    """The price before was read and the clearance price is about to be set (recorded first,
    like ListingAttempted: a re-run after a crash keeps this price before instead of reading
    the clearance price it set itself, and the end reads the store back)."""

    price_before: str
    at: datetime


class PriceSet(msgspec.Struct, frozen=True, tag=True):
    """The clearance price is on the store. `price_before` is used only when no
    PriceAttempted recorded one (the first read is the one that saw the merchant's price)."""

    price_before: str
    at: datetime


class PriceFailed(msgspec.Struct, frozen=True, tag=True):
    error: str
    at: datetime


class ListingAttempted(msgspec.Struct, frozen=True, tag=True):
    """A create call is about to be made (recorded first: after a crash the end checks it)."""

    channel: str
    at: datetime


class ListingCreated(msgspec.Struct, frozen=True, tag=True):
    channel: str
    external_listing_id: str
    live: bool  # False: accepted but not buyable yet ("submitted")
    at: datetime


class ListingFailed(msgspec.Struct, frozen=True, tag=True):
    channel: str
    error: str
    rejected: bool  # the marketplace refused the listing itself (not our call)
    at: datetime


class ListingObserved(msgspec.Struct, frozen=True, tag=True):
    """The marketplace's view of a listing now (the refresh cron)."""

    channel: str
    status: Literal["submitted", "active", "ended", "rejected"]
    units_sold: int
    at: datetime
    detail: str | None = None


class EndRequested(msgspec.Struct, frozen=True, tag=True):
    reason: EndReason
    at: datetime


class PriceReverted(msgspec.Struct, frozen=True, tag=True):
    """The store price was read back equal to the price before."""

    at: datetime


class PriceKept(msgspec.Struct, frozen=True, tag=True):
    """The store price was no longer the clearance price: changed by hand, left alone."""

    price_now: str
    at: datetime


class ListingWithdrawn(msgspec.Struct, frozen=True, tag=True):
    """The listing was read back ended (or absent) on its marketplace."""

    channel: str
    units_sold: int
    at: datetime


class EndVerified(msgspec.Struct, frozen=True, tag=True):
    """Close the campaign; refused while anything is outstanding."""

    at: datetime


Event = (
    PriceAttempted
    | PriceSet
    | PriceFailed
    | ListingAttempted
    | ListingCreated
    | ListingFailed
    | ListingObserved
    | EndRequested
    | PriceReverted
    | PriceKept
    | ListingWithdrawn
    | EndVerified
)


def apply(state: CampaignState, event: Event) -> CampaignState:
    """The state after `event`; IllegalTransition when the state does not allow it."""
    if state.final:
        raise IllegalTransition(f"the campaign is {state.status}: {type(event).__name__} refused")
    match event:
        case PriceAttempted(price_before=before):
            if state.store.status == "setting":
                return state  # a re-run: the first price before stands
            if state.store.status != "pending":
                # "skipped": the end came first, so the price must not be set now.
                raise IllegalTransition(f"the store price is {state.store.status}: not setting it")
            return replace(state, store=StoreState(status="setting", price_before=before))
        case PriceSet(price_before=before):
            # Allowed after an end was requested too ("skipped": the end came while the call
            # was under way): the price is then on the store and the end must revert it, so
            # recording it is what keeps it from being lost.
            if state.store.status not in ("pending", "setting", "skipped"):
                raise IllegalTransition(f"the store price is {state.store.status} already")
            kept_before = state.store.price_before or before
            state = replace(state, store=StoreState(status="applied", price_before=kept_before))
            if state.end is None:
                state = replace(state, status="executing")
            return _settle(state)
        case PriceFailed(error=error):
            if state.store.status not in ("pending", "setting"):
                raise IllegalTransition(f"the store price is {state.store.status} already")
            skipped = tuple(
                replace(item, status="skipped", error="not listed: the store price failed")
                for item in state.listings
            )
            store = StoreState(status="failed", error=error)
            return replace(state, status="failed", store=store, listings=skipped)
        case ListingAttempted(channel=channel):
            item = state.listing(channel)
            if state.store.status != "applied" or item.status != "pending":
                raise IllegalTransition(f"{channel} cannot be listed now ({item.status})")
            return _with_listing(state, replace(item, attempted=True))
        case ListingCreated(channel=channel, external_listing_id=listing_id, live=live):
            item = state.listing(channel)
            if not item.attempted or item.status not in ("pending", "submitted"):
                raise IllegalTransition(f"{channel} is {item.status}: not being listed")
            status: ListingStatus = "active" if live else "submitted"
            item = replace(item, status=status, external_listing_id=listing_id, error=None)
            return _settle(_with_listing(state, item))
        case ListingFailed(channel=channel, error=error, rejected=rejected):
            item = state.listing(channel)
            if item.status != "pending":
                raise IllegalTransition(f"{channel} is {item.status}: not being listed")
            failed: ListingStatus = "rejected" if rejected else "failed"
            return _settle(_with_listing(state, replace(item, status=failed, error=error)))
        case ListingObserved(channel=channel, status=seen, units_sold=sold, detail=detail):
            item = state.listing(channel)
            if item.status not in ("submitted", "active"):
                raise IllegalTransition(f"{channel} is {item.status}: nothing to observe")
            ended = seen in ("ended", "rejected")
            item = replace(
                item,
                status=seen,
                units_sold=max(item.units_sold, sold),
                error=detail if ended else item.error,
                verified_ended=ended,
            )
            return _settle(_with_listing(state, item))
        case EndRequested(reason=reason, at=at):
            if state.end is not None:
                return state  # asked twice: the first reason stands
            state = replace(state, end=EndState(reason=reason, requested_at=at))
            # What was never started never will be: no store price yet, no listing attempted.
            # A price being set ("setting") stays outstanding: the end reads the store back.
            if state.store.status == "pending":
                state = replace(state, store=StoreState(status="skipped"))
            listings = tuple(
                replace(item, status="skipped", error="not listed: the campaign ended first")
                if item.status == "pending" and not item.attempted
                else item
                for item in state.listings
            )
            return replace(state, listings=listings)
        case PriceReverted():
            _require_end(state, "revert the price")
            if state.store.status not in ("applied", "setting"):
                raise IllegalTransition(f"the store price is {state.store.status}: no revert")
            return replace(state, store=replace(state.store, status="reverted"))
        case PriceKept():
            _require_end(state, "keep a changed price")
            if state.store.status not in ("applied", "setting"):
                raise IllegalTransition(f"the store price is {state.store.status}: no revert")
            return replace(state, store=replace(state.store, status="kept"))
        case ListingWithdrawn(channel=channel, units_sold=sold):
            _require_end(state, "withdraw a listing")
            item = state.listing(channel)
            if channel not in state.listings_outstanding():
                return state  # seen ended already: a retried end
            final_status: ListingStatus = "ended" if item.status != "failed" else "failed"
            item = replace(
                item,
                status=final_status,
                units_sold=max(item.units_sold, sold),
                verified_ended=True,
            )
            return _with_listing(state, item)
        case EndVerified(at=at):
            end = _require_end(state, "verify the end")
            left = state.outstanding()
            if left:
                raise IllegalTransition(f"the end is not verified: {', '.join(left)} outstanding")
            done: CampaignStatus = "cancelled" if end.reason == "cancelled" else "completed"
            return replace(state, status=done, end=replace(end, verified_at=at))
    raise IllegalTransition(f"unknown event {event!r}")


def _require_end(state: CampaignState, what: str) -> EndState:
    if state.end is None:
        raise IllegalTransition(f"cannot {what} before the end was requested")
    return state.end


def _with_listing(state: CampaignState, item: ListingProgress) -> CampaignState:
    listings = tuple(item if old.channel == item.channel else old for old in state.listings)
    return replace(state, listings=listings)


def _settle(state: CampaignState) -> CampaignState:
    """`executing` becomes `active` once no listing is still pending."""
    if state.status == "executing" and all(i.status != "pending" for i in state.listings):
        return replace(state, status="active")
    return state
