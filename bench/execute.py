"""Campaign execution end to end: campaigns per second, and whether listing runs in parallel.

Run: `.venv/bin/python bench/execute.py [--campaigns 40] [--workers 2] [--latency-runs 5]
[--runs 1] [--database-url URL]` (also `make bench`).

Starts a whole deployment as processes (tests/execution/harness.py: the sandbox, a private
Redis, one `serve`, `--workers` x `worker`, a fresh SQLite file unless `--database-url`),
merchants with their Shopify store, eBay and Amazon connected through the API, and measures:

1. Throughput: `--campaigns` two-channel campaigns (dead stock: 21 units on eBay and 21 on
   Amazon each) sent to POST /v1/execute from 8 threads; campaigns per second from the
   first request to the moment the last one became active (its last listing created, read
   from the timeline). They are spread over 5 merchants: Amazon allows one seller 5 listing
   PUTs a second, and the service paces itself to that, so one merchant would measure
   Amazon's limit.
2. Parallel listing: with 100 ms added to every eBay and Amazon call (the sandbox's delay
   fault), `--latency-runs` campaigns one after another. A channel's time is its own work:
   from the sandbox seeing its first listing call for the campaign's SKU to the timeline's
   row for its finished create. Printed: execute-to-active divided by the sum of the channel
   times, and the listing phase (first channel call to last listing made) divided by that
   sum: 1.0 if the channels ran one after the other, max/sum if fully in parallel
   (1/channels when they take equally long).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)  # not bench/, whose http.py would shadow the standard library

from tests.execution.harness import (  # noqa: E402
    Deployment,
    Merchant,
    campaign_body,
    deployment,
    wait_for,
)

MERCHANTS = 5
THREADS = 8
CHANNELS = ("ebay", "amazon")
FIRST_CALL = {  # the first call of a create, whose path names the SKU
    "ebay": "/sell/inventory/v1/inventory_item/",
    "amazon": "/listings/2021-08-01/items/",
}


def _at(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def _ok_at(view: dict[str, Any], step: str, channel: str | None = None) -> float | None:
    """When the timeline's first successful row of `step` (on `channel`) was written."""
    times = [
        _at(e["at"])
        for e in view["events"]
        if e["step"] == step
        and e["outcome"] == "ok"
        and (channel is None or e["channel"] == channel)
    ]
    return min(times) if times else None


def _active_at(view: dict[str, Any]) -> float:
    """When the campaign became active: its last listing made (or its store price set)."""
    steps = [("list", item["channel"]) for item in view["listings"]] or [("store-price", None)]
    moments = [_ok_at(view, step, channel) for step, channel in steps]
    found = [t for t in moments if t is not None]
    assert len(found) == len(moments), view["events"]
    return max(found)


def _execute(d: Deployment, merchant: Merchant, body: dict[str, Any]) -> str:
    response = d.execute(merchant, body)
    assert response.status_code == 202, response.text
    campaign_id: str = response.json()["campaign_id"]
    return campaign_id


def throughput(d: Deployment, merchants: list[Merchant], count: int, first: int) -> float:
    """Campaigns per second, execute to active, for `count` campaigns sent at once."""
    bodies = []
    for index in range(count):
        merchant = merchants[index % len(merchants)]
        product, variant = str(first + index), f"{first + index}1"
        d.seed_product(product, variant, "49.99")
        bodies.append((merchant, campaign_body(merchant, product, variant_id=variant)))
    started = time.time()
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        ids = list(pool.map(lambda mb: (mb[0], _execute(d, *mb)), bodies))
    views: dict[str, dict[str, Any]] = {}
    for merchant, campaign_id in ids:
        views.update(d.wait_status(merchant, [campaign_id], {"active"}, timeout=300))
    finished = max(_active_at(view) for view in views.values())
    return count / (finished - started)


