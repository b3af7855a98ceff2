"""`channel-router up` as a person runs it: everything starts, a dead piece comes back (said
once), Ctrl-C stops the API and the worker before the Redis they use, and a second `up`
finds the merchants and the token of the first. Each run uses a temporary data directory
and free ports; every wait has a deadline."""

from __future__ import annotations

import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from server.processes.redis_private import free_port, redis_answers
from tests.server.helpers import decide_body

REPO = Path(__file__).resolve().parents[2]
START_SECONDS = 90.0


class Up:
    """A `channel-router up` child and every line it printed (stdout and stderr)."""

    def __init__(self, data_dir: Path, *args: str, port: int | None = None) -> None:
        self.port = port or free_port()
        self.sandbox_port = free_port()
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("CHANNEL_ROUTER_") and k != "PICCOLO_CONF"
        }
        command = [sys.executable, "-m", "server.cli", "up", "--port", str(self.port),
                   "--sandbox-port", str(self.sandbox_port),
                   "--data-dir", str(data_dir), *args]  # fmt: skip
        # Its own process group, so that the test can send SIGINT the way a terminal does.
        self.process = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    @property
    def text(self) -> str:
        with self._changed:
            return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 60.0, after: int = 0) -> re.Match[str]:
        """The first line from index `after` on matching `pattern`, waiting up to `timeout`."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines[after:]:
                    if found := re.search(pattern, line):
                        return found
                left = deadline - time.monotonic()
                if left <= 0 or (self.process.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(f"{pattern!r} not printed; got:\n" + "\n".join(self.lines))
                self._changed.wait(min(left, 0.5))

    def count(self, pattern: str, after: int = 0) -> int:
        with self._changed:
            return sum(1 for line in self.lines[after:] if re.search(pattern, line))

    def ctrl_c(self) -> int:
        """SIGINT to the whole group, as a terminal's Ctrl-C; its exit code."""
        os.killpg(self.process.pid, signal.SIGINT)
        code = self.process.wait(timeout=60)
        self._reader.join(timeout=10)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


@pytest.fixture
def running() -> Iterator[list[Up]]:
    """Every `up` a test starts is gone at its end, whatever happened."""
    started: list[Up] = []
    yield started
    for up in started:
        up.kill()


