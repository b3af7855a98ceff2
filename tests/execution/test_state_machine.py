"""The campaign state machine (execution.states) under every sequence of events.

A hypothesis RuleBasedStateMachine feeds the machine events in any order, with any channel
(one it does not have too), and checks after every step what a merchant relies on:

- a campaign reaches `completed` or `cancelled` only with the store price reverted or kept
  (or never set) and no listing that may be live;
- a `failed` campaign never attempted a listing, and lists nothing afterwards;
- an illegal event raises IllegalTransition and the state is exactly as it was;
- EndRequested twice is EndRequested once; units_sold never goes down;
- a closed campaign refuses every event; the state survives its msgspec round trip.

The sequence tests below pin the races a job meets: an end that comes while the store price
is being set, and a worker killed between setting the price and recording it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from execution.states import (
    LIVE_LISTINGS,
    CampaignState,
    EndRequested,
    EndVerified,
    Event,
    IllegalTransition,
    ListingAttempted,
    ListingCreated,
    ListingFailed,
    ListingObserved,
    ListingWithdrawn,
    PriceAttempted,
    PriceFailed,
    PriceKept,
    PriceReverted,
    PriceSet,
    apply,
    new_campaign,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ENDS_AT = T0 + timedelta(days=7)
CHANNELS = ("ebay", "amazon", "walmart")  # walmart: a channel no campaign here lists on
prices = st.sampled_from(["49.99", "19.99", "12.00"])
sold = st.integers(min_value=0, max_value=40)


class CampaignMachine(RuleBasedStateMachine):
    """One campaign, fed any event; the model remembers what the events told it."""

    @initialize(
        channels=st.lists(st.sampled_from(CHANNELS[:2]), unique=True, min_size=1, max_size=2),
        units=st.integers(min_value=1, max_value=30),
    )
    def start(self, channels: list[str], units: int) -> None:
        self.state: CampaignState = new_campaign("19.99", ENDS_AT, dict.fromkeys(channels, units))
        self.clock = T0
        self.price_on_store = (
            False  # a PriceSet was accepted: the clearance price went on the store
        )
        self.attempted: set[str] = set()  # channels a create call was accepted for
        self.sold: dict[str, int] = {item.channel: 0 for item in self.state.listings}

    def tick(self) -> datetime:
        self.clock += timedelta(minutes=1)
        return self.clock

    def feed(self, event: Event) -> bool:
        """Apply `event`; True when it was accepted. A refusal must change nothing."""
        before = self.state
        snapshot = msgspec.json.encode(before)
        try:
            after = apply(before, event)
        except IllegalTransition:
            assert self.state is before and msgspec.json.encode(self.state) == snapshot
            return False
        if before.final:
            raise AssertionError(f"a {before.status} campaign accepted {event!r}")
        self.state = after
        match event:
            case PriceSet():
                self.price_on_store = True
            case ListingAttempted(channel=channel):
                self.attempted.add(channel)
        return True

    # Steps a job takes --------------------------------------------------------------------

    @rule(before=prices)
    def price_attempted(self, before: str) -> None:
        self.feed(PriceAttempted(price_before=before, at=self.tick()))

    @rule(before=prices)
    def price_set(self, before: str) -> None:
        store = self.state.store
        accepted = self.feed(PriceSet(price_before=before, at=self.tick()))
        # The price being on the store is never lost: a campaign still open records it.
        if not self.state.final and store.status in ("pending", "setting", "skipped"):
            assert accepted, f"PriceSet refused with the store {store.status}"
        if accepted and store.status == "setting":
            assert self.state.store.price_before == store.price_before  # the first read stands

    @rule(error=st.text(max_size=10))
    def price_failed(self, error: str) -> None:
        self.feed(PriceFailed(error=error, at=self.tick()))

    @rule(channel=st.sampled_from(CHANNELS))
    def listing_attempted(self, channel: str) -> None:
        self.feed(ListingAttempted(channel=channel, at=self.tick()))

    @rule(channel=st.sampled_from(CHANNELS), live=st.booleans())
    def listing_created(self, channel: str, live: bool) -> None:
        self.feed(
            ListingCreated(channel=channel, external_listing_id="X1", live=live, at=self.tick())
        )

    @rule(channel=st.sampled_from(CHANNELS), rejected=st.booleans())
    def listing_failed(self, channel: str, rejected: bool) -> None:
        self.feed(ListingFailed(channel=channel, error="no", rejected=rejected, at=self.tick()))

    @rule(
        channel=st.sampled_from(CHANNELS),
        seen=st.sampled_from(["submitted", "active", "ended", "rejected"]),
        units=sold,
    )
    def listing_observed(self, channel: str, seen: str, units: int) -> None:
        event = ListingObserved(channel=channel, status=seen, units_sold=units, at=self.tick())  # type: ignore[arg-type]
        self.feed(event)

    @rule(units=sold, live=st.booleans())
    def progress(self, units: int, live: bool) -> None:
        """The next step a healthy job would take, so that deep states are reached often."""
        state, at = self.state, self.tick()
        if state.store.status == "pending":
            self.feed(PriceSet(price_before="49.99", at=at))
            return
        for item in state.listings:
            if item.status == "pending" and not item.attempted:
                self.feed(ListingAttempted(channel=item.channel, at=at))
                return
            if item.status == "pending":
                event = ListingCreated(
                    channel=item.channel, external_listing_id="X1", live=live, at=at
                )
                self.feed(event)
                return
        for item in state.listings:
            if item.status in ("submitted", "active"):
                self.feed(
                    ListingObserved(channel=item.channel, status="active", units_sold=units, at=at)
                )
                return

    # The end ------------------------------------------------------------------------------

    @rule(reason=st.sampled_from(["scheduled", "cancelled"]))
    def end_requested(self, reason: str) -> None:
        if self.feed(EndRequested(reason=reason, at=self.tick())):  # type: ignore[arg-type]
            once = self.state
            again = apply(once, EndRequested(reason="cancelled", at=self.tick()))
            assert again == once, "a second EndRequested changed the campaign"

    @rule()
    def price_reverted(self) -> None:
        self.feed(PriceReverted(at=self.tick()))

    @rule(now=prices)
    def price_kept(self, now: str) -> None:
        self.feed(PriceKept(price_now=now, at=self.tick()))

    @rule(channel=st.sampled_from(CHANNELS), units=sold)
    def listing_withdrawn(self, channel: str, units: int) -> None:
        self.feed(ListingWithdrawn(channel=channel, units_sold=units, at=self.tick()))

    @rule()
    def end_verified(self) -> None:
        outstanding = self.state.outstanding()
        accepted = self.feed(EndVerified(at=self.tick()))
        if accepted:
            assert not outstanding

    @precondition(lambda self: self.state.final)
    @rule()
    def closed_refuses_everything(self) -> None:
        for event in (
            PriceSet(price_before="1.00", at=self.clock),
            EndRequested(reason="cancelled", at=self.clock),
            ListingWithdrawn(channel="ebay", units_sold=0, at=self.clock),
            EndVerified(at=self.clock),
        ):
            with pytest.raises(IllegalTransition):
                apply(self.state, event)

    # What must hold after every step ------------------------------------------------------

    @invariant()
    def closed_means_price_back_and_nothing_live(self) -> None:
        state = self.state
        if state.status not in ("completed", "cancelled"):
            return
        assert state.end is not None and state.end.verified_at is not None
        assert state.store.status in ("reverted", "kept", "skipped")
        if self.price_on_store:
            assert state.store.status in ("reverted", "kept")
        assert not state.outstanding()
        for item in state.listings:
            assert item.status not in LIVE_LISTINGS, item
            if item.channel in self.attempted:
                assert item.verified_ended or item.status == "rejected", item
        expected = "cancelled" if state.end.reason == "cancelled" else "completed"
        assert state.status == expected

    @invariant()
    def failed_means_nothing_listed(self) -> None:
        state = self.state
        if state.status != "failed":
            return
        assert state.store.status == "failed"
        assert not self.attempted and not self.price_on_store
        for item in state.listings:
            assert item.status == "skipped" and not item.attempted, item

    @invariant()
    def units_sold_never_decrease(self) -> None:
        for item in self.state.listings:
            assert item.units_sold >= self.sold[item.channel], item
            self.sold[item.channel] = item.units_sold

    @invariant()
    def only_attempted_listings_exist(self) -> None:
        for item in self.state.listings:
            if item.status in ("submitted", "active", "ended") or item.external_listing_id:
                assert item.channel in self.attempted, item
            assert item.attempted == (item.channel in self.attempted)

    @invariant()
    def active_means_no_listing_waits(self) -> None:
        if self.state.status == "active":
            assert all(item.status != "pending" for item in self.state.listings)

    @invariant()
    def survives_the_database_round_trip(self) -> None:
        encoded = msgspec.json.encode(self.state)
        assert msgspec.json.decode(encoded, type=CampaignState) == self.state


TestCampaignMachine = CampaignMachine.TestCase
TestCampaignMachine.settings = settings(
    max_examples=400,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


# Sequences a job meets ------------------------------------------------------------------------


def _run(state: CampaignState, *events: Event) -> CampaignState:
    for event in events:
        state = apply(state, event)
    return state


def _campaign() -> CampaignState:
    return new_campaign("19.99", ENDS_AT, {"ebay": 5, "amazon": 5})


def test_a_cancel_while_the_store_price_is_being_set_still_reverts_it() -> None:
    """The start job's update_price lands after the cancel: PriceSet is accepted (it was
    refused before this fix, so the end saw `skipped` and closed with the clearance price
    on the store), and the campaign cannot close until the price is back."""
    state = _run(_campaign(), EndRequested(reason="cancelled", at=T0))
    assert state.store.status == "skipped"
    state = apply(state, PriceSet(price_before="49.99", at=T0))
    assert state.store.status == "applied" and state.outstanding() == ["store price"]
    with pytest.raises(IllegalTransition, match="store price outstanding"):
        apply(state, EndVerified(at=T0))
    state = _run(state, PriceReverted(at=T0), EndVerified(at=T0))
    assert state.status == "cancelled"
    assert [item.status for item in state.listings] == ["skipped", "skipped"]


def test_a_price_being_set_stays_outstanding_through_the_end() -> None:
    """A worker killed after its update_price call: the store says `setting`, so the end
    reads the store back instead of skipping it."""
    state = _run(_campaign(), PriceAttempted(price_before="49.99", at=T0))
    state = apply(state, EndRequested(reason="scheduled", at=T0))
    assert state.store.status == "setting" and state.price_outstanding()
    with pytest.raises(IllegalTransition):
        apply(state, EndVerified(at=T0))
    state = _run(state, PriceReverted(at=T0), EndVerified(at=T0))
    assert state.status == "completed" and state.store.price_before == "49.99"


def test_a_rerun_keeps_the_first_price_before() -> None:
    """The re-run reads the clearance price it set itself: the first read is kept."""
    state = _run(
        _campaign(),
        PriceAttempted(price_before="49.99", at=T0),
        PriceAttempted(price_before="19.99", at=T0),
        PriceSet(price_before="19.99", at=T0),
    )
    assert state.store.price_before == "49.99" and state.status == "executing"


def test_no_price_is_set_once_the_end_came_first() -> None:
    state = apply(_campaign(), EndRequested(reason="cancelled", at=T0))
    with pytest.raises(IllegalTransition, match="skipped"):
        apply(state, PriceAttempted(price_before="49.99", at=T0))
    assert _run(state, EndVerified(at=T0)).status == "cancelled"


def test_a_create_that_lands_after_the_withdraw_is_refused() -> None:
    """The end saw nothing on eBay and closed the listing; the create call lands later.
    The machine refuses it, so the listing job knows to withdraw what it just made."""
    state = _run(
        _campaign(),
        PriceSet(price_before="49.99", at=T0),
        ListingAttempted(channel="ebay", at=T0),
        EndRequested(reason="cancelled", at=T0),
        ListingWithdrawn(channel="ebay", units_sold=0, at=T0),
    )
    with pytest.raises(IllegalTransition):
        apply(state, ListingCreated(channel="ebay", external_listing_id="1", live=True, at=T0))


def test_a_failed_create_that_may_have_listed_is_checked_at_the_end() -> None:
    state = _run(
        _campaign(),
        PriceSet(price_before="49.99", at=T0),
        ListingAttempted(channel="ebay", at=T0),
        ListingFailed(channel="ebay", error="timeout", rejected=False, at=T0),
        ListingFailed(channel="amazon", error="no credentials", rejected=False, at=T0),
        EndRequested(reason="scheduled", at=T0),
        PriceReverted(at=T0),
    )
    assert state.status == "active" and state.outstanding() == ["ebay"]
    state = _run(state, ListingWithdrawn(channel="ebay", units_sold=0, at=T0), EndVerified(at=T0))
    assert state.status == "completed"


def test_a_store_failure_lists_nothing() -> None:
    state = apply(_campaign(), PriceFailed(error="userErrors: price", at=T0))
    assert state.status == "failed"
    for event in (
        ListingAttempted(channel="ebay", at=T0),
        PriceSet(price_before="49.99", at=T0),
        EndRequested(reason="cancelled", at=T0),
    ):
        with pytest.raises(IllegalTransition):
            apply(state, event)
