"""HTTP benchmark of the Decision API against the framework's ceiling, and one big batch.

Starts `channel-router serve` (one worker by default) on a free loopback port
with a fresh SQLite database, and beside it the bare Litestar app of
bench/reference/app.py (same server, same settings: routes of the same shapes
that do nothing). Creates a merchant, then drives each endpoint with a
closed-loop load: C connections, each sending its next request as soon as the
previous answer is complete. The client is a minimal asyncio HTTP/1.1
keep-alive client, so that it costs the server's core as little as possible.
Endpoints take turns for many short rounds, in an order reversed every other
round, so a busy moment of a shared machine falls on all of them alike. Each
ratio is taken within a round, between endpoints measured one after the other
(decide beside our /health and beside the bare typed route), and the median of
the rounds' ratios is printed with their range; each absolute figure is the
median of the rounds.

Prints requests per second and p50/p99 latency of our GET /health and POST
/v1/decide and of the reference routes, the ratios the aims are stated in,
the server time (Server-Timing) of a 10,000-item /v1/decide/batch, and the
server's memory (RSS) over 200,000 more decisions of varied products.

    .venv/bin/python bench/http.py [--connections 32] [--seconds 1] [--rounds 15]
                                   [--workers 1] [--server uvicorn|granian]
                                   [--memory-decisions 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# The API's sample request (examples/, less the CLI-only "settings"), for merchant "bench".
SAMPLE = json.loads((REPO / "examples" / "dead-stock.json").read_text())
del SAMPLE["settings"]
SAMPLE["merchant_id"] = "bench"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def request_bytes(method: str, path: str, token: str | None, body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: keep-alive"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    if body or method == "POST":
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
    else:
        body = b""
    return status, headers, body


@dataclass
class Result:
    name: str
    requests: int
    errors: int
    seconds: float
    latencies: list[float]
    cpu_seconds: float = float("nan")  # the server's CPU time over the measured window

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_us(self) -> float:
        """Server CPU per request: unlike req/s, barely moved by other work on the machine."""
        return self.cpu_seconds / max(1, self.requests) * 1e6

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


_TICK = os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    """A process and its live descendants (uvicorn's workers)."""
    found = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                for child in f.read().split():
                    found += process_tree(int(child))
    except (FileNotFoundError, ProcessLookupError):
        pass
    return found


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its live descendants."""
    total = 0.0
    for member in process_tree(pid):
        try:
            with open(f"/proc/{member}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += (int(fields[11]) + int(fields[12])) / _TICK
    return total


async def closed_loop(
    name: str,
    port: int,
    payload: bytes,
    connections: int,
    seconds: float,
    warmup: float,
    pid: int | None = None,
) -> Result:
    """C connections each send the next request when the previous answer is in.

    Counts the answers completed in the window after the warm-up, and (given
    the server's pid) the server's CPU time over that same window.
    """
    latencies: list[float] = []
    counts = {"ok": 0, "errors": 0}
    start_at = time.perf_counter() + warmup
    stop_at = start_at + seconds
    cpu: list[float] = []

    async def sample_cpu() -> None:
        for moment in (start_at, stop_at):
            await asyncio.sleep(max(0.0, moment - time.perf_counter()))
            cpu.append(tree_cpu_seconds(pid) if pid else float("nan"))

    async def one() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while True:
                sent = time.perf_counter()
                if sent >= stop_at:
                    return
                writer.write(payload)
                status, _, _ = await read_response(reader)
                done = time.perf_counter()
                if start_at <= done < stop_at:
                    latencies.append(done - sent)
                    counts["ok" if status == 200 else "errors"] += 1
        finally:
            writer.close()

    await asyncio.gather(sample_cpu(), *(one() for _ in range(connections)))
    requests = counts["ok"] + counts["errors"]
    return Result(name, requests, counts["errors"], seconds, latencies, cpu[1] - cpu[0])


async def call(port: int, payload: bytes) -> tuple[int, dict[str, str], bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(payload)
        return await read_response(reader)
    finally:
        writer.close()


def server_timing_ms(headers: dict[str, str]) -> float:
    value = headers.get("server-timing", "app;dur=nan")
    return float(value.split("dur=")[1].split(";")[0])


async def wait_healthy(port: int, process: subprocess.Popen[bytes], name: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{name} exited during start-up")
        try:
            status, _, _ = await call(port, request_bytes("GET", "/health", None))
            if status == 200:
                return
        except OSError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit(f"{name} did not answer /health in time")


@dataclass
class Endpoint:
    name: str
    server: Server
    payload: bytes
    rounds: list[Result]

    def median(self, key: str) -> float:
        values = [
            getattr(r, key) if key in ("rps", "cpu_us") else r.pct(float(key)) for r in self.rounds
        ]
        return statistics.median(values)


def round_ratios(a: Endpoint, b: Endpoint, key: str) -> list[float]:
    """a ÷ b per round, by req/s (`rps`) or by the capacity its server CPU allows (`cpu`)."""
    if key == "rps":
        return [x.rps / y.rps for x, y in zip(a.rounds, b.rounds, strict=True)]
    return [y.cpu_us / x.cpu_us for x, y in zip(a.rounds, b.rounds, strict=True)]


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its live descendants, in MB."""
    total = 0.0
    for member in process_tree(pid):
        try:
            with open(f"/proc/{member}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) / 1024
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def varied_batch(size: int, start: int) -> bytes:
    """A batch of distinct products (ids, stock and staleness vary), so that nothing repeats."""
    items = []
    for i in range(start, start + size):
        item = json.loads(json.dumps(SAMPLE))
        item["product"]["product_id"] = f"p{i}"
        item["product"]["stock_quantity"] = i % 997
        item["product"]["days_since_last_sale"] = i % 401
        items.append(item)
    return json.dumps({"items": items}).encode()


async def bench(args: argparse.Namespace, ours: Server, reference: Server, admin: str) -> int:
    await wait_healthy(ours.port, ours.process, "channel-router serve")
    await wait_healthy(reference.port, reference.process, "the reference app")
    create = json.dumps(
        {
            "merchant_id": "bench",
            "name": "Bench",
            "settings": {"enabled_external_channels": ["ebay", "amazon"]},
        }
    ).encode()
    status, _, body = await call(ours.port, request_bytes("POST", "/v1/merchants", admin, create))
    if status != 201:
        raise SystemExit(f"creating the merchant failed: {status} {body[:200]!r}")
    key = json.loads(body)["api_key"]

    sample = json.dumps(SAMPLE).encode()
    health = request_bytes("GET", "/health", None)
    decide = request_bytes("POST", "/v1/decide", key, sample)

    def bare(path: str) -> bytes:
        return request_bytes("POST", path, key, sample)

    # In the order they run (reversed every other round): the two ends of each ratio of the
    # aims (decide against our /health and against the bare typed route) run side by side.
    endpoints = [
        Endpoint("ours GET /health", ours, health, []),
        Endpoint("ours POST /v1/decide", ours, decide, []),
        Endpoint("bare POST typed", reference, bare("/typed"), []),
        Endpoint("bare GET /health", reference, health, []),
        Endpoint("bare POST msgspec", reference, bare("/msgspec"), []),
        Endpoint("bare POST @asgi", reference, bare("/asgi"), []),
    ]
    by_name = {e.name: e for e in endpoints}
    for endpoint in endpoints:
        status, _, body = await call(endpoint.server.port, endpoint.payload)
        if status != 200:
            raise SystemExit(f"{endpoint.name} failed: {status} {body[:300]!r}")

    gc.disable()  # the load generator's own collections would show up as server latency
    try:
        for round_number in range(args.rounds):
            order = endpoints if round_number % 2 == 0 else endpoints[::-1]
            for endpoint in order:
                endpoint.rounds.append(
                    await closed_loop(
                        endpoint.name,
                        endpoint.server.port,
                        endpoint.payload,
                        args.connections,
                        args.seconds,
                        args.warmup,
                        endpoint.server.process.pid,
                    )
                )
    finally:
        gc.enable()

    items = []
    for i in range(10_000):
        item = json.loads(json.dumps(SAMPLE))
        item["product"]["stock_quantity"] = i % 200
        item["product"]["days_since_last_sale"] = i % 60
        items.append(item)
    batch = request_bytes("POST", "/v1/decide/batch", key, json.dumps({"items": items}).encode())
    batch_server, batch_wall, batch_bytes = [], [], 0
    for _ in range(args.batch_runs):
        started = time.perf_counter()
        status, headers, body = await call(ours.port, batch)
        batch_wall.append(time.perf_counter() - started)
        if status != 200 or len(json.loads(body)["decisions"]) != 10_000:
            raise SystemExit(f"batch failed: {status} {body[:300]!r}")
        batch_server.append(server_timing_ms(headers))
        batch_bytes = len(body)

    print(f"decision rate limit per key: {args.decision_rate_limit}")
    print(
        f"{args.server}, {args.workers} worker(s); {args.connections} connections, "
        f"{args.seconds:g} s per endpoint after {args.warmup:g} s warm-up, closed loop, "
        f"median of {args.rounds} rounds"
    )
    print(
        f"{'endpoint':<24}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
        f"{'server CPU µs/req':>19}"
    )
    for e in endpoints:
        errors = sum(r.errors for r in e.rounds)
        print(
            f"{e.name:<24}{e.median('rps'):>9.0f}{e.median('0.50'):>9.2f}"
            f"{e.median('0.99'):>9.2f}{errors:>8}{e.median('cpu_us'):>19.0f}"
        )
    # By server CPU: the throughput a server of one core would reach, 1 / CPU per
    # request. Each ratio: median of the rounds' ratios [lowest-highest round].
    print(f"ratio (median of {args.rounds} rounds)      by req/s           by server CPU      aim")
    for label, a, b, aim in (
        ("decide / our /health", "ours POST /v1/decide", "ours GET /health", ">= 0.5"),
        ("decide / bare typed route", "ours POST /v1/decide", "bare POST typed", ">= 0.8"),
        ("decide / bare msgspec route", "ours POST /v1/decide", "bare POST msgspec", ""),
        ("decide / bare @asgi route", "ours POST /v1/decide", "bare POST @asgi", ""),
        ("bare typed / bare /health", "bare POST typed", "bare GET /health", ""),
        ("bare msgspec / bare /health", "bare POST msgspec", "bare GET /health", ""),
        ("bare @asgi / bare /health", "bare POST @asgi", "bare GET /health", ""),
        ("our /health / bare /health", "ours GET /health", "bare GET /health", ""),
    ):
        cells = []
        for basis in ("rps", "cpu"):
            ratios = round_ratios(by_name[a], by_name[b], basis)
            cells.append(f"{statistics.median(ratios):.2f} [{min(ratios):.2f}-{max(ratios):.2f}]")
        print(f"{label:<30}{cells[0]:>18}{cells[1]:>20}   {aim}")
    print(f"decide p99: {endpoints[1].median('0.99'):.2f} ms (aim < 10 ms at 32 connections)")
    print(
        f"10,000-item batch: server time {statistics.median(batch_server) / 1000:.3f} s "
        f"(median of {args.batch_runs}; aim < 0.5 s), round trip "
        f"{statistics.median(batch_wall):.3f} s, response {batch_bytes / 1e6:.1f} MB"
    )
    if args.memory_decisions:
        await memory_phase(ours, key, args.memory_decisions)
    return 0 if not any(r.errors for e in endpoints for r in e.rounds) else 1


async def memory_phase(ours: Server, key: str, decisions: int) -> None:
    """The server's RSS after each tenth of `decisions` more decisions, all of new products."""
    size = 10_000
    marks = []
    for start in range(0, decisions, size):
        batch = request_bytes("POST", "/v1/decide/batch", key, varied_batch(size, start))
        status, _, body = await call(ours.port, batch)
        if status != 200:
            raise SystemExit(f"memory batch failed: {status} {body[:300]!r}")
        if (start // size) % max(1, decisions // size // 10) == 0 or start + size >= decisions:
            marks.append((start + size, rss_mb(ours.process.pid)))
    first, last = marks[0], marks[-1]
    print(
        f"server RSS over {decisions:,} more decisions (new products, in batches of {size:,}): "
        + ", ".join(f"{mb:.0f} MB at {n // 1000}k" for n, mb in marks)
        + f"; {last[1] - first[1]:+.0f} MB from the first {first[0] // 1000}k to the last"
    )


@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]


def start(command: list[str], env: dict[str, str], cwd: str) -> Server:
    port = free_port()
    command = [part.replace("{port}", str(port)) for part in command]
    return Server(port, subprocess.Popen(command, env=env, cwd=cwd))


def stop(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--warmup", type=float, default=0.3)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument(
        "--memory-decisions",
        type=int,
        default=200_000,
        help="decisions (of new products) over which to read the server's memory; 0 to skip",
    )
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--batch-runs", type=int, default=3)
    parser.add_argument("--server", choices=["uvicorn", "granian"], default="uvicorn")
    parser.add_argument(
        "--decision-rate-limit",
        default="1000000 per 10 seconds",
        help="the per-key write budget (CHANNEL_ROUTER_DECISION_RATE_LIMIT); the default is "
        "on but never reached, to measure its cost; 'off' to compare without it",
    )
    args = parser.parse_args()

    admin = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="channel-router-bench-") as tmp:
        env = {
            **os.environ,
            "CHANNEL_ROUTER_DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
            "CHANNEL_ROUTER_ADMIN_TOKEN": admin,
            "CHANNEL_ROUTER_POLICY_DIR": str(REPO / "policies"),
            "CHANNEL_ROUTER_LOG_LEVEL": "warning",
            "CHANNEL_ROUTER_DECISION_RATE_LIMIT": args.decision_rate_limit,
        }
        if args.server == "granian":
            ours_command = [
                str(Path(sys.executable).parent / "granian"), "--interface", "asgi", "--factory",
                "--host", "127.0.0.1", "--port", "{port}", "--workers", str(args.workers),
                "--no-access-log", "--log-level", "warning", "server.app:create_app",
            ]  # fmt: skip
        else:
            ours_command = [sys.executable, "-m", "server.cli", "serve", "--port", "{port}",
                            "--workers", str(args.workers)]  # fmt: skip
        reference_command = [sys.executable, str(REPO / "bench" / "reference" / "app.py"),
                             "--port", "{port}", "--server", args.server]  # fmt: skip
        ours = start(ours_command, env, tmp)
        reference = start(reference_command, env, tmp)
        try:
            return asyncio.run(bench(args, ours, reference, admin))
        finally:
            stop(ours)
            stop(reference)


if __name__ == "__main__":
    sys.exit(main())
