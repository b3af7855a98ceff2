"""Prometheus metrics of one app: request counts and latencies, decisions by rule.

A registry per app (not prometheus_client's global one), so several apps in
one process, as in the tests, keep separate counts. The middleware labels
requests by route template, never by raw path, so label sets stay bounded.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from engine.model import Policy
from engine.types import Decision

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class Metrics:
    """The counters and histograms the service exports on /metrics."""

    def __init__(self) -> None:
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
        self.decisions = Counter(
            "channel_router_decisions",
            "Decisions by policy, version and rule.",
            ("policy", "version", "rule"),
            registry=self.registry,
        )
        self._request_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._decision_children: dict[tuple[str, str, str], Any] = {}
        self.reloads = Counter(
            "channel_router_policy_reloads",
            "Policy reload attempts by result.",
            ("result",),
            registry=self.registry,
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one HTTP request and its latency (label children cached: hot path)."""
        key = (method, route, status)
        children = self._request_children.get(key)
        if children is None:
            children = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

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

    def render(self) -> bytes:
        """The Prometheus text exposition."""
        return generate_latest(self.registry)


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

            async def send_wrapper(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    # Time spent in the app before the first byte: shows server
                    # time apart from the network (used by bench/http.py).
                    elapsed_ms = (time.perf_counter() - start) * 1000
                    headers = [
                        *message.get("headers", ()),
                        (b"server-timing", b"app;dur=%.3f" % elapsed_ms),
                    ]
                    message = {**message, "headers": headers}
                await send(message)

            try:
                await self.app(scope, receive, send_wrapper)
            finally:
                metrics.observe_request(
                    str(scope.get("method", "")),
                    scope.get("path_template") or "unmatched",
                    status,
                    time.perf_counter() - start,
                )

    return _MetricsMiddleware
