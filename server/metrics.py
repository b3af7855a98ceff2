"""Prometheus metrics of one app: request counts and latencies, decisions by rule.

- A registry per app (not prometheus_client's global one), so several apps in
  one process, as in the tests, keep separate counts.
- With several worker processes (`serve --workers N`) every worker writes its
  samples to files in PROMETHEUS_MULTIPROC_DIR (prometheus-client's
  multiprocess mode, which `serve` turns on for N > 1) and /metrics adds up
  every worker's, so a scrape never goes backwards whichever worker answers.
- Requests are labelled by route template, never by raw path, so label sets
  stay bounded; label children are bound once and kept (hot path).
- In one process, a request's count and latency are tallied in plain Python
  numbers and added to prometheus-client's metrics when /metrics renders
  (prometheus-client's own `inc` and `observe` take a lock each: about 13,000
  instructions per request, against 1,500). With several workers every
  request is written through at once, as the workers' files must show it.
- A client that goes away before its request body is complete is not a server
  error: it is counted in `channel_router_http_client_disconnects`, not as a 500.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from engine.model import Policy
from engine.types import Decision
from server.api.problems import CLIENT_GONE
from server.config import MULTIPROCESS_ENV
from server.errors import ClientDisconnected

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # what a scrape gets
# What to give Litestar, which appends "; charset=utf-8" to every text/* type itself.
MEDIA_TYPE = CONTENT_TYPE.removesuffix("; charset=utf-8")
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class _RequestTally:
    """One (method, route, status): its bound children, and what is not yet added to them."""

    __slots__ = ("buckets", "count", "counter", "histogram", "seconds")

    def __init__(self, counter: Any, histogram: Any) -> None:
        self.counter = counter
        self.histogram = histogram  # None for the disconnects: no answer, no latency
        self.count = 0
        self.seconds = 0.0
        self.buckets = [0] * (len(_BUCKETS) + 1)  # per bucket (not cumulative), +Inf last

    def flush(self) -> None:
        """Add the tallied requests to the prometheus-client children."""
        if self.count:
            self.counter.inc(self.count)
            self.count = 0
        histogram = self.histogram
        if histogram is not None and any(self.buckets):
            # What Histogram.observe does per observation, once for all of them.
            histogram._sum.inc(self.seconds)
            for i, n in enumerate(self.buckets):
                if n:
                    histogram._buckets[i].inc(n)
            self.seconds = 0.0
            self.buckets = [0] * len(self.buckets)


def _can_tally(histogram: Any) -> bool:
    """Whether a histogram child has the parts `_RequestTally.flush` adds to (the
    prometheus-client of this environment; otherwise every request is observed)."""
    upper = getattr(histogram, "_upper_bounds", None)
    return (
        upper == [*_BUCKETS, float("inf")]
        and hasattr(histogram, "_sum")
        and len(getattr(histogram, "_buckets", ())) == len(upper)
    )


class Metrics:
    """The counters and histograms the service exports on /metrics."""

    def __init__(self, multiprocess_dir: str | None = None) -> None:
        self.multiprocess_dir = multiprocess_dir
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "channel_router_http_requests",
            "HTTP requests by method, route template and status.",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "channel_router_http_request_duration_seconds",
            "HTTP request latency by method and route template.",
            ("method", "route"),
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.disconnects = Counter(
            "channel_router_http_client_disconnects",
            "Requests whose client went away before the body was complete (not errors).",
            ("method", "route"),
            registry=self.registry,
        )
        self.decisions = Counter(
            "channel_router_decisions",
            "Decisions by policy, version and rule.",
            ("policy", "version", "rule"),
            registry=self.registry,
        )
        self._request_children: dict[tuple[str, str, int], _RequestTally] = {}
        # One process: tally requests and add them up when rendering (see the module doc).
        self._tally = multiprocess_dir is None
        self._decision_children: dict[tuple[str, str, str], Any] = {}
        self._collectors: list[Any] = []  # custom ones: they read their own state
        self.reloads = Counter(
            "channel_router_policy_reloads",
            "Policy reload attempts by result.",
            ("result",),
            registry=self.registry,
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one HTTP request and its latency (label children cached: hot path)."""
        tally = self._request_children.get((method, route, status))
        if tally is None:
            tally = self._bind_request(method, route, status)
        if self._tally:
            tally.count += 1
            if tally.histogram is not None:
                tally.seconds += seconds
                tally.buckets[bisect.bisect_left(_BUCKETS, seconds)] += 1
            return
        tally.counter.inc()
        if tally.histogram is not None:
            tally.histogram.observe(seconds)

    def _bind_request(self, method: str, route: str, status: int) -> _RequestTally:
        if status == CLIENT_GONE:  # no answer went out: no latency either
            tally = _RequestTally(self.disconnects.labels(method, route), None)
        else:
            tally = _RequestTally(
                self.requests.labels(method, route, str(status)), self.latency.labels(method, route)
            )
            if not _can_tally(tally.histogram):
                self._tally = False
        self._request_children[(method, route, status)] = tally
        return tally

    def flush(self) -> None:
        """Add the tallied requests to the exported metrics (render does it first)."""
        for tally in self._request_children.values():
            tally.flush()

    def count_decision(self, decision: Decision) -> None:
        """Add one decision to the by-rule counter (its child is bound once)."""
        key = (decision.policy.name, decision.policy.version, decision.rule_id)
        child = self._decision_children.get(key)
        if child is None:
            child = self._decision_children[key] = self.decisions.labels(*key)
        child.inc()

    def count_decisions(self, decisions: Sequence[Decision]) -> None:
        """Add decisions to the by-rule counter."""
        counts: dict[tuple[str, str, str], int] = {}
        for d in decisions:
            key = (d.policy.name, d.policy.version, d.rule_id)
            counts[key] = counts.get(key, 0) + 1
        for key, n in counts.items():
            child = self._decision_children.get(key)
            if child is None:
                child = self._decision_children[key] = self.decisions.labels(*key)
            child.inc(n)

    def prebind_rules(self, policies: Iterable[Policy]) -> None:
        """Create the by-rule counter's child of every loaded rule, at 0 if new.

        Rules that never fire then show in /metrics as 0 (not as absent), and
        counting a decision never builds a label set on the hot path.
        """
        for policy in policies:
            for rule in policy.rules:
                key = (policy.name, policy.version, rule.id)
                if key not in self._decision_children:
                    self._decision_children[key] = self.decisions.labels(*key)

    def register(self, collector: Any) -> None:
        """Add a custom collector (shown as it is, also in multiprocess mode)."""
        self.registry.register(collector)
        self._collectors.append(collector)

    def render(self) -> bytes:
        """The Prometheus text exposition (every worker's samples in multiprocess mode)."""
        self.flush()
        if self.multiprocess_dir:
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=self.multiprocess_dir)
            for collector in self._collectors:
                registry.register(collector)
            return generate_latest(registry)
        return generate_latest(self.registry)


