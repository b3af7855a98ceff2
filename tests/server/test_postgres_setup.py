"""The test fixtures explain PostgreSQL problems themselves: a missing database is
created, an impossible one names the command to run, and skips are summed up."""

from __future__ import annotations

import asyncio
import secrets
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from tests.conftest import skip_summary
from tests.server.postgres_db import ensure_database


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def _exists(url: str, name: str) -> bool:
    conn = await asyncpg.connect(_with_database(url, "postgres"), timeout=5)
    try:
        return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await conn.close()


async def _drop(url: str, name: str) -> None:
    conn = await asyncpg.connect(_with_database(url, "postgres"), timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
    finally:
        await conn.close()


@pytest.mark.postgres
def test_a_missing_database_is_created(postgres_url: str) -> None:
    name = f"cr_fixture_{secrets.token_hex(4)}"
    url = _with_database(postgres_url, name)
    assert not asyncio.run(_exists(postgres_url, name))
    try:
        asyncio.run(ensure_database(url))
        assert asyncio.run(_exists(postgres_url, name))
        asyncio.run(ensure_database(url))  # there already: nothing to do
    finally:
        asyncio.run(_drop(postgres_url, name))


@pytest.mark.postgres
def test_a_database_that_cannot_be_created_names_the_command(postgres_url: str) -> None:
    url = _with_database(postgres_url, 'bad"name')  # a quote breaks CREATE DATABASE "..."
    with pytest.raises(RuntimeError) as caught:
        asyncio.run(ensure_database(url))
    parts = urlsplit(postgres_url)
    assert str(caught.value).endswith(f'-p {parts.port or 5432} -U postgres bad"name')
    assert "createdb -h " in str(caught.value)


def _skipped(reason: str, path: str, line: int) -> pytest.TestReport:
    return pytest.TestReport(
        nodeid=f"{path}::t{line}",
        location=(path, line, "t"),
        keywords={},
        outcome="skipped",
        longrepr=(path, line, f"Skipped: {reason}"),
        when="setup",
    )


def test_skips_for_one_reason_are_one_line() -> None:
    reports = [_skipped("no PostgreSQL", "tests/a.py", i) for i in range(40)]
    reports.append(_skipped("only on Windows", "tests/b.py", 7))
    assert skip_summary(reports) == [
        "SKIPPED 40 tests: no PostgreSQL",
        "SKIPPED 1 test: only on Windows (tests/b.py:7)",
    ]