def parallel_listing(d: Deployment, merchant: Merchant, first: int) -> dict[str, float]:
    """One campaign with latency on every marketplace call: its times, in seconds."""
    product, variant = str(first), f"{first}1"
    d.seed_product(product, variant, "49.99")
    sent = time.time()
    campaign_id = _execute(d, merchant, campaign_body(merchant, product, variant_id=variant))
    view = d.wait_status(merchant, [campaign_id], {"active"}, timeout=120)[campaign_id]
    log = d.control("GET", "/_sandbox/requests", expect=200).json()
    skus = {item["channel"]: item["sku"] for item in view["listings"]}
    starts, ends = {}, {}
    for channel in CHANNELS:
        calls = [
            r["at"]
            for r in log
            if r["path"].startswith(FIRST_CALL[channel]) and r["path"].endswith("/" + skus[channel])
        ]
        made = _ok_at(view, "list", channel)
        assert calls and made is not None, (channel, view["events"])
        starts[channel], ends[channel] = min(calls), made
    channel_times = {c: ends[c] - starts[c] for c in CHANNELS}
    total = sum(channel_times.values())
    active = _active_at(view)
    store_set = _ok_at(view, "store-price")
    assert store_set is not None, view["events"]
    return {
        "execute_to_active": active - sent,
        "to_store_price": store_set - sent,
        "store_to_first_call": min(starts.values()) - store_set,
        **{f"{c}_seconds": t for c, t in channel_times.items()},
        "sum": total,
        "ratio": (active - sent) / total,
        "listing_phase_ratio": (max(ends.values()) - min(starts.values())) / total,
        "parallel_floor": max(channel_times.values()) / total,
    }


def one_run(args: argparse.Namespace, folder: Path) -> tuple[float, dict[str, float]]:
    database_url = args.database_url or f"sqlite:///{folder}/db/channel-router.sqlite3"
    with deployment(folder / "run", database_url, workers=args.workers) as d:
        merchants = [d.create_merchant() for _ in range(MERCHANTS)]
        # A first campaign warms every process (connections, the store's schema, tokens).
        throughput(d, merchants[:1], 1, first=90_000)
        rate = throughput(d, merchants, args.campaigns, first=10_000)
        d.add_latency(0.1)
        samples = [parallel_listing(d, merchants[0], 50_000 + i) for i in range(args.latency_runs)]
        d.clear_faults()
        wait_for(lambda: not d.control("GET", "/_sandbox/faults").json(), timeout=5, what="clear")
    middle = {key: statistics.median(s[key] for s in samples) for key in samples[0]}
    return rate, middle


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--campaigns", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--latency-runs", type=int, default=5)
    parser.add_argument("--runs", type=int, default=1, help="whole measurements (min/median)")
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    args = parser.parse_args()
    backend = "PostgreSQL" if (args.database_url or "").startswith("postgres") else "SQLite"
    rates, ratios, phases = [], [], []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="bench-execute-") as tmp:
            rate, m = one_run(args, Path(tmp))
        rates.append(rate)
        ratios.append(m["ratio"])
        phases.append(m["listing_phase_ratio"])
        print(
            f"run {run + 1}: {args.campaigns} two-channel campaigns, {args.workers} workers, "
            f"{backend}: {rate:.2f} campaigns/s execute -> active"
        )
        print(
            f"  +100 ms per marketplace call (median of {args.latency_runs}): execute -> active "
            f"{m['execute_to_active']:.2f} s; eBay {m['ebay_seconds']:.2f} s + Amazon "
            f"{m['amazon_seconds']:.2f} s = {m['sum']:.2f} s (before them: store price set "
            f"{m['to_store_price']:.2f} s after execute, first listing call "
            f"{m['store_to_first_call']:.2f} s later)"
        )
        print(
            f"  execute -> active / sum of channel times: {m['ratio']:.2f}; listing phase / sum: "
            f"{m['listing_phase_ratio']:.2f} (in parallel: {m['parallel_floor']:.2f}, one after "
            f"the other: 1.00, 1/channels: {1 / len(CHANNELS):.2f})"
        )
    if args.runs > 1:
        print(
            f"over {args.runs} runs: campaigns/s min {min(rates):.2f} median "
            f"{statistics.median(rates):.2f}; ratio min {min(ratios):.2f} median "
            f"{statistics.median(ratios):.2f}; listing phase / sum min {min(phases):.2f} median "
            f"{statistics.median(phases):.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
