"""HTTP benchmark of the Decision API: /v1/decide against /health, and one big batch.

Starts `channel-router serve` (one worker by default) on a free loopback port
with a fresh SQLite database, creates a merchant, then drives each endpoint
with a closed-loop load: C connections, each sending its next request as soon
as the previous answer is complete. The client is a minimal asyncio HTTP/1.1
keep-alive client, so that it costs the server's core as little as possible.

Prints requests per second and p50/p99 latency of GET /health and POST
/v1/decide, their ratio, and the server time (Server-Timing) of one
10,000-item /v1/decide/batch.

`--server` runs the same app under another ASGI server instead of
`channel-router serve` (uvicorn with our slow-client deadlines), to compare:
plain `uvicorn`, `granian` or `hypercorn` (the last two: `pip install granian
hypercorn` first; they are not dependencies of the service).

    .venv/bin/python bench/http.py [--connections 32] [--seconds 5] [--workers 1]
                                   [--server channel-router|uvicorn|granian|hypercorn]
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

# The CONTRACT §4 sample request (examples/, less the CLI-only "settings"), for merchant "bench".
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


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time of `pid` and all its descendants (Linux /proc), in seconds.

    Server CPU per request holds much better than requests per second on a machine
    shared with other work, and it counts every worker process of the server.
    """
    stats: dict[int, tuple[int, float]] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += stats.get(current, (0, 0.0))[1]
        todo += [child for child, (parent, _) in stats.items() if parent == current]
    return total


@dataclass
class Result:
    name: str
    requests: int
    errors: int
    seconds: float
    latencies: list[float]
    server_cpu: float = 0.0  # seconds of server CPU over the measured window

    @property
    def cpu_us(self) -> float:
        return self.server_cpu / max(1, self.requests) * 1e6

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def closed_loop(
    name: str,
    port: int,
    payload: bytes,
    connections: int,
    seconds: float,
    warmup: float,
    server_pid: int | None = None,
) -> Result:
    """C connections each send the next request when the previous answer is in."""
    latencies: list[float] = []
    counts = {"ok": 0, "errors": 0}
    start_at = time.perf_counter() + warmup
    stop_at = start_at + seconds
    cpu: dict[str, float] = {}

    async def sample_cpu() -> None:
        if server_pid is None:
            return
        await asyncio.sleep(max(0.0, start_at - time.perf_counter()))
        cpu["start"] = tree_cpu_seconds(server_pid)
        await asyncio.sleep(max(0.0, stop_at - time.perf_counter()))
        cpu["stop"] = tree_cpu_seconds(server_pid)

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
                if sent >= start_at:
                    latencies.append(done - sent)
                    counts["ok" if status == 200 else "errors"] += 1
        finally:
            writer.close()

    await asyncio.gather(sample_cpu(), *(one() for _ in range(connections)))
    used = cpu.get("stop", 0.0) - cpu.get("start", 0.0)
    return Result(name, counts["ok"] + counts["errors"], counts["errors"], seconds, latencies, used)


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


