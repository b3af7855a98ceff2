"""Decisions per second: the whole decide path against a bare durable-rules post and zen-engine.

Run: `.venv/bin/python bench/engine.py` (also `make bench`). One run prints
- `Engine.decide` (default policy, merchant settings with two channels), trace off and on;
- `CompiledPolicy.first_match` alone: durable-rules' C engine called directly on
  our own ruleset handle (what `Engine.decide` does inside);
- a bare `durable.lang.post` of the same ready-made messages on the same ruleset
  definition registered with durable's Host (the library's own way to post);
- zen-engine (GoRules) evaluating the same routing table as a first-hit decision
  table, built here as a JDM graph, with the same parameters riding in the context;
- RSS before and after 200,000 decisions.

Each contender cycles through the same 64 requests (every rule of the table is
hit); a warm-up, then several rounds in turns, each one's best round counted.
"""

from __future__ import annotations

import gc
import json
import random
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402
import zen  # noqa: E402  (the zen-engine package)
from durable import lang  # noqa: E402

from engine import DecideRequest, Engine, Settings, load_policy_dir  # noqa: E402
from engine.compile import PostReference, compiled  # noqa: E402
from engine.evaluate import request_facts  # noqa: E402

SETTINGS = Settings(enabled_external_channels=["ebay", "amazon"])
MEMORY_DECISIONS = 200_000


def sample_requests(count: int = 64) -> list[DecideRequest]:
    """Varied products across every row of the routing table (fixed seed)."""
    rng = random.Random(7)
    categories = ["Apparel", "Home", "Shoes", "Jewelry", "Toys"]
    out = []
    for i in range(count):
        raw = {
            "merchant_id": "acme",
            "product": {
                "product_id": str(8800 + i),
                "title": "Linen shirt",
                "category": rng.choice(categories),
                "stock_quantity": rng.choice([5, 15, 20, 25, 40, 60, 120, 900]),
                "days_since_last_sale": rng.choice([3, 13, 14, 20, 30, 31, 45, 200]),
                "current_price": "49.99",
            },
            "proposal": {"proposed_price": "19.99", "duration_hours": 168},
        }
        out.append(msgspec.convert(raw, DecideRequest))
    return out


def routing_table_jdm() -> dict[str, Any]:
    """The default policy's table (docs/policies.md) as a zen-engine first-hit decision table."""
    inputs = [
        {"id": "opt", "name": "Enabled", "field": "params.external_channels_enabled"},
        {"id": "cat", "name": "Category", "field": "product.category"},
        {"id": "stock", "name": "Stock", "field": "product.stock_quantity"},
        {"id": "days", "name": "Staleness", "field": "product.days_since_last_sale"},
    ]
    outputs = [
        {"id": "rule", "name": "Rule", "field": "rule_id"},
        {"id": "pct", "name": "Percent", "field": "external_percent"},
        {"id": "prio", "name": "Priority", "field": "external_priority"},
    ]

    def row(rule: str, pct: str = "0", prio: str = "false", **cells: str) -> dict[str, str]:
        base = {"_id": rule, "opt": "", "cat": "", "stock": "", "days": ""}
        return {**base, **cells, "rule": json.dumps(rule), "pct": pct, "prio": prio}

    rows = [
        row("merchant-opt-out", opt="false"),
        row("merchant-excluded-category", cat="$ in params.external_excluded_categories"),
        row("high-margin-category", cat="$ in params.high_margin_categories"),
        row(
            "low-stock-fresh",
            stock="$ <= params.store_only_max_stock",
            days="$ < params.store_only_max_staleness_days",
        ),
        row(
            "moderate-overstock",
            "params.moderate_external_percent",
            stock="$ > params.moderate_min_stock",
            days="$ >= params.moderate_min_staleness_days"
            " and $ <= params.moderate_max_staleness_days",
        ),
        row(
            "dead-stock",
            "params.dead_external_percent",
            "true",
            stock="$ > params.dead_min_stock",
            days="$ > params.dead_min_staleness_days",
        ),
        row("default-store"),
    ]
    table = {"hitPolicy": "first", "inputs": inputs, "outputs": outputs, "rules": rows}
    return {
        "nodes": [
            {"id": "in", "name": "Request", "type": "inputNode", "position": {"x": 0, "y": 0}},
            {
                "id": "table",
                "name": "Routing",
                "type": "decisionTableNode",
                "position": {"x": 200, "y": 0},
                "content": table,
            },
            {"id": "out", "name": "Response", "type": "outputNode", "position": {"x": 400, "y": 0}},
        ],
        "edges": [
            {"id": "e1", "sourceId": "in", "targetId": "table", "type": "edge"},
            {"id": "e2", "sourceId": "table", "targetId": "out", "type": "edge"},
        ],
    }


