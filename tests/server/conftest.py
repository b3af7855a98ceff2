"""Fixtures for the API server tests: a real database per test (SQLite and
PostgreSQL), a copy of the policy folder, and the app served over loopback HTTP.

PostgreSQL comes from CHANNEL_ROUTER_TEST_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/test); its database is created when the
server has none of that name; each test gets a fresh schema, dropped
afterwards. When the server does not answer, the PostgreSQL variants skip
(summed up in one line at the end), unless CHANNEL_ROUTER_REQUIRE_POSTGRES=1,
in which case they fail.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

import pytest

from server.config import REPO_POLICY_DIR, ServiceConfig
from server.processes.redis_private import free_port
from server.processes.uvicorn_thread import UvicornThread
from tests.server.helpers import Api, connector_env, serving_api
from tests.server.postgres_db import ensure_database, where

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


def _pg_url() -> str:
    return os.environ.get("CHANNEL_ROUTER_TEST_POSTGRES_URL", DEFAULT_PG)


async def _pg_execute(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A PostgreSQL that answers, or a skip (a failure when it is required)."""
    url = _pg_url()
    try:
        asyncio.run(ensure_database(url))
    except RuntimeError as exc:  # no database, and it could not be created
        reason = str(exc)
    except Exception as exc:
        reason = (
            f"PostgreSQL at {where(url)} unavailable: {type(exc).__name__} "
            "(start one, or set CHANNEL_ROUTER_TEST_POSTGRES_URL)"
        )
    else:
        return url
    if os.environ.get("CHANNEL_ROUTER_REQUIRE_POSTGRES") == "1":
        pytest.fail(reason + " (CHANNEL_ROUTER_REQUIRE_POSTGRES=1)")
    pytest.skip(reason)


def with_search_path(url: str, schema: str) -> str:
    """`url` whose connections use `schema` (asyncpg passes unknown query keys as settings)."""
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode({"search_path": schema})) if q)
    return urlunsplit(parts._replace(query=query))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/db/channel-router.sqlite3"
        return
    base: str = request.getfixturevalue("postgres_url")
    schema = f"t_{secrets.token_hex(6)}"
    asyncio.run(_pg_execute(base, f'CREATE SCHEMA "{schema}"'))
    try:
        yield with_search_path(base, schema)
    finally:
        asyncio.run(_pg_execute(base, f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    """A private copy of the shipped policies, safe to break."""
    target = tmp_path / "policies"
    shutil.copytree(REPO_POLICY_DIR, target)
    return target


@pytest.fixture
def config(database_url: str, policy_dir: Path, redis_url: str) -> ServiceConfig:
    """Service settings; marketplace calls go to a closed loopback port, never outside."""
    return ServiceConfig(
        database_url=database_url,
        policy_dir=policy_dir,
        redis_url=redis_url,
        admin_token="admin-" + secrets.token_urlsafe(24),
        secret_key=secrets.token_urlsafe(32),
        env=connector_env(f"http://127.0.0.1:{free_port()}"),
        # Keys in the shared Redis (rate budgets) are this test's own.
        redis_prefix=f"test-{secrets.token_hex(6)}",
    )


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    """The marketplace sandbox (issue 4) under uvicorn on loopback."""
    from sandbox.app import create_app as create_sandbox

    server = UvicornThread(create_sandbox(), port=free_port()).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def api(config: ServiceConfig) -> Iterator[Api]:
    """The app for `config` under uvicorn on loopback, with an httpx client."""
    with serving_api(config) as running:
        yield running
