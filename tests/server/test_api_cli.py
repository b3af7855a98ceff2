"""The service commands: migrate, worker, up (end to end, as a person runs it),
and the private Redis they rely on."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from server.cli.main import main
from server.processes.redis_private import PrivateRedis, free_port, redis_answers
from tests.server.helpers import decide_body

REPO = Path(__file__).resolve().parents[2]


def test_private_redis_starts_answers_and_stops() -> None:
    with PrivateRedis() as redis:
        assert redis_answers(redis.host, redis.port)
        port = redis.port
    assert not redis_answers("127.0.0.1", port)


def test_migrate_creates_the_database(tmp_path: Path) -> None:
    env = {**os.environ, "CHANNEL_ROUTER_DATABASE_URL": f"sqlite:///{tmp_path}/x/db.sqlite3"}
    run = subprocess.run(
        [sys.executable, "-m", "server.cli", "migrate"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "applied" in run.stdout
    assert (tmp_path / "x" / "db.sqlite3").is_file()
    again = subprocess.run(
        [sys.executable, "-m", "server.cli", "migrate"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert again.returncode == 0 and "0 migration(s) applied now" in again.stdout


def test_migrate_refuses_an_unknown_url(tmp_path: Path) -> None:
    env = {**os.environ, "CHANNEL_ROUTER_DATABASE_URL": "mysql://x/y"}
    run = subprocess.run(
        [sys.executable, "-m", "server.cli", "migrate"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 2 and "unsupported" in run.stderr


def test_worker_says_it_is_not_available_yet() -> None:
    assert main(["worker"]) == 2


def _read_until(process: subprocess.Popen[str], pattern: str, deadline: float) -> list[str]:
    assert process.stdout is not None
    lines: list[str] = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if re.search(pattern, line):
            return lines
    raise AssertionError(f"{pattern!r} not printed; got {lines}")


def test_up_runs_everything_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CHANNEL_ROUTER_") and k != "PICCOLO_CONF"
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "up", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        lines = _read_until(process, r"Ctrl-C stops everything", time.monotonic() + 60)
        text = "\n".join(lines)
        assert f"http://127.0.0.1:{port}" in text
        token = re.search(r"admin token: (\S+)", text)
        assert token is not None
        redis_port = int(re.search(r"private Redis on redis://127.0.0.1:(\d+)", text).group(1))  # type: ignore[union-attr]
        assert "connectors point at the marketplace sandbox" in text
        key_file = tmp_path / "var" / "secret.key"
        assert key_file.is_file() and (key_file.stat().st_mode & 0o777) == 0o600
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        ready = None
        while time.monotonic() < deadline:
            try:
                ready = httpx.get(f"{base}/ready", timeout=2)
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        assert ready is not None and ready.status_code == 200, ready and ready.text
        admin = {"Authorization": f"Bearer {token.group(1)}"}
        created = httpx.post(
            f"{base}/v1/merchants",
            json={
                "merchant_id": "acme",
                "name": "Acme",
                "settings": {"enabled_external_channels": ["ebay"]},
            },
            headers=admin,
        )
        assert created.status_code == 201
        key = created.json()["api_key"]
        decision = httpx.post(
            f"{base}/v1/decide", json=decide_body(), headers={"Authorization": f"Bearer {key}"}
        )
        assert decision.status_code == 200 and decision.json()["rule_id"] == "dead-stock"
        assert (tmp_path / "var" / "channel-router.sqlite3").is_file()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
        assert not redis_answers("127.0.0.1", redis_port)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
