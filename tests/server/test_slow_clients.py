"""Slow clients are cut off: `channel-router serve` closes a connection whose headers or body
trickle in past their deadline, or that sits idle past the keep-alive, and serves clients
that are merely a little slow. Bounded: every socket here is closed by a deadline.

uvicorn alone fails every case but the keep-alive after a response (it arms no timer
until a first response); the deadlines come from server.processes.http_server.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from server.processes.redis_private import free_port

HEADER_TIMEOUT = 1.5
BODY_TIMEOUT = 1.5
KEEP_ALIVE = 1.0
MARGIN = 3.0  # a loaded CI machine may run the server's timers late, never early
ADMIN = "slow-clients-admin-token"


@dataclass
class Served:
    port: int


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`channel-router serve` with short client deadlines, as a real process."""
    tmp: Path = tmp_path_factory.mktemp("slow")
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CHANNEL_ROUTER_")},
        "CHANNEL_ROUTER_DATA_DIR": str(tmp / "data"),
        "CHANNEL_ROUTER_HTTP_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT),
        "CHANNEL_ROUTER_HTTP_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT),
        "CHANNEL_ROUTER_HTTP_KEEP_ALIVE_SECONDS": str(KEEP_ALIVE),
        "CHANNEL_ROUTER_LOG_LEVEL": "warning",
        "CHANNEL_ROUTER_ADMIN_TOKEN": ADMIN,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "serve", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "serve exited during start-up"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "serve did not start in time"
            time.sleep(0.05)
        yield Served(port)
    finally:
        process.terminate()
        process.wait(timeout=30)


async def watch(
    port: int, first: bytes, trickle: bytes = b"", every: float = 0.25, cap: float = 15.0
) -> tuple[float | None, bytes]:
    """Send `first`, then `trickle` every `every` s; seconds until the server closed (None:
    still open after `cap`), and what it sent."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    writer.write(first)

    async def feed() -> None:
        while trickle:
            await asyncio.sleep(every)
            if writer.is_closing():
                return
            writer.write(trickle)

    feeder = asyncio.create_task(feed())
    received = b""
    closed_after: float | None = None
    try:
        while (left := cap - (time.monotonic() - started)) > 0:
            try:
                data = await asyncio.wait_for(reader.read(4096), left)
            except TimeoutError:
                break
            except ConnectionError:
                data = b""
            if not data:
                closed_after = time.monotonic() - started
                break
            received += data
    finally:
        feeder.cancel()
        writer.close()
    return closed_after, received


def test_200_sockets_trickling_headers_are_all_closed_in_time(served: Served) -> None:
    async def all_of_them() -> list[tuple[float | None, bytes]]:
        return await asyncio.gather(
            *(
                watch(served.port, b"GET /health HTTP/1.1\r\nHost: x\r\n", trickle=b"X")
                for _ in range(200)
            )
        )

    results = asyncio.run(all_of_them())
    times = [t for t, _ in results]
    assert all(t is not None for t in times), f"{times.count(None)} of 200 still open"
    assert min(t for t in times if t is not None) >= HEADER_TIMEOUT - 0.1
    assert max(t for t in times if t is not None) <= HEADER_TIMEOUT + MARGIN
    assert all(body.startswith(b"HTTP/1.1 408 ") for _, body in results)
    assert b'"status":408' in results[0][1]


def test_a_trickling_body_is_closed_in_time(served: Served) -> None:
    # Authenticated: without a token decide answers 401 before it reads any of the body.
    head = (
        b"POST /v1/decide HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + ADMIN.encode() + b"\r\n"
        b"Content-Length: 1000\r\n\r\n{"
    )

    async def some() -> list[tuple[float | None, bytes]]:
        return await asyncio.gather(*(watch(served.port, head, trickle=b" ") for _ in range(20)))

    results = asyncio.run(some())
    times = [t for t, _ in results]
    assert all(t is not None and BODY_TIMEOUT - 0.1 <= t <= BODY_TIMEOUT + MARGIN for t in times)
    assert all(body.startswith(b"HTTP/1.1 408 ") for _, body in results)


def test_a_silent_connection_is_closed_after_the_keep_alive(served: Served) -> None:
    async def some() -> list[tuple[float | None, bytes]]:
        return await asyncio.gather(*(watch(served.port, b"") for _ in range(20)))

    results = asyncio.run(some())
    assert all(t is not None and KEEP_ALIVE - 0.1 <= t <= KEEP_ALIVE + MARGIN for t, _ in results)
    assert all(body == b"" for _, body in results)  # nothing was asked, nothing is answered


def test_a_keep_alive_connection_serves_requests_then_closes_when_idle(served: Served) -> None:
    async def client() -> tuple[list[bytes], float]:
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        answers = []
        try:
            for _ in range(3):
                writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                answers.append(await reader.readuntil(b'{"status":"ok"}'))
                await asyncio.sleep(KEEP_ALIVE / 2)  # idle, but less than the keep-alive
            idle_from = time.monotonic() - KEEP_ALIVE / 2
            assert await asyncio.wait_for(reader.read(1), KEEP_ALIVE + MARGIN) == b""
            return answers, time.monotonic() - idle_from
        finally:
            writer.close()

    answers, idle = asyncio.run(client())
    assert [a.split(b"\r\n", 1)[0] for a in answers] == [b"HTTP/1.1 200 OK"] * 3
    assert KEEP_ALIVE - 0.1 <= idle <= KEEP_ALIVE + MARGIN


def test_a_client_slower_than_usual_but_within_the_deadlines_is_served(served: Served) -> None:
    async def client() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        try:
            for part in (b"GET /hea", b"lth HTTP/1.1\r\n", b"Host: x\r\n", b"\r\n"):
                writer.write(part)
                await asyncio.sleep(HEADER_TIMEOUT / 6)
            return await asyncio.wait_for(reader.readuntil(b'{"status":"ok"}'), 10)
        finally:
            writer.close()

    assert asyncio.run(client()).startswith(b"HTTP/1.1 200 OK")
