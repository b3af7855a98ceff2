"""A merchant's opt-out and a rotated API key take effect on every worker before the
change is answered (issue 8 item 5, issue 9 item 4), and key rotation's rules.

Two `channel-router serve` processes share one database and one Redis, as two
workers (or two hosts) of one deployment do; each test talks to each process
on its own port, so it knows which worker answers. Both warm their caches
first; the change goes to one, and the very next requests go to the other.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from server.config import REPO_POLICY_DIR
from server.processes.redis_private import free_port
from tests.server.helpers import Api, decide_body, stop_process


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


class Worker:
    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "server.cli", "serve", "--port", str(self.port)]
        self.process = subprocess.Popen(
            command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    def wait_ready(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    self.process.stderr.read().decode() if self.process.stderr else ""
                )
            try:
                if httpx.get(self.url + "/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError("worker not ready in time")

    def stop(self) -> None:
        stop_process(self.process)


@pytest.fixture
def workers(
    database_url: str, redis_url: str, tmp_path: Path
) -> Iterator[tuple[Worker, Worker, str]]:
    admin = "admin-token-for-two-workers"
    env = {
        **os.environ,
        "CHANNEL_ROUTER_DATABASE_URL": database_url,
        "CHANNEL_ROUTER_REDIS_URL": redis_url,
        "CHANNEL_ROUTER_ADMIN_TOKEN": admin,
        "CHANNEL_ROUTER_POLICY_DIR": str(REPO_POLICY_DIR),
        "CHANNEL_ROUTER_LOG_LEVEL": "warning",
    }
    first, second = Worker(env, tmp_path), Worker(env, tmp_path)  # one migrates, one waits
    try:
        deadline = time.monotonic() + 90
        first.wait_ready(deadline)
        second.wait_ready(deadline)
        yield first, second, admin
    finally:
        first.stop()
        second.stop()


def _external_units(client: httpx.Client, url: str, key: str, merchant: str = "acme") -> int:
    r = client.post(url + "/v1/decide", json=decide_body(merchant), headers=_bearer(key))
    assert r.status_code == 200, r.text
    return sum(c["allocated_units"] for c in r.json()["external_channels"])


def test_changes_are_in_force_on_every_worker_before_they_are_answered(
    workers: tuple[Worker, Worker, str],
) -> None:
    with httpx.Client(timeout=30) as client:
        opt_out_wins_at_once(client, *workers)
        rotated_key_stops_at_once(client, *workers)


def opt_out_wins_at_once(client: httpx.Client, a: Worker, b: Worker, admin: str) -> None:
    created = client.post(
        a.url + "/v1/merchants",
        json={
            "merchant_id": "acme",
            "name": "Acme",
            "settings": {"enabled_external_channels": ["ebay", "amazon"]},
        },
        headers=_bearer(admin),
    )
    assert created.status_code == 201, created.text
    key = created.json()["api_key"]
    for enabled in (False, True, False, True, False):
        for worker in (a, b):  # both workers have the current settings cached
            assert (_external_units(client, worker.url, key) > 0) is not enabled
        put = client.put(
            a.url + "/v1/merchants/acme/settings",
            json={"external_channels_enabled": enabled, "enabled_external_channels": ["ebay"]},
            headers=_bearer(key),
        )
        assert put.status_code == 200, put.text
        # The very next decisions, on the other worker first: the change is in force.
        for worker in (b, a, b):
            units = _external_units(client, worker.url, key)
            assert (units > 0) is enabled, f"worker {worker.port} routed {units} units"


def rotated_key_stops_at_once(client: httpx.Client, a: Worker, b: Worker, admin: str) -> None:
    created = client.post(
        a.url + "/v1/merchants", json={"merchant_id": "zeta", "name": "Zeta"},
        headers=_bearer(admin),
    )  # fmt: skip
    old = created.json()["api_key"]
    for worker in (a, b):  # both have the old key cached
        assert _external_units(client, worker.url, old, "zeta") == 0
    rotated = client.post(a.url + "/v1/merchants/zeta/api-key", headers=_bearer(old))
    assert rotated.status_code == 200, rotated.text
    assert rotated.headers["cache-control"] == "no-store"
    new = rotated.json()["api_key"]
    assert rotated.json()["merchant_id"] == "zeta" and new != old
    for worker in (b, a):
        body = decide_body("zeta")
        r = client.post(worker.url + "/v1/decide", json=body, headers=_bearer(old))
        assert r.status_code == 401, (worker.port, r.text)
        assert _external_units(client, worker.url, new, "zeta") == 0


def test_key_rotation_is_for_the_admin_or_that_merchant(api: Api) -> None:
    key = api.create_merchant("acme")
    other = api.create_merchant("zeta")
    assert api.http.post("/v1/merchants/acme/api-key").status_code == 401
    assert api.http.post("/v1/merchants/acme/api-key", headers=_bearer(other)).status_code == 403
    assert api.http.post("/v1/merchants/ghost/api-key", headers=api.admin).status_code == 404
    by_admin = api.http.post("/v1/merchants/acme/api-key", headers=api.admin)
    assert by_admin.status_code == 200
    new = by_admin.json()["api_key"]
    assert new.startswith("cr_") and new != key
    # The old key is refused, the new one works, and the other merchant is untouched.
    assert api.http.get("/v1/merchants/acme/settings", headers=_bearer(key)).status_code == 401
    assert api.http.get("/v1/merchants/acme/settings", headers=_bearer(new)).status_code == 200
    assert api.http.get("/v1/merchants/zeta/settings", headers=_bearer(other)).status_code == 200
    # The new key is stored only as its hash, and appears in no later answer.
    settings = api.http.get("/v1/merchants/acme/settings", headers=_bearer(new))
    assert new not in settings.text
