"""What policy review costs: shadow evaluation per decision, and `policy diff` throughput.

Run: `.venv/bin/python bench/review.py` (also `make bench`). It prints
- the decide path as the routes run it (decide with trace, then the shadow
  step's `engine.shadowing` test) with no shadow version loaded, against
  `Engine.decide` alone: the cost of the hook when nothing is shadowed;
- the same with a shadow version loaded (decide + the shadow version's decision
  + the outcome comparison), against `Engine.decide` alone: what shadowing costs;
- `policy diff` on 100,000 requests: the engine part (two decisions per
  request, tallied) and the whole command on a JSON Lines file.

Times are min and median of 5 rounds taken in turns (3 for the diff); ratios
are against a reference measured in the same run, so they hold on a noisy machine.
"""

from __future__ import annotations

import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402

from engine import DecideRequest, Engine, Settings, load_policy_dir  # noqa: E402
from engine.diff import Differ, applied_percent, outcome_of  # noqa: E402

SETTINGS = Settings(enabled_external_channels=["ebay", "amazon"])
DECISIONS = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
DIFF_REQUESTS = 100_000


def requests(count: int, seed: int = 7) -> list[DecideRequest]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        raw = {
            "merchant_id": "acme",
            "product": {
                "product_id": str(i),
                "category": rng.choice(["Apparel", "Home", "Shoes", "Jewelry", "Toys"]),
                "stock_quantity": rng.randint(0, 200),
                "days_since_last_sale": rng.randint(0, 90),
                "current_price": "49.99",
            },
            "proposal": {"proposed_price": "19.99", "duration_hours": 168},
        }
        out.append(msgspec.convert(raw, DecideRequest))
    return out


def rounds(fn: Callable[[], None], n: int = 3) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def in_turns(*fns: Callable[[], None], n: int = 3) -> list[list[float]]:
    """Rounds of each function taken in turns, so load on the machine hits all alike."""
    out: list[list[float]] = [[] for _ in fns]
    for _ in range(n):
        for times, fn in zip(out, fns, strict=True):
            times += rounds(fn, 1)
    return out


def show(label: str, times: list[float], per: int, reference: list[float] | None = None) -> None:
    best, median = min(times), statistics.median(times)
    line = f"{label:<52} min {best / per * 1e6:7.2f} µs  median {median / per * 1e6:7.2f} µs"
    if reference is not None:
        ratio, middle = best / min(reference), median / statistics.median(reference)
        line += f"  ratio {ratio:.2f}x (median {middle:.2f}x)"
    print(line)


def folders(tmp: Path) -> tuple[Path, Path]:
    """The shipped policies, and a copy with a shadow version 2 (moderate at 55 %)."""
    plain = Path(shutil.copytree(ROOT / "policies", tmp / "plain"))
    shadowed = Path(shutil.copytree(ROOT / "policies", tmp / "shadowed"))
    text = (shadowed / "channel-routing" / "v1.yaml").read_text()
    text = text.replace('version: "1"', 'version: "2"').replace("active: true", "shadow: true")
    (shadowed / "channel-routing" / "v2.yaml").write_text(
        text.replace("default: 40", "default: 55")
    )
    return plain, shadowed


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="cr-bench-review-") as tmp:
        plain_dir, shadow_dir = folders(Path(tmp))
        plain, shadowed = Engine(load_policy_dir(plain_dir)), Engine(load_policy_dir(shadow_dir))
        batch = requests(DECISIONS)

        def decide_only(engine: Engine) -> Callable[[], None]:
            def run() -> None:
                for r in batch:
                    engine.decide(r, SETTINGS)

            return run

        def with_hook(engine: Engine) -> Callable[[], None]:
            policy_set = engine.policy_set

            def run() -> None:
                for r in batch:
                    decision = engine.decide(r, SETTINGS)
                    if engine.shadowing:  # what the routes test before the shadow step
                        shadow = engine.shadow_decision(r, SETTINGS, decision)
                        if shadow is not None:
                            old = outcome_of(decision, applied_percent(policy_set, decision))
                            new = outcome_of(shadow, applied_percent(policy_set, shadow))
                            _ = old != new

            return run

        decide_only(plain)()  # warm-up
        with_hook(shadowed)()
        print(f"decide path, {DECISIONS} decisions per round, trace on")
        reference, hook, shadow = in_turns(
            decide_only(plain), with_hook(plain), with_hook(shadowed), n=5
        )
        show("Engine.decide (reference)", reference, DECISIONS)
        show("decide + shadow hook, no shadow version", hook, DECISIONS, reference)
        show("decide + shadow step, shadow version loaded", shadow, DECISIONS, reference)

        print(f"\npolicy diff, {DIFF_REQUESTS} requests")
        sample = requests(DIFF_REQUESTS, seed=11)
        new_dir = Path(shutil.copytree(plain_dir, Path(tmp) / "new"))
        policy = new_dir / "channel-routing" / "v1.yaml"
        policy.write_text(policy.read_text().replace("default: 40", "default: 55"))
        new = Engine(load_policy_dir(new_dir))

        def engine_diff() -> None:
            differ = Differ(plain, new)
            for r in sample:
                differ.add(r, SETTINGS, "bench")

        show("engine part (2 decisions + tally per request)", rounds(engine_diff), DIFF_REQUESTS)
        lines = Path(tmp) / "sample.jsonl"
        settings = {"enabled_external_channels": ["ebay", "amazon"]}
        with lines.open("w") as out:
            for r in sample:
                out.write(json.dumps({**msgspec.to_builtins(r), "settings": settings}) + "\n")
        command = [sys.executable, "-m", "server.cli", "policy", "diff", str(plain_dir),
                   str(new_dir), "--sample", str(lines), "--format", "json"]  # fmt: skip

        def whole() -> None:
            done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"policy diff failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")

        times = rounds(whole)
        print(
            f"{'channel-router policy diff (whole command)':<52} "
            f"min {min(times):6.1f} s  median {statistics.median(times):6.1f} s "
            f"(aim: under 60 s)"
        )


if __name__ == "__main__":
    main()
