"""Fixtures for connector tests: the real sandbox app served by uvicorn on a free loopback port.

- `sandbox`: the session's sandbox server, reset (POST /_sandbox/reset) before each test; has
  `.base_url`, `.state` (the live SandboxState) and `.inject(**fault)`.
- `api_config`: ApiConfig with every base URL pointed at the sandbox and tiny backoffs.
- `sleeps` / `api`: an ApiClient on a fresh httpx.AsyncClient whose `sleep` only records the waits.
- `inject(sandbox, **fault)`: install a fault (see sandbox.faults.FaultSpec); returns it as JSON.
- `tokens_for_an_hour(access, refresh)`: tokens our clock trusts, to test what the marketplace says.
"""

from __future__ import annotations

import random
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from connectors.base import TokenSet
from connectors.config import ApiConfig
from connectors.http import ApiClient
from sandbox.app import create_app
from sandbox.state import SandboxState
from server.processes.uvicorn_thread import UvicornThread

EBAY_CLIENT_ID = "sandbox-ebay-client-id"
EBAY_CLIENT_SECRET = "sandbox-ebay-client-secret"
AMAZON_CLIENT_ID = "amzn1.application-oa2-client.sandbox"
AMAZON_CLIENT_SECRET = "sandbox-amazon-client-secret"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Sandbox:
    """A running sandbox: where it is and what it holds."""

    base_url: str
    state: SandboxState

    def inject(self, **fault: Any) -> dict[str, Any]:
        """Install a fault through the control endpoint."""
        return inject(self, **fault)

    def control(self, method: str, path: str, json: Any = None) -> httpx.Response:
        """Call a /_sandbox/... endpoint synchronously."""
        return httpx.request(method, self.base_url + path, json=json, timeout=10)


def inject(sandbox: Sandbox, **fault: Any) -> dict[str, Any]:
    """POST /_sandbox/faults with `fault`; fails the test if the sandbox refuses it."""
    response = httpx.post(f"{sandbox.base_url}/_sandbox/faults", json=fault, timeout=10)
    assert response.status_code == 201, response.text
    installed: dict[str, Any] = response.json()
    return installed


def tokens_for_an_hour(access_token: str, refresh_token: str | None) -> TokenSet:
    """Tokens our clock deems good for an hour, so no refresh happens before the marketplace
    itself refuses them."""
    return TokenSet(
        access_token=access_token,
        expires_at=datetime.now(UTC) + timedelta(hours=1),
        refresh_token=refresh_token,
    )


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[Sandbox]:
    """One sandbox server for the whole session."""
    state = SandboxState()
    server = UvicornThread(create_app(state), port=free_port()).start()
    try:
        yield Sandbox(base_url=server.url, state=state)
    finally:
        server.stop()


@pytest.fixture
def sandbox(sandbox_server: Sandbox) -> Sandbox:
    """The session's sandbox, emptied for this test."""
    response = httpx.post(f"{sandbox_server.base_url}/_sandbox/reset", timeout=10)
    assert response.status_code == 204, response.text
    return sandbox_server


@pytest.fixture
def api_config(sandbox: Sandbox) -> ApiConfig:
    """Connector configuration pointing every API at the sandbox, with short timeouts."""
    return ApiConfig(
        ebay_base_url=sandbox.base_url,
        amazon_base_url=sandbox.base_url,
        amazon_token_url=sandbox.base_url + "/auth/o2/token",
        shopify_base_url=sandbox.base_url,
        ebay_client_id=EBAY_CLIENT_ID,
        ebay_client_secret=EBAY_CLIENT_SECRET,
        amazon_client_id=AMAZON_CLIENT_ID,
        amazon_client_secret=AMAZON_CLIENT_SECRET,
        timeout_seconds=2.0,
        max_attempts=4,
        backoff_base_seconds=0.05,
        backoff_max_seconds=0.4,
    )


@pytest.fixture
def sleeps() -> list[float]:
    """The waits the ApiClient asked for, in order."""
    return []


@pytest.fixture
async def api(api_config: ApiConfig, sleeps: list[float]) -> AsyncIterator[ApiClient]:
    """An ApiClient over a fresh httpx.AsyncClient; its sleep records instead of waiting."""

    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    async with httpx.AsyncClient() as client:
        yield ApiClient(client, api_config, sleep=record, rng=random.Random(1234))
