"""/v1/decide against the bare Litestar routes, called in one process, without sockets.

bench/http.py measures through uvicorn with a client on the other core; on a
busy shared machine its rounds wander. Here both apps (ours on a fresh SQLite
database, and bench/reference/app.py) are called as ASGI apps in this one
process, 32 requests in flight at a time as at 32 connections, so what
differs between two figures is only the apps' own work (uvicorn's share,
about 120,000 instructions a request, is left out of both).

Prints, per route, the process's CPU µs per request (all threads: the decision
log's checkpoints too), the median of several rounds taken in turns, and the
ratios of the aims. With `--instructions` it runs itself under valgrind's
callgrind at two request counts and prints instructions per request (the
difference of the two runs divided by the difference of the counts, so start-up
cancels): a figure that does not move with the machine's load.

    .venv/bin/python bench/asgi.py [--requests 5000] [--rounds 5] [--instructions]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import logging
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)  # not bench/, whose http.py would shadow the standard library

REFERENCE = ROOT / "bench" / "reference" / "app.py"
IN_FLIGHT = 32
ADMIN = "bench-admin-token-0123456789abcdef"
SAMPLE = json.loads((ROOT / "examples" / "dead-stock.json").read_text())
del SAMPLE["settings"]
SAMPLE["merchant_id"] = "bench"
BODY = json.dumps(SAMPLE).encode()

Call = Callable[[int], Awaitable[None]]


def scope(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    """An HTTP scope as uvicorn builds it."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


