"""`channel-router worker --check`: 0 while a worker of this deployment reports, 1 otherwise."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.execution.conftest import REPO, Deployment

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _check(env: dict[str, str]) -> int:
    done = subprocess.run(
        [sys.executable, "-m", "server.cli", "worker", "--check"],
        env=env, cwd=REPO, capture_output=True, timeout=60,
    )  # fmt: skip
    return done.returncode


def test_the_health_check_sees_a_running_worker_of_its_own_deployment(
    deployment: Deployment,
) -> None:
    assert _check(deployment.env) == 1  # none yet
    deployment.start_worker()
    deployment.wait_ready()
    deadline = time.monotonic() + 30
    while _check(deployment.env) != 0:  # the first health record follows the start-up
        assert time.monotonic() < deadline, deployment.worker_log()
    other = {**deployment.env, "CHANNEL_ROUTER_REDIS_PREFIX": deployment.redis_prefix + "-x"}
    assert _check(other) == 1
