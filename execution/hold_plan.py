"""The arithmetic of a campaign's held units (issue 11, item 1): pure, no I/O.

A campaign holds its external units off the store (available -> reserved) while it runs. Our
own record of every move (`execution.holds`, table `inventory_move`) is the ledger; this module
decides from that record what to move next, and reads back what is held, sold and returned:

- `split_available`: fewer units available than the decision sends out? Allocate what is
  there by the contract's rule (CONTRACT §2: `units // n` each in channel order, the first
  `units % n` one more), never more than a channel was allocated, and say why.
- `tally`: held, sold, returned and oversold per channel from the applied moves.
- `sold_step` / `release_step`: what the next "sold" or "release" move takes out of reserved.

Invariant (tested for all inputs): for every channel, sold + returned + still held = held, and
held <= allocated.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final, Literal

import msgspec

MoveStep = Literal["hold", "release", "sold"]
MoveStatus = Literal["started", "applied", "not_made", "refused", "conflict"]
""""started": recorded before the call (the level read before it with it); "applied": made
(seen in the mutation's answer, or found made by comparing levels); "not_made": found not made
after a failed attempt, so it may be made again; "refused": the store refused it (nothing moved);
"conflict": someone else changed the reserved quantity meanwhile, so whether it was made cannot
be told (flagged, counted as not made)."""

HOLD_KEY: Final = "hold"


class Split(msgspec.Struct, frozen=True):
    """Units per channel to hold, in the decision's channel order; `reason` when short."""

    units: dict[str, int]
    wanted: int
    available: int
    reason: str | None = None

    @property
    def total(self) -> int:
        return sum(self.units.values())


def split_available(allocations: Sequence[tuple[str, int]], available: int) -> Split:
    """Hold every allocated unit when the store has them; otherwise share the `available` ones
    by the allocation rule over the channels, capped at each channel's allocation (a capped
    channel's excess goes to the next ones in order)."""
    wanted = sum(units for _, units in allocations)
    if available >= wanted:
        return Split(units=dict(allocations), wanted=wanted, available=available)
    have = max(0, available)
    channels = [(name, units) for name, units in allocations if units > 0]
    n = len(channels)
    units = {name: 0 for name, _ in allocations}
    if n:
        for index, (name, allocated) in enumerate(channels):
            units[name] = min(allocated, have // n + (1 if index < have % n else 0))
        left = have - sum(units.values())
        for name, allocated in channels:  # only when an allocation capped its share
            extra = min(left, allocated - units[name])
            units[name] += extra
            left -= extra
    reason = (
        f"the store had {have} units available, the decision sends {wanted} to external "
        f"channels: {have} held, shared by the allocation rule"
    )
    return Split(units=units, wanted=wanted, available=have, reason=reason)


class Move(msgspec.Struct, frozen=True):
    """One recorded move of a campaign (a row of `inventory_move`, as far as sums go)."""

    move_key: str
    step: MoveStep
    status: MoveStatus
    quantity: int
    units: dict[str, int]  # per channel; sums to `quantity`
    reported_sold: dict[str, int] = {}  # "sold" moves: the channel's units sold, as reported


class Tally(msgspec.Struct, frozen=True):
    """What a campaign's applied moves add up to, per channel."""

    held: dict[str, int]
    sold: dict[str, int]
    returned: dict[str, int]
    reported_sold: dict[str, int]
    held_at_start: bool

    def still_held(self, channel: str) -> int:
        return self.held.get(channel, 0) - self.sold.get(channel, 0) - self.returned.get(channel, 0)

    def oversold(self, channel: str) -> int:
        """Units the marketplace sold beyond what was held for it (it let them be bought, or
        they sold after being given back to the store)."""
        covered = self.held.get(channel, 0) - self.returned.get(channel, 0)
        return max(0, self.reported_sold.get(channel, 0) - covered)

    @property
    def channels(self) -> list[str]:
        return list(self.held)


def tally(moves: Iterable[Move]) -> Tally:
    """Sum the applied moves (the others moved nothing, or cannot be told to have)."""
    held: dict[str, int] = {}
    sold: dict[str, int] = {}
    returned: dict[str, int] = {}
    reported: dict[str, int] = {}
    started = False
    for move in moves:
        if move.step == "sold":
            for channel, total in move.reported_sold.items():
                reported[channel] = max(reported.get(channel, 0), total)
        if move.status != "applied":
            continue
        target = {"hold": held, "sold": sold, "release": returned}[move.step]
        started = started or move.step == "hold"
        for channel, units in move.units.items():
            target[channel] = target.get(channel, 0) + units
    return Tally(
        held=held, sold=sold, returned=returned, reported_sold=reported, held_at_start=started
    )


def sold_step(current: Tally, channel: str, units_sold: int) -> int:
    """Units to take out of reserved now for a channel that reports `units_sold` in all: the
    new sales, as far as units are still held for it (the rest are oversold)."""
    covered = min(units_sold, current.held.get(channel, 0) - current.returned.get(channel, 0))
    return max(0, covered - current.sold.get(channel, 0))


def sold_key(channel: str, units_sold: int) -> str:
    """One key per reported total: a re-synced total moves nothing twice."""
    return f"sold-{channel}-{units_sold}"


def release_step(current: Tally, channel: str) -> int:
    """Units to give back to available for a channel: everything still held for it."""
    return max(0, current.still_held(channel))


def release_key(channel: str) -> str:
    return f"release-{channel}"
