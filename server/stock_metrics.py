"""Stock integrity in /metrics (issue 11): drift by kind, oversells by channel, units held.

The worker finds drift and oversells and writes them to campaigns' timelines; any server process
answers the scrape. So the numbers are read from the database when /metrics is asked for
(`refresh`, a few grouped counts), not kept in one process's memory: every worker and every
server shows the same totals, and a restart loses none.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from piccolo.query.functions.aggregate import Count, Sum
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from execution.drift import DRIFT_KINDS
from execution.drift_check import DRIFT_STEP
from execution.stock_steps import OVERSOLD_STEP

log = logging.getLogger(__name__)


class StockCollector(Collector):
    """The families from the latest `refresh` (no I/O in `collect`)."""

    def __init__(self) -> None:
        self.drift: dict[str, int] = {kind: 0 for kind in DRIFT_KINDS}
        self.oversells: dict[str, int] = {}
        self.moves: dict[tuple[str, str], int] = {}

    async def refresh(self, tables: Any) -> None:
        """Read the totals (on error the last numbers stay: /metrics never fails for this)."""
        try:
            e, m = tables.campaign_event, tables.inventory_move
            drift: dict[str, int] = dict.fromkeys(DRIFT_KINDS, 0)
            rows = (
                await e.select(e.call, Count(e.id, alias="n"))
                .where(e.step == DRIFT_STEP)
                .group_by(e.call)
                .run()
            )
            drift.update({row["call"]: row["n"] for row in rows})
            rows = (
                await e.select(e.channel, Count(e.id, alias="n"))
                .where(e.step == OVERSOLD_STEP)
                .group_by(e.channel)
                .run()
            )
            oversells = {str(row["channel"]): row["n"] for row in rows}
            rows = (
                await m.select(m.step, m.status, Sum(m.quantity, alias="units"))
                .group_by(m.step, m.status)
                .run()
            )
            moves = {(row["step"], row["status"]): int(row["units"] or 0) for row in rows}
        except Exception as exc:
            log.warning("stock metrics not refreshed (%s)", type(exc).__name__)
            return
        self.drift, self.oversells, self.moves = drift, oversells, moves

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        drift = CounterMetricFamily(
            "channel_router_drift",
            "Drifts found between campaigns and the store or marketplaces, by kind.",
            labels=["kind"],
        )
        for kind, n in sorted(self.drift.items()):
            drift.add_metric([kind], n)
        oversells = CounterMetricFamily(
            "channel_router_oversells",
            "Times a marketplace sold more units than were held for its listing, by channel.",
            labels=["channel"],
        )
        for channel, n in sorted(self.oversells.items()):
            oversells.add_metric([channel], n)
        moved = CounterMetricFamily(
            "channel_router_inventory_moved_units",
            "Store units moved by campaigns: held, sold (left reserved) and released.",
            labels=["step"],
        )
        for step in ("hold", "sold", "release"):
            moved.add_metric([step], self.moves.get((step, "applied"), 0))
        held = GaugeMetricFamily(
            "channel_router_units_held",
            "Store units campaigns hold now (reserved, not yet sold or released).",
        )
        applied = {
            step: self.moves.get((step, "applied"), 0) for step in ("hold", "sold", "release")
        }
        held.add_metric([], applied["hold"] - applied["sold"] - applied["release"])
        yield drift
        yield oversells
        yield moved
        yield held
