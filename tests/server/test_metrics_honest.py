"""/metrics tells the truth (issue 8 item 10): a client that goes away mid-body is not a
server error, several workers add up, and the content type names one charset."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from server.config import REPO_POLICY_DIR
from server.processes.redis_private import free_port
from tests.server.helpers import Api, stop_process


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the exposition (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(name + "{"):
            got = ",".join(sorted(line[len(name) + 1 : line.rindex("}")].split(",")))
            if got == wanted:
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def _hang_up_mid_body(url: str, method: str, path: str, key: str) -> None:
    """Announce 1000 bytes of body, send 10, and close the connection."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
            "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
        )
        sock.sendall(head.encode() + b'{"merchant')


def test_a_client_gone_mid_body_is_counted_apart_from_server_errors(api: Api) -> None:
    key = api.create_merchant("acme")
    for method, path in (("POST", "/v1/decide"), ("PUT", "/v1/merchants/acme/settings")):
        _hang_up_mid_body(api.url, method, path, key)
    deadline = time.monotonic() + 20
    while True:
        text = api.http.get("/metrics").text
        gone = [
            _sample(text, "channel_router_http_client_disconnects_total", method=m, route=r)
            for m, r in (
                ("POST", "/v1/decide"),
                ("PUT", "/v1/merchants/{merchant_id}/settings"),
            )
        ]
        if gone == [1.0, 1.0] or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert gone == [1.0, 1.0], text
    assert 'status="500"' not in text
    assert 'status="499"' not in text


def test_metrics_content_type_names_one_charset(api: Api) -> None:
    r = api.http.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"


def test_serve_with_two_workers_adds_up_every_workers_counts(tmp_path: Path) -> None:
    """Whichever worker answers a scrape, it counts every worker's requests: counts
    never go backwards from one scrape to the next."""
    port = free_port()
    env = {
        **os.environ,
        "CHANNEL_ROUTER_DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
        "CHANNEL_ROUTER_POLICY_DIR": str(REPO_POLICY_DIR),
        "CHANNEL_ROUTER_LOG_LEVEL": "warning",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    command = [sys.executable, "-m", "server.cli", "serve", "--port", str(port), "--workers", "2"]
    process = subprocess.Popen(command, env=env, cwd=tmp_path, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "serve did not start"
            time.sleep(0.1)
        # Both workers up: a fresh connection per request spreads them over the two.
        for _ in range(5):
            httpx.get(url + "/health", timeout=10)
        health_calls = 6 + 40
        for _ in range(40):
            assert httpx.get(url + "/health", timeout=10).status_code == 200
        seen = []
        for _ in range(8):
            text = httpx.get(url + "/metrics", timeout=10).text
            name = "channel_router_http_requests_total"
            seen.append(_sample(text, name, method="GET", route="/health", status="200"))
        # The first health calls may have raced the second worker's start: at least all of
        # the 46 that succeeded are counted, the same number on every scrape.
        assert len(set(seen)) == 1 and seen[0] >= health_calls - 1, seen
        assert re.search(r"channel_router_http_requests_total\{[^}]*/metrics", text)
    finally:
        stop_process(process)
