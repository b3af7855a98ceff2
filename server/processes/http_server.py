"""The HTTP server of `serve`, `up` and the sandbox: uvicorn, with deadlines for slow clients.

uvicorn (httptools) enforces one timeout, the keep-alive between two requests,
and resets nothing while a request arrives: a client that connects and sends
nothing, or trickles its headers or body one byte at a time, holds its
connection for ever (its `timeout_keep_alive` is armed only after a response).
granian cuts slow headers but not a silent connection or a slow body; hypercorn
cuts idle connections and slow headers but not a slow body (see
docs/operations.md, "Slow clients"). `GuardedHttpToolsProtocol` adds the
three deadlines to uvicorn's own protocol:

- idle: a new connection gets the keep-alive time to send its first byte
  (uvicorn arms that timer only after a first response);
- headers: from a request's first byte to the end of its headers;
- body: from the end of the headers to the end of the body.

On overrun the client gets a 408 (when no response has begun) and the
connection is closed; an app still waiting for the body sees a disconnect.
"""

from __future__ import annotations

import asyncio
import logging
import math
import socket
import weakref
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from server.config import HttpServerConfig

log = logging.getLogger(__name__)

_PROBLEM = (
    '{{"type":"about:blank","title":"Request Timeout","status":408,'
    '"detail":"the request {part} did not arrive within {seconds:g} s"}}'
)


class GuardedConfig(uvicorn.Config):
    """uvicorn's Config plus our client deadlines (picklable, for `--workers N`)."""

    def __init__(self, app: Any, *, limits: HttpServerConfig, **kwargs: Any) -> None:
        kwargs.setdefault("forwarded_allow_ips", limits.forwarded_allow_ips)
        super().__init__(
            app,
            http=GuardedHttpToolsProtocol,
            timeout_keep_alive=max(1, round(limits.keep_alive)),
            **kwargs,
        )
        self.limits = limits


class _Sweeper:
    """One timer per event loop that expires the deadlines of every guarded connection.

    A request sets and clears its deadlines as plain attributes (three per
    request); this sweep, every `tick` seconds while any connection is open,
    expires the ones that have passed. A timer armed and cancelled per request
    phase cost about 25,000 instructions per request (bench/http.py). A
    deadline is never enforced early, and at most one tick late.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, tick: float) -> None:
        self.loop = loop
        self.tick = tick
        self.connections: set[GuardedHttpToolsProtocol] = set()
        self._timer: asyncio.TimerHandle | None = None

    def add(self, protocol: GuardedHttpToolsProtocol) -> None:
        self.connections.add(protocol)
        if self._timer is None:
            self._timer = self.loop.call_later(self.tick, self._sweep)

    def discard(self, protocol: GuardedHttpToolsProtocol) -> None:
        self.connections.discard(protocol)

    def _sweep(self) -> None:
        now = self.loop.time()
        for protocol in [p for p in self.connections if p.deadline_at <= now]:
            protocol.expire()
        self._timer = self.loop.call_later(self.tick, self._sweep) if self.connections else None


_SWEEPERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Sweeper] = (
    weakref.WeakKeyDictionary()
)
_NEVER = math.inf


def _sweeper(loop: asyncio.AbstractEventLoop, limits: HttpServerConfig) -> _Sweeper:
    """The loop's sweeper: a tick of a tenth of the shortest deadline, 50 ms to 1 s."""
    sweeper = _SWEEPERS.get(loop)
    if sweeper is None:
        tick = min(1.0, max(0.05, min(limits.header_timeout, limits.body_timeout) / 10))
        sweeper = _SWEEPERS[loop] = _Sweeper(loop, tick)
    return sweeper


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with idle, header and body deadlines."""

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        limits: HttpServerConfig = getattr(config, "limits", None) or HttpServerConfig()
        self.timeout_keep_alive = limits.keep_alive  # type: ignore[assignment]  # float seconds
        self._header_timeout = limits.header_timeout
        self._body_timeout = limits.body_timeout
        self._sweeper = _sweeper(self.loop, limits)
        # The request phase under a deadline ("headers" or "body"), and when it ends.
        self.deadline_at = _NEVER
        self._part = ""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._sweeper.add(self)
        # The first request gets the keep-alive time to begin, like every later one.
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self.deadline_at = _NEVER
        self._sweeper.discard(self)
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.deadline_at = self.loop.time() + self._header_timeout
        self._part = "headers"

    def on_headers_complete(self) -> None:
        self.deadline_at = _NEVER
        super().on_headers_complete()
        if not (self.parser.should_upgrade() and self._should_upgrade()):
            # (an upgraded connection is not ours)
            self.deadline_at = self.loop.time() + self._body_timeout
            self._part = "body"

    def on_message_complete(self) -> None:
        self.deadline_at = _NEVER
        super().on_message_complete()

    def expire(self) -> None:
        """The current deadline has passed (called by the sweeper)."""
        self.deadline_at = _NEVER
        part = self._part
        self._expire(part, self._header_timeout if part == "headers" else self._body_timeout)

    def _expire(self, part: str, seconds: float) -> None:
        if self.transport.is_closing():
            return
        log.info(
            "closed a connection from %s: the request %s did not arrive within %g s",
            self.client[0] if self.client else "?",
            part,
            seconds,
        )
        cycle = self.cycle
        waiting_for_body = part == "body" and cycle is not None
        if not waiting_for_body or not cycle.response_started:
            body = _PROBLEM.format(part=part, seconds=seconds).encode()
            self.transport.write(
                b"HTTP/1.1 408 Request Timeout\r\n"
                b"content-type: application/problem+json\r\n"
                b"content-length: " + str(len(body)).encode() + b"\r\n"
                b"connection: close\r\n\r\n" + body
            )
        if waiting_for_body:
            # The app may be awaiting the body: from now on it sees a disconnect,
            # and anything it sends is dropped.
            cycle.disconnected = True
            cycle.keep_alive = False
            cycle.message_event.set()
        self.transport.close()


def serve_http(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    sock: socket.socket | None = None,
    workers: int = 1,
    limits: HttpServerConfig | None = None,
    log_level: str = "info",
    log_config: dict[str, Any] | None = None,
    factory: bool = False,
) -> bool:
    """Serve `app` until a signal stops it; False when it failed to start.

    `app` is an ASGI app or, for `workers > 1`, an import string. `sock`, when
    given, is a listening socket to serve on (`up` binds it before anything
    else, so a busy port is the first thing it reports). `log_config`: uvicorn's
    logging dict (default: uvicorn's own).
    """
    config = GuardedConfig(
        app,
        limits=limits or HttpServerConfig(),
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=False,
        factory=factory,
        **({"log_config": log_config} if log_config is not None else {}),
    )
    server = uvicorn.Server(config)
    if workers > 1:
        from uvicorn.supervisors import Multiprocess

        Multiprocess(config, sockets=[sock or config.bind_socket()]).run()
        return True
    server.run(sockets=[sock] if sock is not None else None)
    return server.started