class Contender:
    """One thing to time: `fn` called on `items` in turn, `n` calls per round."""

    def __init__(
        self, fn: Callable[[Any], object], items: list[Any], n: int, after: Callable[[], None]
    ) -> None:
        self.fn, self.n, self.after = fn, n, after
        self.work = (items * (n // len(items) + 1))[:n]
        self.best = float("inf")

    def run(self) -> None:
        fn = self.fn
        start = time.perf_counter()
        for item in self.work:
            fn(item)
        self.best = min(self.best, (time.perf_counter() - start) / self.n)
        self.after()


def best_seconds_per_op(contenders: dict[str, Contender], rounds: int) -> dict[str, float]:
    """Warm every contender up, then time them in turns, `rounds` times; keep each one's best.

    Taking turns spreads a busy moment of a shared machine over all contenders
    instead of letting it skew one of them.
    """
    for contender in contenders.values():
        for item in contender.work[: max(64, contender.n // 10)]:
            contender.fn(item)
        contender.after()
    for _ in range(rounds):
        for contender in contenders.values():
            contender.run()
    return {name: c.best for name, c in contenders.items()}


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def main() -> int:
    policy_set = load_policy_dir(ROOT / "policies")
    engine = Engine(policy_set)
    requests = sample_requests()
    policy = policy_set.resolve("acme")
    compiled_policy = compiled(policy)
    params = [
        {k: p.value for k, p in engine.effective_params(policy, r, SETTINGS).items()}
        for r in requests
    ]
    messages = [
        compiled_policy.message(request_facts(r), p) for r, p in zip(requests, params, strict=True)
    ]
    contexts = [
        {
            "product": {
                "category": r.product.category,
                "stock_quantity": r.product.stock_quantity,
                "days_since_last_sale": r.product.days_since_last_sale,
            },
            "params": p,
        }
        for r, p in zip(requests, params, strict=True)
    ]
    decision_table = zen.ZenEngine().create_decision(json.dumps(routing_table_jdm()))

    # Same answers before timing anything: the comparison is of equal work.
    rules = [engine.decide(r, SETTINGS).rule_id for r in requests]
    zen_rules = [decision_table.evaluate(c)["result"]["rule_id"] for c in contexts]
    assert rules == zen_rules, (rules, zen_rules)
    print(f"{len(requests)} requests, rules hit: {sorted(set(rules))}")

    reference = PostReference.of(compiled_policy)
    facts = [request_facts(r) for r in requests]
    pairs = list(zip(facts, params, strict=True))
    direct = [compiled_policy.first_match(f, p) for f, p in pairs]
    assert direct == [reference.first_match(f, p) for f, p in pairs]
    fired = reference.fired  # the actions' record; emptied between repeats
    ruleset = reference.ruleset

    def post(message: dict[str, Any]) -> None:
        lang.post(ruleset, message)

    def first_match(pair: tuple[dict[str, Any], dict[str, Any]]) -> None:
        compiled_policy.first_match(*pair)

    nothing = lambda: None  # noqa: E731
    results = best_seconds_per_op(
        {
            "durable-rules bare post": Contender(post, messages, 20_000, fired.clear),
            "direct first_match": Contender(first_match, pairs, 20_000, nothing),
            "Engine.decide, trace off": Contender(
                lambda r: engine.decide(r, SETTINGS, trace=False), requests, 20_000, nothing
            ),
            "Engine.decide, trace on": Contender(
                lambda r: engine.decide(r, SETTINGS, trace=True), requests, 20_000, nothing
            ),
            "zen-engine evaluate": Contender(decision_table.evaluate, contexts, 1_000, nothing),
        },
        rounds=6,
    )
    bare = results["durable-rules bare post"]
    print(f"{'contender':<28} {'ops/s':>10} {'µs/op':>9} {'x bare post':>12}")
    for name, seconds in results.items():
        print(f"{name:<28} {1 / seconds:>10,.0f} {seconds * 1e6:>9.1f} {seconds / bare:>11.2f}x")
    zen_s = results["zen-engine evaluate"]
    for trace, aim in (("off", 0.7), ("on", 1.0)):
        whole = results[f"Engine.decide, trace {trace}"]
        print(
            f"trace {trace}: whole path / bare post = {whole / bare:.2f}x (aim ≤ {aim}x); "
            f"whole path vs zen-engine = {zen_s / whole:.1f}x faster (aim ≥ 8x)"
        )

    gc.collect()
    before = rss_mb()
    for i in range(MEMORY_DECISIONS):
        engine.decide(requests[i % len(requests)], SETTINGS, trace=i % 2 == 0)
    gc.collect()
    after = rss_mb()
    print(
        f"RSS: {before:.1f} MB before, {after:.1f} MB after {MEMORY_DECISIONS:,} decisions "
        f"(+{after - before:.1f} MB)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
