"""`up_service`: the service started as the README starts it, for the document tests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

from server.processes.redis_private import free_port
from tests.server.helpers import poll

START_TIMEOUT = 60.0


@dataclass(frozen=True)
class UpService:
    """A running `channel-router up`: its address and the admin token it printed."""

    url: str
    admin_token: str
    data_dir: Path
    sandbox_url: str = ""


def clean_env() -> dict[str, str]:
    """The environment of a newcomer's shell: none of our variables set."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CHANNEL_ROUTER_") and k != "PICCOLO_CONF"
    }


@pytest.fixture
def up_service(tmp_path: Path) -> Iterator[UpService]:
    """`channel-router up` on free ports with a temporary data directory; stopped with Ctrl-C."""
    port = free_port()
    data_dir = tmp_path / "up"
    data_dir.mkdir()
    command = [sys.executable, "-m", "server.cli", "up", "--port", str(port),
               "--sandbox-port", str(free_port()), "--data-dir", str(data_dir)]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=data_dir, env=clean_env(),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        token = _printed_admin_token(process)
        sandbox_url = _printed(process, r"sandbox:\s+(http://\S+)")
        # Keep reading what `up` and its children print: a full pipe would stop them.
        for stream in (process.stdout, process.stderr):
            threading.Thread(target=_drain, args=(stream,), daemon=True).start()
        url = f"http://127.0.0.1:{port}"
        poll(f"{url}/ready", process, timeout=START_TIMEOUT)
        yield UpService(url=url, admin_token=token, data_dir=data_dir, sandbox_url=sandbox_url)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _drain(stream: IO[str] | None) -> None:
    if stream is not None:
        for _ in stream:
            pass


def _printed(process: subprocess.Popen[str], pattern: str) -> str:
    """The first group of the first line `up` prints matching `pattern` (or "")."""
    assert process.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            return ""
        found = re.search(pattern, line)
        if found:
            return found.group(1)
    return ""


def _printed_admin_token(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT
    seen = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        found = re.search(r"admin token:\s+(\S+)", line)
        if found:
            return found.group(1)
    stderr = process.stderr.read() if process.poll() is not None and process.stderr else ""
    raise AssertionError(f"`up` printed no admin token: {''.join(seen)}{stderr}")