def wait_status(url: str, status: int = 200, timeout: float = 60.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    last: httpx.Response | str = "no answer"
    while time.monotonic() < deadline:
        try:
            last = httpx.get(url, timeout=3)
            if last.status_code == status:
                return last
        except httpx.TransportError as exc:
            last = repr(exc)
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer {status} in time: {last}")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def kill_and_wait_back(up: Up, name: str, pid: int) -> None:
    """SIGKILL a child of `up`; it must be said dead once and back once."""
    mark = len(up.lines)
    os.kill(pid, signal.SIGKILL)
    up.wait_for(rf"up: {name} exited \(killed by SIGKILL\); restarting it", after=mark)
    up.wait_for(rf"up: {name} is back \(pid \d+\)", after=mark)
    assert up.count(rf"up: {name} exited", after=mark) == 1


def test_up_supervises_everything_and_a_second_up_finds_the_first_ones_state(
    tmp_path: Path, running: list[Up]
) -> None:
    data = tmp_path / "data"
    up = Up(data)
    running.append(up)
    up.wait_for(r"^Ctrl-C stops everything$", timeout=START_SECONDS)
    text = up.text
    assert up.lines[0] == f"channel-router up: data directory {data}"
    assert f"channel-router is running on {up.base}" in text
    token = up.wait_for(r"admin token: (\S+)  \(generated, kept in (\S+)\)")
    assert token.group(2) == str(data / "admin.token")
    redis_port = int(up.wait_for(r"private Redis on redis://127\.0\.0\.1:(\d+)/0").group(1))
    redis_pid = int(up.wait_for(r"redis: .*\(pid (\d+),").group(1))
    sandbox = up.wait_for(r"sandbox: +(http://127\.0\.0\.1:(\d+)) \(pid (\d+);")
    assert int(sandbox.group(2)) == up.sandbox_port
    api_pid = int(up.wait_for(r"api server: +pid (\d+)").group(1))

    # All local state in the data directory, private to its owner.
    assert mode(data) == 0o700
    for name in ("admin.token", "secret.key", "channel-router.sqlite3"):
        assert mode(data / name) == 0o600, name
    assert (data / "admin.token").read_text().strip() == token.group(1)

    # The API works, and the campaign worker runs beside it.
    wait_status(up.base + "/ready")
    admin = {"Authorization": f"Bearer {token.group(1)}"}
    created = httpx.post(
        up.base + "/v1/merchants",
        json={"merchant_id": "acme", "name": "Acme",
              "settings": {"enabled_external_channels": ["ebay"]}},
        headers=admin, timeout=30,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    key = {"Authorization": f"Bearer {created.json()['api_key']}"}
    decision = httpx.post(up.base + "/v1/decide", json=decide_body(), headers=key, timeout=30)
    assert decision.status_code == 200 and decision.json()["rule_id"] == "dead-stock"
    assert up.count("up: campaign worker exited") == 0
    assert re.search(r"worker: +campaign worker, pid \d+", up.text)
    assert wait_status(sandbox.group(1) + "/").headers["content-type"].startswith("text/html")

    # A dead private Redis comes back on its port; /ready recovers.
    kill_and_wait_back(up, "private Redis", redis_pid)
    assert redis_answers("127.0.0.1", redis_port)
    wait_status(up.base + "/ready", timeout=30)
    # So do the sandbox (same port) and the API server (same socket: nothing is refused).
    kill_and_wait_back(up, "sandbox", int(sandbox.group(3)))
    wait_status(sandbox.group(1) + "/", timeout=30)
    kill_and_wait_back(up, "API server", api_pid)
    wait_status(up.base + "/ready", timeout=30)

    # One `up` per data directory.
    second = subprocess.run(
        [sys.executable, "-m", "server.cli", "up", "--port", str(free_port()),
         "--data-dir", str(data)],
        capture_output=True, text=True, timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("CHANNEL_ROUTER_")},
    )  # fmt: skip
    assert second.returncode == 2 and "is using the data directory" in second.stderr

    # Ctrl-C: the API (and worker) first, the sandbox, the private Redis last; said once.
    mark = len(up.lines)
    assert up.ctrl_c() == 0
    after = up.lines[mark:]
    stops = [line for line in after if line.startswith("up: stopping ")]
    assert stops[0] == "up: stopping everything (Ctrl-C again stops at once)"
    assert stops[1].startswith("up: stopping API server")
    assert stops[2:] == ["up: stopping sandbox", "up: stopping private Redis"]
    assert after[-1] == "up: stopped"
    assert not [line for line in after if "lost Redis" in line or "Traceback" in line]
    for line in ("Shutting down", "Application shutdown complete.", "Finished server process"):
        assert sum(line in entry for entry in after) == 1, line
    assert not redis_answers("127.0.0.1", redis_port)

    # A second `up` on the same data directory: the same token, the same merchant and key.
    again = Up(data)
    running.append(again)
    again.wait_for(r"^Ctrl-C stops everything$", timeout=START_SECONDS)
    assert again.wait_for(r"admin token: (\S+)  \(kept in ").group(1) == token.group(1)
    assert "generated" not in again.text
    wait_status(again.base + "/ready")
    same = httpx.post(
        again.base + "/v1/merchants", json={"merchant_id": "acme", "name": "Acme"},
        headers=admin, timeout=30,
    )  # fmt: skip
    assert same.status_code == 409
    decision = httpx.post(again.base + "/v1/decide", json=decide_body(), headers=key, timeout=30)
    assert decision.status_code == 200
    assert again.ctrl_c() == 0


def test_a_busy_port_is_the_first_and_only_thing_said(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        run = subprocess.run(
            [sys.executable, "-m", "server.cli", "up", "--port", str(port),
             "--data-dir", str(tmp_path / "data")],
            capture_output=True, text=True, timeout=60,
            env={k: v for k, v in os.environ.items() if not k.startswith("CHANNEL_ROUTER_")},
        )  # fmt: skip
    assert run.returncode == 2
    assert run.stdout == ""
    first = run.stderr.splitlines()[0]
    assert first.startswith(f"channel-router up: cannot listen on 127.0.0.1:{port}: ")
    assert "--port 8080" in first and 'make up ARGS="--port 8080"' in first
    assert not (tmp_path / "data").exists()  # nothing was done before the port was had


def test_make_up_passes_its_args_to_channel_router_up() -> None:
    # Not the variables of a `make` this test may run under (`make test VENV=...` passes them on).
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    run = subprocess.run(
        ["make", "-n", "up", 'ARGS=--port 8080 --host 0.0.0.0'],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert ".venv/bin/channel-router up --port 8080 --host 0.0.0.0" in run.stdout
