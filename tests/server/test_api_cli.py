"""The service commands migrate and worker, and the private Redis they rely on
(`up` end to end: test_cli_up.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from server.cli.main import main
from server.processes.redis_private import PrivateRedis, redis_answers


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


def test_worker_refuses_to_start_without_redis(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CHANNEL_ROUTER_REDIS_URL", raising=False)
    assert main(["worker"]) == 2
    assert "CHANNEL_ROUTER_REDIS_URL is not set" in capsys.readouterr().err
