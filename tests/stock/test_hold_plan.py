"""The arithmetic of held units (execution.hold_plan), for all inputs: a short store is shared
by the allocation rule without losing or inventing a unit, and held = sold + returned + still
held for every channel whatever the sales and releases."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from execution.hold_plan import (
    Move,
    release_step,
    sold_step,
    split_available,
    tally,
)

CHANNELS = ("ebay", "amazon", "etsy", "walmart")

allocations = st.lists(st.integers(min_value=0, max_value=500), min_size=1, max_size=4).map(
    lambda units: list(zip(CHANNELS, units, strict=False))
)


@given(allocations, st.integers(min_value=-5, max_value=2500))
def test_a_split_conserves_units_and_never_exceeds_what_is_there(
    alloc: list[tuple[str, int]], available: int
) -> None:
    split = split_available(alloc, available)
    wanted = sum(units for _, units in alloc)
    assert split.total == min(wanted, max(0, available))  # nothing lost, nothing invented
    assert split.total <= max(0, available)
    assert list(split.units) == [name for name, _ in alloc]  # the decision's order
    for name, units in alloc:
        assert 0 <= split.units[name] <= units
    assert (split.reason is None) == (available >= wanted)


@given(st.integers(min_value=1, max_value=1000), st.integers(min_value=1, max_value=4))
def test_a_short_split_follows_the_contract_rule(available: int, n: int) -> None:
    """Rule-made allocations (CONTRACT §2) shared again by the same rule: floor(units / n)
    each, the first units % n one more, no cap needed."""
    wanted = available + 7
    alloc = [(CHANNELS[i], wanted // n + (1 if i < wanted % n else 0)) for i in range(n)]
    split = split_available(alloc, available)
    expected = [available // n + (1 if i < available % n else 0) for i in range(n)]
    assert list(split.units.values()) == expected


def test_the_examples_in_words() -> None:
    assert split_available([("ebay", 21), ("amazon", 21)], 60).units == {"ebay": 21, "amazon": 21}
    short = split_available([("ebay", 21), ("amazon", 21)], 31)
    assert short.units == {"ebay": 16, "amazon": 15}
    assert short.reason is not None and "31 units available" in short.reason
    capped = split_available([("ebay", 2), ("amazon", 30)], 20)
    assert capped.units == {"ebay": 2, "amazon": 18}
    assert split_available([("ebay", 5)], 0).units == {"ebay": 0}


@given(
    allocations,
    st.integers(min_value=0, max_value=2500),
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 600)), max_size=12),
    st.lists(st.integers(0, 3), max_size=4),
)
def test_held_is_always_sold_plus_returned_plus_still_held(
    alloc: list[tuple[str, int]],
    available: int,
    reports: list[tuple[int, int]],
    releases: list[int],
) -> None:
    split = split_available(alloc, available)
    moves = [Move("hold", "hold", "applied", split.total, split.units)]
    names = [name for name, _ in alloc]
    reported: dict[str, int] = {}
    steps = [("sold", i, total) for i, total in reports] + [("release", i, 0) for i in releases]
    for kind, index, total in steps:
        channel = names[index % len(names)]
        current = tally(moves)
        if kind == "sold":
            total = max(total, reported.get(channel, 0))  # a channel's total never goes down
            reported[channel] = total
            q = sold_step(current, channel, total)
            moves.append(
                Move(f"s{len(moves)}", "sold", "applied", q, {channel: q}, {channel: total})
            )
        else:
            q = release_step(current, channel)
            moves.append(Move(f"r{len(moves)}", "release", "applied", q, {channel: q}))
    final = tally(moves)
    for channel in names:
        held = final.held[channel]
        sold, returned = final.sold.get(channel, 0), final.returned.get(channel, 0)
        assert held == sold + returned + final.still_held(channel)
        assert final.still_held(channel) >= 0
        assert held <= dict(alloc)[channel]
        # every reported sale is either taken out of the held units or counted as oversold
        assert sold + final.oversold(channel) >= reported.get(channel, 0)
        assert sold <= reported.get(channel, 0)


def test_moves_not_applied_count_for_nothing() -> None:
    moves = [
        Move("hold", "hold", "applied", 10, {"ebay": 10}),
        Move("sold-ebay-3", "sold", "started", 3, {"ebay": 3}, {"ebay": 3}),
        Move("release-ebay", "release", "refused", 10, {"ebay": 10}),
    ]
    current = tally(moves)
    assert (current.still_held("ebay"), current.reported_sold["ebay"]) == (10, 3)
