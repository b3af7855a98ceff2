"""Serve an ASGI app in a background thread (tests), with the server and deadlines of `serve`."""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn

from server.config import HttpServerConfig
from server.processes.http_server import GuardedConfig


class UvicornThread:
    """A uvicorn server on 127.0.0.1 running in a daemon thread."""

    def __init__(
        self,
        app: Any,
        *,
        port: int,
        host: str = "127.0.0.1",
        limits: HttpServerConfig | None = None,
    ) -> None:
        self.url = f"http://{host}:{port}"
        # log_config=None: the embedding process's logging set-up (server.logs) stays in force.
        config = GuardedConfig(
            app,
            limits=limits or HttpServerConfig(),
            host=host,
            port=port,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="on",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self, timeout: float = 30.0) -> UvicornThread:
        """Start and wait (with a deadline) until the server accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("server exited during start-up")
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start in time")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Ask the server to exit and wait for its thread."""
        self._server.should_exit = True
        self._thread.join(timeout=30)