async def wait_healthy(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the server exited during start-up")
        try:
            status, _, _ = await call(port, request_bytes("GET", "/health", None))
            if status == 200:
                return
        except OSError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit("the server did not answer /health in time")


async def bench(
    args: argparse.Namespace, port: int, process: subprocess.Popen[bytes], admin: str
) -> int:
    await wait_healthy(port, process)
    create = json.dumps(
        {
            "merchant_id": "bench",
            "name": "Bench",
            "settings": {"enabled_external_channels": ["ebay", "amazon"]},
        }
    ).encode()
    status, _, body = await call(port, request_bytes("POST", "/v1/merchants", admin, create))
    if status != 201:
        raise SystemExit(f"creating the merchant failed: {status} {body[:200]!r}")
    key = json.loads(body)["api_key"]

    health = request_bytes("GET", "/health", None)
    decide = request_bytes("POST", "/v1/decide", key, json.dumps(SAMPLE).encode())
    status, _, body = await call(port, decide)
    if status != 200:
        raise SystemExit(f"/v1/decide failed: {status} {body[:300]!r}")

    results = []
    gc.disable()  # the load generator's own collections would show up as server latency
    try:
        for name, payload in (("GET /health", health), ("POST /v1/decide", decide)):
            results.append(
                await closed_loop(
                    name, port, payload, args.connections, args.seconds, args.warmup, process.pid
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
    batch_server, batch_wall = [], []
    for _ in range(args.batch_runs):
        started = time.perf_counter()
        status, headers, body = await call(port, batch)
        batch_wall.append(time.perf_counter() - started)
        if status != 200 or len(json.loads(body)["decisions"]) != 10_000:
            raise SystemExit(f"batch failed: {status} {body[:300]!r}")
        batch_server.append(server_timing_ms(headers))

    print(
        f"{args.server} --workers {args.workers}; {args.connections} connections, "
        f"{args.seconds:g} s per endpoint after {args.warmup:g} s warm-up, closed loop"
    )
    print(
        f"{'endpoint':<18}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}"
        f"{'server CPU µs/req':>19}"
    )
    for r in results:
        print(
            f"{r.name:<18}{r.rps:>10.0f}{r.pct(0.50):>10.2f}{r.pct(0.99):>10.2f}{r.errors:>8}"
            f"{r.cpu_us:>19.0f}"
        )
    health_r, decide_r = results
    ratio = decide_r.rps / health_r.rps
    print(f"decide/health throughput ratio: {ratio:.2f} (aim >= 0.70)")
    print(f"decide p99: {decide_r.pct(0.99):.2f} ms (aim < 10 ms at 32 connections)")
    print(
        f"10,000-item batch: server time {statistics.median(batch_server) / 1000:.3f} s "
        f"(median of {args.batch_runs}; aim < 0.5 s), round trip "
        f"{statistics.median(batch_wall):.3f} s"
    )
    return 0 if not any(r.errors for r in results) else 1


SERVERS = ("channel-router", "uvicorn", "granian", "hypercorn")


def server_command(server: str, port: int, workers: int) -> list[str]:
    """The command line that serves the app factory with `server` on `port`."""
    if server == "channel-router":
        return [sys.executable, "-m", "server.cli", "serve", "--port", str(port),
                "--workers", str(workers)]  # fmt: skip
    if server == "uvicorn":
        return [sys.executable, "-m", "uvicorn", "--factory", "server.app:create_app",
                "--port", str(port), "--workers", str(workers), "--log-level", "warning",
                "--no-access-log"]  # fmt: skip
    if server == "granian":
        return [sys.executable, "-m", "granian", "--interface", "asgi", "--factory",
                "--port", str(port), "--workers", str(workers), "--log-level", "warning",
                "--no-access-log", "server.app:create_app"]  # fmt: skip
    return [sys.executable, "-m", "hypercorn", "--bind", f"127.0.0.1:{port}",
            "--workers", str(workers), "--worker-class", "uvloop", "--log-level", "warning",
            "server.app:create_app()"]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--batch-runs", type=int, default=3)
    parser.add_argument("--server", choices=SERVERS, default="channel-router")
    args = parser.parse_args()
    if args.server in ("granian", "hypercorn") and not _installed(args.server):
        raise SystemExit(f"--server {args.server}: pip install {args.server} first")

    port = free_port()
    admin = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="channel-router-bench-") as tmp:
        env = {
            **os.environ,
            "CHANNEL_ROUTER_DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
            "CHANNEL_ROUTER_ADMIN_TOKEN": admin,
            "CHANNEL_ROUTER_POLICY_DIR": str(REPO / "policies"),
            "CHANNEL_ROUTER_LOG_LEVEL": "warning",
        }
        command = server_command(args.server, port, args.workers)
        process = subprocess.Popen(command, env=env, cwd=tmp)
        try:
            return asyncio.run(bench(args, port, process, admin))
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


if __name__ == "__main__":
    sys.exit(main())
