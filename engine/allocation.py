"""Split stock between the store and external channels (docs/policies.md, "Allocation").

Integer arithmetic only, so units are never lost or invented: whatever is not
allocated to an external channel stays on the store.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

from engine.types import ExternalAllocation


def external_units(stock: int, percent: float) -> int:
    """floor(stock * percent / 100), exact for integer and decimal percentages.

    A float percentage is read as the decimal its author wrote (8.29, not the
    binary 8.2899999...), so 10000 units at 8.29 % give 829, as on paper.
    """
    if isinstance(percent, int):
        return stock * percent // 100
    return math.floor(stock * Fraction(repr(percent)) / 100)


def allocate(
    stock: int,
    percent: float,
    channels: Sequence[str],
    price: str,
    duration_hours: int,
) -> tuple[int, list[ExternalAllocation]]:
    """(store_units, external allocations): `percent` of `stock` spread over `channels`.

    Each channel gets units // n, the first units % n one more, in the given
    order; channels that would get 0 are left out.
    """
    duration_days = max(1, duration_hours // 24)
    unique = list(dict.fromkeys(channels))
    total = external_units(stock, percent) if unique else 0
    allocations: list[ExternalAllocation] = []
    if unique:
        share, extra = divmod(total, len(unique))
        for i, channel in enumerate(unique):
            units = share + (1 if i < extra else 0)
            if units:
                allocations.append(ExternalAllocation(channel, units, price, duration_days))
    return stock - sum(a.allocated_units for a in allocations), allocations
