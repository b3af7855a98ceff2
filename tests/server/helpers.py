"""Test helpers: run an app under uvicorn on loopback, and sample requests."""

from __future__ import annotations

import copy
import json
import secrets
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from litestar import Litestar

from server.config import ServiceConfig
from server.processes.redis_private import free_port
from server.processes.uvicorn_thread import UvicornThread


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Terminate a child process and wait for it (killed after 15 s)."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def live_server(app: Litestar) -> UvicornThread:
    """The app served over real HTTP on a free loopback port."""
    return UvicornThread(app, port=free_port()).start()


@contextmanager
def serving_api(config: ServiceConfig, timeout: float = 30) -> Iterator[Api]:
    """An app for `config` on loopback with a client, as an Api; stopped afterwards."""
    from server.app import create_app

    app = create_app(config)
    server = live_server(app)
    try:
        with httpx.Client(base_url=server.url, timeout=timeout) as http:
            yield Api(url=server.url, config=config, http=http, app=app)
    finally:
        server.stop()


@contextmanager
def serving(config: ServiceConfig) -> Iterator[httpx.Client]:
    """An app for `config` on loopback, with a client for it; stopped afterwards."""
    with serving_api(config) as api:
        yield api.http


def poll(
    url: str,
    process: subprocess.Popen[Any] | None = None,
    *,
    status: int | None = 200,
    timeout: float = 60.0,
) -> httpx.Response:
    """GET `url` until it answers (with `status`, unless None); fails at the deadline, or
    as soon as `process` (the server being waited for) has exited."""
    deadline = time.monotonic() + timeout
    last: httpx.Response | None = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the server exited ({process.returncode}) before {url} answered")
        try:
            last = httpx.get(url, timeout=2)
            if status is None or last.status_code == status:
                return last
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer {status} in {timeout:g} s (last: {last})")


def connector_env(base_url: str) -> dict[str, str]:
    """Connector settings sending every marketplace call to `base_url` (on loopback)."""
    return {
        "CHANNEL_ROUTER_EBAY_BASE_URL": base_url,
        "CHANNEL_ROUTER_AMAZON_BASE_URL": base_url,
        "CHANNEL_ROUTER_AMAZON_TOKEN_URL": base_url + "/auth/o2/token",
        "CHANNEL_ROUTER_SHOPIFY_BASE_URL": base_url,
        "CHANNEL_ROUTER_EBAY_CLIENT_ID": "ebay-client",
        "CHANNEL_ROUTER_EBAY_CLIENT_SECRET": "ebay-client-secret-value",
        "CHANNEL_ROUTER_AMAZON_CLIENT_ID": "amzn-client",
        "CHANNEL_ROUTER_AMAZON_CLIENT_SECRET": "amzn-client-secret-value",
        # Rate budgets of this test only (the test Redis is shared by every run).
        "CHANNEL_ROUTER_RATE_KEY_PREFIX": f"test-rate:{secrets.token_hex(8)}",
    }


# The API's sample request (docs/api.md), as shipped in examples/ (less the CLI-only "settings").
SAMPLE: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[2] / "examples" / "dead-stock.json").read_text()
)
del SAMPLE["settings"]


def decide_body(merchant_id: str = "acme", **product: Any) -> dict[str, Any]:
    """The API's sample request (docs/api.md), for `merchant_id`, with product fields replaced."""
    body = copy.deepcopy(SAMPLE)
    body["merchant_id"] = merchant_id
    body["product"].update(product)
    return body


@dataclass
class Api:
    """A running app and ways to call it."""

    url: str
    config: ServiceConfig
    http: httpx.Client
    app: object

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.admin_token}"}

    def create_merchant(self, merchant_id: str, **settings: object) -> str:
        """Create a merchant through the API; returns its API key."""
        body: dict[str, object] = {"merchant_id": merchant_id, "name": merchant_id.title()}
        if settings:
            body["settings"] = settings
        response = self.http.post("/v1/merchants", json=body, headers=self.admin)
        assert response.status_code == 201, response.text
        key: str = response.json()["api_key"]
        return key
