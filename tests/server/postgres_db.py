"""The test PostgreSQL: its database is created when the server has none of that name.

A server without the `test` database used to fail every PostgreSQL test with
InvalidCatalogNameError; now the database is created on the first connection
(through the server's `postgres` maintenance database), and when that is not
allowed the skip or failure says the one command that fixes it.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def where(url: str) -> str:
    """host:port of a URL, for messages (never the credentials)."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 5432}"


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/") or "postgres"


async def ensure_database(url: str) -> None:
    """Connect to `url`, creating its database first if the server lacks it.

    Raises with a message naming the fix when the server is unreachable or the
    database cannot be created.
    """
    import asyncpg

    try:
        conn = await asyncpg.connect(url, timeout=5)
    except asyncpg.InvalidCatalogNameError:
        await _create(url)
        conn = await asyncpg.connect(url, timeout=5)
    await conn.close()


async def _create(url: str) -> None:
    import asyncpg

    name = database_name(url)
    maintenance = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    try:
        conn = await asyncpg.connect(maintenance, timeout=5)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
    except asyncpg.DuplicateDatabaseError:
        return  # another test process created it first
    except Exception as exc:
        parts = urlsplit(url)
        raise RuntimeError(
            f"PostgreSQL at {where(url)} has no database {name!r} and it could not be created "
            f"({type(exc).__name__}); create it with: createdb -h {parts.hostname} "
            f"-p {parts.port or 5432} -U {parts.username or 'postgres'} {name}"
        ) from None
