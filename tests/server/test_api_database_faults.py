"""A locked or read-only database: writes answer 503 with Retry-After, /ready says so,
and connecting an account never spends its single-use code on a failed write.

Locks are real: another connection holds SQLite's write lock, or PostgreSQL table
locks. Read-only is real: the SQLite file is made immutable (or read-only for a
non-root user), PostgreSQL sessions are read-only.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from server.config import ServiceConfig
from server.db.connection import sqlite_path
from tests.server.helpers import Api, connector_env, serving_api

LOCK_TIMEOUT = 0.3


@contextlib.contextmanager
def write_locked(database_url: str) -> Iterator[None]:
    """Another client holds the write lock of the tables the API writes."""
    if database_url.startswith("sqlite"):
        holder = sqlite3.connect(sqlite_path(database_url), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    locked, release = threading.Event(), threading.Event()
    failure: list[BaseException] = []

    async def hold() -> None:
        import asyncpg

        conn = await asyncpg.connect(database_url)
        try:
            async with conn.transaction():
                await conn.execute(
                    "LOCK TABLE merchant, channel_credential, pending_connection IN EXCLUSIVE MODE"
                )
                locked.set()
                await asyncio.to_thread(release.wait, 30)
        finally:
            await conn.close()

    def thread() -> None:
        try:
            asyncio.run(hold())
        except BaseException as exc:
            failure.append(exc)
            locked.set()

    holder_thread = threading.Thread(target=thread, daemon=True)
    holder_thread.start()
    assert locked.wait(10) and not failure, failure
    try:
        yield
    finally:
        release.set()
        holder_thread.join(10)


@contextlib.contextmanager
def read_only(database_url: str) -> Iterator[str]:
    """The URL under which the database refuses every write."""
    if not database_url.startswith("sqlite"):
        yield (
            database_url
            + ("&" if "?" in database_url else "?")
            + "default_transaction_read_only=on"
        )
        return
    path = sqlite_path(database_url)
    if os.geteuid() != 0:
        path.chmod(0o444)
        undo = ["chmod", "644", str(path)]
    else:  # root ignores file modes; an immutable file is read-only even for root
        if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
            pytest.skip("cannot make the SQLite file read-only here (chattr +i refused)")
        undo = ["chattr", "-i", str(path)]
    try:
        yield database_url
    finally:
        subprocess.run(undo, check=True)


def _assert_503(response: Any) -> None:
    assert response.status_code == 503, response.text[:500]
    assert response.headers["content-type"].startswith("application/problem+json")
    assert int(response.headers["retry-after"]) >= 1


def _assert_writes_refused(api: Api, merchant: dict[str, str], sandbox_url: str, code: str) -> None:
    """Creating a merchant, saving settings and connecting an account all answer 503,
    and the authorization code never reaches the marketplace."""
    calls_before = _token_calls(sandbox_url)
    for method, path, body, headers in (
        ("POST", "/v1/merchants", {"merchant_id": "m2", "name": "M"}, api.admin),
        ("PUT", "/v1/merchants/acme/settings", {"external_channels_enabled": False}, merchant),
        (
            "PUT",
            "/v1/merchants/acme/channels/amazon/credentials",
            {"seller_id": "A1SELLER", "authorization_code": code},
            merchant,
        ),
    ):
        _assert_503(api.http.request(method, path, json=body, headers=headers))
    assert _token_calls(sandbox_url) == calls_before


def _token_calls(sandbox_url: str) -> int:
    requests = httpx.get(f"{sandbox_url}/_sandbox/requests").json()
    items = requests if isinstance(requests, list) else requests.get("requests", [])
    return sum(1 for r in items if "/auth/o2/token" in str(r.get("path", "")))


def test_a_locked_database_answers_503_and_spends_no_code(
    config: ServiceConfig, sandbox_url: str
) -> None:
    config = dataclasses.replace(
        config, env=connector_env(sandbox_url), db_lock_timeout_seconds=LOCK_TIMEOUT
    )
    with serving_api(config) as api:
        key = api.create_merchant("acme")
        merchant = {"Authorization": f"Bearer {key}"}
        grant = {"seller_id": "A1SELLER", "authorization_code": "good-code-1"}
        assert api.http.get("/ready").status_code == 200
        with write_locked(config.database_url):
            _assert_writes_refused(api, merchant, sandbox_url, grant["authorization_code"])
            ready = api.http.get("/ready")
            assert ready.status_code == 503
            assert ready.json()["checks"]["database"].startswith("not writable")
            # Reads still work.
            assert api.http.get("/v1/merchants/acme/settings", headers=merchant).status_code == 200
        # The code never reached Amazon, so it still works once the database does.
        r = api.http.put(
            "/v1/merchants/acme/channels/amazon/credentials", json=grant, headers=merchant
        )
        assert r.status_code == 204, r.text
        assert api.http.get("/ready").status_code == 200
        assert (
            api.http.post(
                "/v1/merchants", json={"merchant_id": "m2", "name": "M"}, headers=api.admin
            ).status_code
            == 201
        )


def test_a_read_only_database_answers_503_and_ready_says_so(
    config: ServiceConfig, sandbox_url: str
) -> None:
    config = dataclasses.replace(config, env=connector_env(sandbox_url))
    with serving_api(config) as api:  # migrate and create the merchant while writable
        key = api.create_merchant("acme")
    merchant = {"Authorization": f"Bearer {key}"}
    with (
        read_only(config.database_url) as url,
        serving_api(dataclasses.replace(config, database_url=url)) as api,
    ):
        _assert_writes_refused(api, merchant, sandbox_url, "good-code-2")
        ready = api.http.get("/ready")
        assert ready.status_code == 503, ready.text
        assert ready.json()["checks"]["database"] == "not writable (read-only)"
        settings = api.http.get("/v1/merchants/acme/settings", headers=merchant)
        assert settings.status_code == 200 and settings.json()["external_channels_enabled"] is True