def caller(app: Any, method: str, path: str, token: str | None, body: bytes = b"") -> Call:
    """`call(n)`: n requests, IN_FLIGHT at a time; fails on any answer but 200."""
    headers = [(b"host", b"127.0.0.1")]
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    if body:
        headers += [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    request = {"type": "http.request", "body": body, "more_body": False}

    async def one() -> None:
        given = False
        status = 0

        async def receive() -> dict[str, Any]:
            nonlocal given
            if given:  # the body was read: a disconnect only comes when the client leaves
                await asyncio.Future()
            given = True
            return request

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app(scope(method, path, list(headers)), receive, send)
        if status != 200:
            raise SystemExit(f"{method} {path} answered {status}")

    async def call(n: int) -> None:
        async def lane(count: int) -> None:
            for _ in range(count):
                await one()

        await asyncio.gather(*(lane(n // IN_FLIGHT) for _ in range(IN_FLIGHT)))

    return call


async def run(args: argparse.Namespace) -> dict[str, tuple[float, float]]:
    """(CPU, of it in the kernel) µs per request of each route, medians of the rounds."""
    from litestar.testing import AsyncTestClient

    from server.app import create_app

    spec = importlib.util.spec_from_file_location("reference_app", REFERENCE)
    assert spec is not None and spec.loader is not None
    reference_app = sys.modules["reference_app"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reference_app)

    tmp = tempfile.mkdtemp(prefix="channel-router-asgi-bench-")
    os.environ.update(
        {
            "CHANNEL_ROUTER_DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
            "CHANNEL_ROUTER_ADMIN_TOKEN": ADMIN,
            "CHANNEL_ROUTER_POLICY_DIR": str(ROOT / "policies"),
            "CHANNEL_ROUTER_LOG_LEVEL": "warning",
            "CHANNEL_ROUTER_DECISION_RATE_LIMIT": "1000000000 per 10 seconds",
        }
    )
    try:
        ours = create_app()
        logging.disable(logging.INFO)  # the app's start-up lines, and the test client's
        bare = reference_app.create_app()
        async with AsyncTestClient(ours) as client, AsyncTestClient(bare):
            created = await client.post(
                "/v1/merchants",
                json={
                    "merchant_id": "bench",
                    "name": "Bench",
                    "settings": {"enabled_external_channels": ["ebay", "amazon"]},
                },
                headers={"Authorization": f"Bearer {ADMIN}"},
            )
            key = created.json()["api_key"]
            routes = {
                "ours GET /health": caller(ours, "GET", "/health", None),
                "ours POST /v1/decide": caller(ours, "POST", "/v1/decide", key, BODY),
                "bare POST typed": caller(bare, "POST", "/typed", None, BODY),
                "bare GET /health": caller(bare, "GET", "/health", None),
                "bare POST @asgi": caller(bare, "POST", "/asgi", None, BODY),
            }
            if args.only:
                routes = {args.only: routes[args.only]}
            for call in routes.values():
                await call(IN_FLIGHT * 20)  # warm-up: caches, first rows
            cpu: dict[str, list[float]] = {name: [] for name in routes}
            system: dict[str, list[float]] = {name: [] for name in routes}
            for _ in range(args.rounds):
                for name, call in routes.items():
                    before = resource.getrusage(resource.RUSAGE_SELF)
                    await call(args.requests)
                    after = resource.getrusage(resource.RUSAGE_SELF)
                    kernel = after.ru_stime - before.ru_stime
                    user = after.ru_utime - before.ru_utime
                    cpu[name].append((user + kernel) / args.requests * 1e6)
                    system[name].append(kernel / args.requests * 1e6)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        name: (statistics.median(values), statistics.median(system[name]))
        for name, values in cpu.items()
    }


def instructions(args: argparse.Namespace, route: str) -> float:
    """Instructions per request of `route` under callgrind: (I(2n) - I(n)) / n."""
    counts = []
    for n in (args.requests, 2 * args.requests):
        with tempfile.NamedTemporaryFile(suffix=".callgrind") as out:
            command = [
                "valgrind", "--tool=callgrind", f"--callgrind-out-file={out.name}",
                sys.executable, __file__, "--only", route, "--requests", str(n), "--rounds", "1",
            ]  # fmt: skip
            subprocess.run(command, check=True, capture_output=True)
            found = re.search(rb"^totals: (\d+)", Path(out.name).read_bytes(), re.M)
            if found is None:
                raise SystemExit("callgrind wrote no totals")
            counts.append(int(found.group(1)))
    return (counts[1] - counts[0]) / args.requests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000, help="per route and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", help=argparse.SUPPRESS)  # one route (the callgrind runs)
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="also count instructions per request with valgrind (slow: minutes)",
    )
    args = parser.parse_args()
    args.requests -= args.requests % IN_FLIGHT
    cpu = asyncio.run(run(args))
    if args.only:
        return 0
    print(
        f"in one process, {IN_FLIGHT} requests in flight, {args.requests} requests per route "
        f"and round, median of {args.rounds} rounds"
    )
    counted: dict[str, float] = {}
    if args.instructions:
        if shutil.which("valgrind") is None:
            raise SystemExit("--instructions needs valgrind (Debian: apt-get install valgrind)")
        counted = {name: instructions(args, name) for name in cpu}
    print(
        f"{'route':<24}{'CPU µs/req':>12}{'of it kernel':>14}"
        + (f"{'instructions/req':>18}" if counted else "")
    )
    for name, (us, kernel) in cpu.items():
        extra = f"{counted[name]:>18,.0f}" if counted else ""
        print(f"{name:<24}{us:>12.1f}{kernel:>14.1f}{extra}")
    # As throughput (b's cost / a's), like bench/http.py's ratios, but without uvicorn's
    # share of each request: lower than those.
    print(
        f"{'ratio, as throughput':<30}{'by CPU':>8}"
        + (f"{'by instructions':>17}" if counted else "")
    )
    for label, a, b in (
        ("decide / bare typed route", "ours POST /v1/decide", "bare POST typed"),
        ("decide / our /health", "ours POST /v1/decide", "ours GET /health"),
        ("our /health / bare /health", "ours GET /health", "bare GET /health"),
    ):
        by_instructions = f"{counted[b] / counted[a]:>17.2f}" if counted else ""
        print(f"{label:<30}{cpu[b][0] / cpu[a][0]:>8.2f}{by_instructions}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
