"""One log format for every line a service process writes; httpx's per-request
lines only at debug, our own one line per marketplace call instead; the real
SQLite version instead of piccolo's "3.4"."""

from __future__ import annotations

import logging
import os
import re
import secrets
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from server import logs
from server.processes.redis_private import free_port
from server.processes.uvicorn_thread import UvicornThread
from tests.server.helpers import connector_env, poll

LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: \S"
)


def test_libraries_that_log_every_call_are_quiet_unless_debugging() -> None:
    at_info = logs.dict_config(logs.LogSettings("info"))["loggers"]
    at_debug = logs.dict_config(logs.LogSettings("debug"))["loggers"]
    for name in ("httpx", "httpcore", "piccolo.engine.base"):
        assert at_info[name]["level"] == "WARNING"
        assert at_debug[name]["level"] == "DEBUG"


def test_an_unknown_level_is_refused() -> None:
    assert logs.LogSettings.from_env({"CHANNEL_ROUTER_LOG_LEVEL": "WARNING"}).level == "warning"
    assert logs.LogSettings.from_env({}).level == "info"
    with pytest.raises(ValueError, match="expected one of debug, info"):
        logs.LogSettings.from_env({"CHANNEL_ROUTER_LOG_LEVEL": "loud"})


@pytest.mark.parametrize("command", ["serve", "up", "sandbox"])
def test_a_bad_level_stops_each_process_command_with_a_message(command: str) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "server.cli", command],
        env={**os.environ, "CHANNEL_ROUTER_LOG_LEVEL": "loud"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 2
    assert run.stderr.strip() == (
        f"channel-router {command}: CHANNEL_ROUTER_LOG_LEVEL='loud': "
        "expected one of debug, info, warning, error, critical"
    )


def test_configure_gives_every_logger_our_format(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        logs.configure(logs.LogSettings("info"))
        logging.getLogger("uvicorn.error").info("Started server process")
        logging.getLogger("connectors.http").info("ebay GET /x -> 200 in 3 ms (1 attempt)")
        logging.getLogger("httpx").info("HTTP Request: GET http://x")
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and all(LINE.match(line) for line in lines), lines
    assert lines[0].endswith("INFO uvicorn.error: Started server process")


def test_serve_writes_one_format_and_one_line_per_marketplace_call(
    tmp_path: Path, redis_url: str
) -> None:
    from sandbox.app import create_app as create_sandbox

    sandbox = UvicornThread(create_sandbox(), port=free_port()).start()
    port, admin = free_port(), secrets.token_urlsafe(16)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHANNEL_ROUTER_")}
    env.update(
        connector_env(sandbox.url),
        CHANNEL_ROUTER_DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3",
        CHANNEL_ROUTER_REDIS_URL=redis_url,
        CHANNEL_ROUTER_ADMIN_TOKEN=admin,
        CHANNEL_ROUTER_SECRET_KEY=secrets.token_urlsafe(32),
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "serve", "--port", str(port)],
        env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    base, auth = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {admin}"}
    try:
        poll(f"{base}/ready", process)
        merchant = {"merchant_id": "acme", "name": "Acme"}
        assert httpx.post(f"{base}/v1/merchants", json=merchant, headers=auth).status_code == 201
        connected = httpx.put(
            f"{base}/v1/merchants/acme/channels/ebay/credentials",
            json={"authorization_code": "good-code-1"},
            headers=auth,
            timeout=30,
        )
        assert connected.status_code == 204, connected.text
    finally:
        process.terminate()
        _, err = process.communicate(timeout=30)
        sandbox.stop()
    lines = err.splitlines()
    assert lines and [line for line in lines if not LINE.match(line)] == []
    assert any(f"database: SQLite {sqlite3.sqlite_version} (" in line for line in lines)
    assert not any("Sqlite version" in line or "HTTP Request:" in line for line in lines)
    calls = [line for line in lines if " connectors.http: ebay " in line]
    assert any(
        re.search(r"ebay POST /identity/v1/oauth2/token -> 200 in \d+ ms \(1 attempt\)$", line)
        for line in calls
    ), lines
    assert "good-code-1" not in err
