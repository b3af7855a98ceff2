"""Memory stays flat over many decisions, and identical messages keep deciding.

durable-rules' tracker reports memory growth per ruleset and
`MessageObservedException` after ~100k identical asserts (DESIGN §3); the engine
posts one message per decision into long-lived rulesets, so both are checked
here at volume.
"""

from __future__ import annotations

import gc
import random
import resource
from pathlib import Path

import msgspec
import pytest

from engine import DecideRequest, Engine, Settings, load_policy_dir

REPO_POLICIES = Path(__file__).resolve().parents[2] / "policies"
WARM_UP = 20_000
TOTAL = 200_000
MAX_GROWTH_MB = 20.0


def rss_mb() -> float:
    """Resident set size now (not the peak), from /proc."""
    with open("/proc/self/statm") as f:
        resident_pages = int(f.read().split()[1])
    return resident_pages * resource.getpagesize() / 2**20


def varied_requests(count: int) -> list[DecideRequest]:
    """Requests over every row of the table, some overriding parameters (fixed seed)."""
    rng = random.Random(11)
    out = []
    for i in range(count):
        raw = {
            "merchant_id": rng.choice(["acme", "demo-outlet", "m-1"]),
            "product": {
                "product_id": str(i),
                "category": rng.choice(["Apparel", "Home", "Jewelry", "Toys", ""]),
                "stock_quantity": rng.randrange(0, 1_000),
                "days_since_last_sale": rng.randrange(0, 120),
                **({"current_price": f"{rng.randrange(1, 99_999) / 100}"} if i % 2 else {}),
            },
            "proposal": {
                "proposed_price": f"{rng.randrange(1, 99_999) / 100}",
                "duration_hours": rng.choice([24, 168, 500]),
            },
            "overrides": rng.choice(
                [{}, {}, {"dead_external_percent": rng.randrange(0, 101)}, {"dead_min_stock": 10}]
            ),
        }
        out.append(msgspec.convert(raw, DecideRequest))
    return out


SETTINGS = [
    None,
    Settings(enabled_external_channels=["ebay", "amazon"]),
    Settings(enabled_external_channels=["amazon"], external_excluded_categories=["Toys"]),
    Settings(external_channels_enabled=False),
]


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(load_policy_dir(REPO_POLICIES))


@pytest.mark.slow
def test_memory_is_flat_over_200k_decisions(engine: Engine) -> None:
    requests = varied_requests(997)  # prime, so requests and settings pair up differently
    rules: set[str] = set()

    def run(start: int, stop: int) -> None:
        for i in range(start, stop):
            decision = engine.decide(
                requests[i % len(requests)], SETTINGS[i % len(SETTINGS)], trace=i % 3 == 0
            )
            rules.add(decision.rule_id)

    run(0, WARM_UP)
    gc.collect()
    before = rss_mb()
    run(WARM_UP, TOTAL)
    gc.collect()
    growth = rss_mb() - before
    assert growth < MAX_GROWTH_MB, f"RSS grew {growth:.1f} MB over {TOTAL - WARM_UP} decisions"
    assert len(rules) >= 6, rules  # the run really went through the table


@pytest.mark.slow
def test_identical_messages_keep_deciding(engine: Engine) -> None:
    """The same facts 150,000 times: no MessageObservedException, same answer every time."""
    request = varied_requests(1)[0]
    settings = Settings(enabled_external_channels=["ebay", "amazon"])
    first = engine.decide(request, settings, trace=False)
    for _ in range(150_000):
        decision = engine.decide(request, settings, trace=False)
        assert decision.rule_id == first.rule_id
        assert decision.external_channels == first.external_channels
