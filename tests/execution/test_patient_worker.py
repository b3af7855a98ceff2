"""The pauses of a worker waiting for Redis (execution.patient_worker): never a busy loop,
never longer than the cap, whatever the figures."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from execution.patient_worker import MAX_WAIT_SECONDS, waits


def test_the_default_waits_double_from_half_a_second_to_five() -> None:
    assert list(itertools.islice(waits(), 7)) == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]
    assert MAX_WAIT_SECONDS == 5.0


@given(
    first=st.floats(min_value=0.01, max_value=10),
    cap=st.floats(min_value=0.01, max_value=60),
    count=st.integers(min_value=1, max_value=200),
)
def test_waits_grow_and_stay_under_the_cap(first: float, cap: float, count: int) -> None:
    seen = list(itertools.islice(waits(first, cap), count))
    assert seen[0] == first
    assert all(w <= max(first, cap) and w >= min(first, cap) for w in seen)
    assert all(b >= a or b == cap for a, b in itertools.pairwise(seen))