@contextlib.contextmanager
def shared_between_workers(workers: int) -> Iterator[None]:
    """Turn on prometheus-client's multiprocess mode for `workers` > 1 processes.

    Sets PROMETHEUS_MULTIPROC_DIR (to a fresh folder, removed afterwards) before
    the workers start, unless it is set already (then that folder is used and
    kept: it must be emptied between runs, as prometheus-client documents).
    """
    if workers <= 1 or os.environ.get(MULTIPROCESS_ENV):
        yield
        return
    folder = tempfile.mkdtemp(prefix="channel-router-metrics-")
    os.environ[MULTIPROCESS_ENV] = folder
    try:
        yield
    finally:
        os.environ.pop(MULTIPROCESS_ENV, None)
        shutil.rmtree(folder, ignore_errors=True)


def metrics_middleware(metrics: Metrics) -> type:
    """An ASGI middleware factory recording every HTTP request in `metrics`."""

    class _MetricsMiddleware:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await self.app(scope, receive, send)
                return
            start = time.perf_counter()
            status = 500
            body_done = False

            async def receive_wrapper() -> ReceiveMessage:
                nonlocal body_done
                message = await receive()
                if message["type"] == "http.request":
                    body_done = not message.get("more_body", False)
                elif message["type"] == "http.disconnect" and not body_done:
                    raise ClientDisconnected  # answered 499 by server.api.problems
                return message

            async def send_wrapper(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    # Time spent in the app before the first byte: shows server
                    # time apart from the network (used by bench/http.py).
                    elapsed_ms = (time.perf_counter() - start) * 1000
                    timing = (b"server-timing", b"app;dur=%.3f" % elapsed_ms)
                    headers: Any = message.get("headers", ())
                    started: Any = {**message, "headers": [*headers, timing]}
                    message = started
                await send(message)

            try:
                await self.app(scope, receive_wrapper, send_wrapper)
            finally:
                metrics.observe_request(
                    str(scope.get("method", "")),
                    scope.get("path_template") or "unmatched",
                    status,
                    time.perf_counter() - start,
                )

    return _MetricsMiddleware
