"""Fixtures for the console: the service (with its console) and the marketplace sandbox it
connects to, both served over loopback HTTP, and a cookie-keeping client that logs in and
sends each form with the CSRF token of the page it came from.

`site` is per module and backend (SQLite and PostgreSQL); each test makes its own merchants.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import re
import secrets
import shutil
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from sandbox.app import create_app as create_sandbox
from sandbox.state import SandboxState
from server.app import create_app
from server.config import REPO_POLICY_DIR, ServiceConfig
from server.console.config import sandbox_auth_env
from server.processes.redis_private import free_port
from server.processes.uvicorn_thread import UvicornThread
from tests.server.conftest import (  # noqa: F401  (fixtures used by this folder's tests)
    _pg_execute,
    _pg_url,
    database_url,
    postgres_url,
    with_search_path,
)
from tests.server.helpers import connector_env

AMAZON_APP_ID = "amzn1.sellerapps.app.console-test"
SHOPIFY_CLIENT_ID = "console-test-shopify"
SHOPIFY_SECRET = "console-test-shopify-secret"
T = TypeVar("T")
_CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')


def console_env(sandbox_url: str) -> dict[str, str]:
    """Connectors and consent pages pointed at the sandbox, with app ids it accepts."""
    return {
        **connector_env(sandbox_url),
        **sandbox_auth_env(sandbox_url),
        "CHANNEL_ROUTER_AMAZON_APPLICATION_ID": AMAZON_APP_ID,
        "CHANNEL_ROUTER_SHOPIFY_CLIENT_ID": SHOPIFY_CLIENT_ID,
        "CHANNEL_ROUTER_SHOPIFY_CLIENT_SECRET": SHOPIFY_SECRET,
    }


@dataclass
class Site:
    """The running service and sandbox, and the API as an admin sees it."""

    url: str
    sandbox_url: str
    sandbox: SandboxState
    config: ServiceConfig
    app: Any
    api: httpx.Client

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.admin_token}"}

    def create_merchant(self, merchant_id: str | None = None, **settings: Any) -> tuple[str, str]:
        """A new merchant (unique id unless given); returns (merchant_id, api_key)."""
        merchant_id = merchant_id or f"m-{secrets.token_hex(4)}"
        body: dict[str, Any] = {"merchant_id": merchant_id, "name": f"Shop {merchant_id}"}
        if settings:
            body["settings"] = settings
        response = self.api.post("/v1/merchants", json=body, headers=self.admin)
        assert response.status_code == 201, response.text
        return merchant_id, response.json()["api_key"]

    def settings(self, merchant_id: str) -> dict[str, Any]:
        response = self.api.get(f"/v1/merchants/{merchant_id}/settings", headers=self.admin)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def connection(self, merchant_id: str, channel: str) -> dict[str, Any]:
        path = f"/v1/merchants/{merchant_id}/channels/{channel}/credentials"
        response = self.api.get(path, headers=self.admin)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result


@contextlib.contextmanager
def running_site(db_url: str, policies: Path, redis_url: str) -> Iterator[Site]:
    """Sandbox and service on free loopback ports, stopped afterwards."""
    state = SandboxState()
    state.shopify.app_secret = SHOPIFY_SECRET
    sandbox = UvicornThread(create_sandbox(state), port=free_port()).start()
    config = ServiceConfig(
        database_url=db_url,
        policy_dir=policies,
        redis_url=redis_url,
        admin_token="admin-" + secrets.token_urlsafe(24),
        secret_key=secrets.token_urlsafe(32),
        # Its own job queue: a worker started by one module never takes another's jobs.
        redis_prefix=f"test-console-{secrets.token_hex(4)}",
        env=console_env(sandbox.url),
    )
    app = create_app(config)
    server = UvicornThread(app, port=free_port()).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as api:
            yield Site(server.url, sandbox.url, state, config, app, api)
    finally:
        server.stop()
        sandbox.stop()


@contextlib.contextmanager
def module_database(kind: str, tmp: Path, postgres: str | None) -> Iterator[str]:
    """A database for a whole module: a SQLite file, or a fresh PostgreSQL schema."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp}/console.sqlite3"
        return
    assert postgres is not None
    schema = f"c_{secrets.token_hex(6)}"
    run_apart(_pg_execute(postgres, f'CREATE SCHEMA "{schema}"'))
    try:
        yield with_search_path(postgres, schema)
    finally:
        run_apart(_pg_execute(postgres, f'DROP SCHEMA "{schema}" CASCADE'))


def run_apart(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` on its own loop in a thread: the browser tests' Playwright keeps an
    event loop running in this thread, where asyncio.run would refuse."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result(timeout=60)


def _postgres_or_skip() -> str:
    """tests.server's `postgres_url`, checked without asyncio.run in this thread."""
    url = _pg_url()
    try:
        run_apart(_pg_execute(url, "SELECT 1"))
    except Exception as exc:
        reason = f"PostgreSQL at {urlsplit(url).netloc} unavailable: {type(exc).__name__}"
        if os.environ.get("CHANNEL_ROUTER_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason + " (CHANNEL_ROUTER_REQUIRE_POSTGRES=1)")
        pytest.skip(reason)
    return url


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> Iterator[Site]:
    """One service per test module and backend (starting one costs a second or two); tests
    stay independent by each creating merchants of their own."""
    postgres = _postgres_or_skip() if request.param == "postgres" else None
    with site_on(request.param, tmp_path_factory, redis_url, postgres) as running:
        yield running


@contextlib.contextmanager
def site_on(
    kind: str, tmp_path_factory: pytest.TempPathFactory, redis_url: str, postgres: str | None
) -> Iterator[Site]:
    """A running site on a database of `kind`, with its own copy of the policies."""
    tmp = tmp_path_factory.mktemp("console")
    policies = tmp / "policies"
    shutil.copytree(REPO_POLICY_DIR, policies)
    with (
        module_database(kind, tmp, postgres) as url,
        running_site(url, policies, redis_url) as running,
    ):
        yield running


class ConsoleClient:
    """A browser stand-in over httpx: keeps cookies, finds each page's CSRF token."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=30)
        self.csrf = ""
        self.last: httpx.Response | None = None

    def get(self, path: str, **params: str) -> httpx.Response:
        response = self.http.get(path, params=params or None)
        self._remember(response)
        return response

    def post(self, path: str, data: dict[str, str] | None = None) -> httpx.Response:
        response = self.http.post(path, data={"_csrf_token": self.csrf, **(data or {})})
        self._remember(response)
        return response

    def follow(self, response: httpx.Response) -> httpx.Response:
        """GET the Location of a redirect (same site or the sandbox)."""
        location = response.headers["location"]
        if location.startswith("/"):
            return self.get(location)
        answer = self.http.get(location)
        self._remember(answer)
        return answer

    def _remember(self, response: httpx.Response) -> None:
        self.last = response
        found = _CSRF.search(response.text)
        if found:
            self.csrf = found.group(1)

    def login(self, key: str) -> httpx.Response:
        self.get("/console/login")
        response = self.post("/console/login", {"api_key": key})
        assert response.status_code == 303, response.text
        return self.follow(response)

    def close(self) -> None:
        self.http.close()


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


@pytest.fixture
def client(site: Site) -> Iterator[ConsoleClient]:
    console = ConsoleClient(site.url)
    try:
        yield console
    finally:
        console.close()
