"""The HTTP and in-process benchmarks run from a checkout and print the figures of the aims.

Tiny runs: they say nothing of speed (bench/ measures that), only that a
newcomer's `make bench` prints every ratio, percentile and memory reading.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NUMBER = r"\d+\.\d+"


def run(script: str, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHANNEL_ROUTER_")}
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / script), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


@pytest.mark.slow
def test_bench_http_prints_ratios_percentiles_batch_and_memory() -> None:
    out = run(
        "http.py", "--rounds", "2", "--seconds", "0.2", "--warmup", "0.1",
        "--batch-runs", "1", "--memory-decisions", "20000",
    )  # fmt: skip
    for label in ("decide / our /health", "decide / bare typed route"):
        assert re.search(rf"{label}\s+{NUMBER} \[{NUMBER}-{NUMBER}\]\s+{NUMBER} \[", out), out
    assert re.search(rf"decide p99: {NUMBER} ms", out), out
    assert re.search(rf"10,000-item batch: server time {NUMBER} s", out), out
    assert re.search(r"server RSS over 20,000 more decisions.*\d+ MB at 20k", out), out


@pytest.mark.slow
def test_bench_asgi_prints_cpu_per_request_and_ratios() -> None:
    out = run("asgi.py", "--requests", "64", "--rounds", "1")
    for route in ("ours POST /v1/decide", "bare POST typed", "ours GET /health"):
        assert re.search(rf"{re.escape(route)}\s+{NUMBER}\s+{NUMBER}", out), out
    assert re.search(rf"decide / bare typed route\s+{NUMBER}", out), out
