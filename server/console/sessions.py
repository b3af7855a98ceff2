"""Console logins: Litestar's server-side sessions kept in the service database.

Why server-side: logging out (or an expired login) must end the session for
every copy of the cookie, and the OAuth `state` a session holds must be
single-use; a cookie that carries its own data can promise neither. The
database (SQLite or PostgreSQL) is there in every deployment, Redis is not.
Rows are keyed by the SHA-256 of the session id, so a database dump holds no
usable cookie. Empty sessions (anonymous visits) are never written.
The session id is rotated at login, so an id planted before login is worth nothing.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.middleware.session.server_side import (
    ServerSideSessionBackend,
    ServerSideSessionConfig,
)
from litestar.stores.base import Store

if TYPE_CHECKING:
    from server.services import Services

COOKIE = "cr_console_session"
STORE_NAME = "console-sessions"
_NEW_ID = "console_new_session_id"
_EMPTY = (b"{}", "{}")


def hashed(value: str) -> str:
    """The key a session id or an OAuth state is stored under."""
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()


def _seconds(delta: int | timedelta | None) -> int | None:
    if delta is None:
        return None
    return int(delta.total_seconds()) if isinstance(delta, timedelta) else int(delta)


class DatabaseSessionStore(Store):
    """A Litestar Store over the `console_session` table."""

    def __init__(self, services: Services) -> None:
        self._services = services

    @property
    def _table(self) -> Any:
        return self._services.tables.console_session

    async def set(
        self, key: str, value: str | bytes, expires_in: int | timedelta | None = None
    ) -> None:
        if value in _EMPTY:
            await self.delete(key)
            return
        data = value.decode() if isinstance(value, bytes) else value
        seconds = _seconds(expires_in) or 3600
        table = self._table
        row = table(
            session_key=hashed(key),
            data=data,
            expires_at=datetime.now(UTC) + timedelta(seconds=seconds),
        )
        await (
            table.insert(row)
            .on_conflict(
                target=table.session_key,
                action="DO UPDATE",
                values=[table.data, table.expires_at],
            )
            .run()
        )

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        table = self._table
        now = datetime.now(UTC)
        rows = await (
            table.select(table.data)
            .where((table.session_key == hashed(key)) & (table.expires_at > now))
            .run()
        )
        if not rows:
            return None
        renew = _seconds(renew_for)
        if renew:
            await (
                table.update({table.expires_at: now + timedelta(seconds=renew)})
                .where(table.session_key == hashed(key))
                .run()
            )
        data: str = rows[0]["data"]
        return data.encode()

    async def delete(self, key: str) -> None:
        table = self._table
        await table.delete().where(table.session_key == hashed(key)).run()

    async def delete_all(self) -> None:
        await self._table.delete(force=True).run()

    async def exists(self, key: str) -> bool:
        return await self.get(key) is not None

    async def expires_in(self, key: str) -> int | None:
        table = self._table
        rows = await table.select(table.expires_at).where(table.session_key == hashed(key)).run()
        if not rows:
            return None
        left = int((rows[0]["expires_at"] - datetime.now(UTC)).total_seconds())
        return max(left, 0) or None

    async def delete_expired(self) -> None:
        """Drop sessions past their expiry (called at each login)."""
        table = self._table
        await table.delete().where(table.expires_at <= datetime.now(UTC)).run()


def _scope(connection: ASGIConnection[Any, Any, Any, Any]) -> dict[str, Any]:
    """The ASGI scope as a plain dict (it carries the rotated id between middleware and
    handler)."""
    return cast(dict[str, Any], connection.scope)


class _RotatingBackend(ServerSideSessionBackend):
    """The server-side backend, but a login can give the session a fresh id."""

    def get_session_id(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        fresh = _scope(connection).get(_NEW_ID)
        if isinstance(fresh, str):
            return fresh
        return super().get_session_id(connection)


class ConsoleSessionConfig(ServerSideSessionConfig):
    _backend_class = _RotatingBackend


def session_config(*, max_age_seconds: int, secure: bool) -> ConsoleSessionConfig:
    """httpOnly, SameSite=Lax (the OAuth callback is a top-level GET from the marketplace),
    scoped to /console, Secure when the console is served over HTTPS."""
    return ConsoleSessionConfig(
        key=COOKIE,
        path="/console",
        httponly=True,
        samesite="lax",
        secure=secure,
        max_age=max_age_seconds,
        store=STORE_NAME,
        scopes={ScopeType.HTTP},
    )


async def begin(
    request: Request[Any, Any, Any], store: DatabaseSessionStore, data: dict[str, Any]
) -> None:
    """Log in: forget the session the browser had, continue under a new random id."""
    old = request.cookies.get(COOKIE)
    if old:
        await store.delete(old)
    await store.delete_expired()
    _scope(request)[_NEW_ID] = secrets.token_hex(32)
    request.set_session(data)


def session_key(request: Request[Any, Any, Any]) -> str:
    """The stored key of this request's session (what OAuth states are bound to)."""
    fresh = _scope(request).get(_NEW_ID)
    session_id = fresh if isinstance(fresh, str) else request.cookies.get(COOKIE, "")
    return hashed(session_id)
