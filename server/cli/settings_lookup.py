"""Merchant settings for the CLI (`policy explain`), read from the configured database.

"Configured" means CHANNEL_ROUTER_DATABASE_URL is set, or the default SQLite
file (in the data directory) exists; otherwise there is nothing to read and
the policy defaults apply.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping

from engine.types import Settings
from server.config import DEFAULT_DATABASE_URL, data_dir_from_env, resolve_database_url
from server.db.connection import make_engine, sqlite_path
from server.db.merchants import MerchantStore
from server.db.tables import build_tables


class SettingsUnavailable(RuntimeError):
    """The configured database could not be read."""


def configured_url(env: Mapping[str, str]) -> str | None:
    """CHANNEL_ROUTER_DATABASE_URL (SQLite paths resolved against the data directory), else
    the default SQLite file in the data directory if it exists, else None."""
    configured = env.get("CHANNEL_ROUTER_DATABASE_URL") or ""
    url = resolve_database_url(configured, data_dir_from_env(env))
    if configured in ("", DEFAULT_DATABASE_URL) and not sqlite_path(url).exists():
        return None  # the default database was never made: nothing stored yet
    return url


def stored_settings(merchant_id: str, env: Mapping[str, str] | None = None) -> Settings | None:
    """The merchant's stored settings, or None when no database is configured or it has none."""
    url = configured_url(os.environ if env is None else env)
    if url is None:
        return None
    try:
        return asyncio.run(_read(url, merchant_id))
    except Exception as exc:  # any driver error: say which database, never its credentials
        raise SettingsUnavailable(
            f"could not read merchant settings from the configured database "
            f"({url.split('://', 1)[0]}): {type(exc).__name__}"
        ) from None


async def _read(url: str, merchant_id: str) -> Settings | None:
    store = MerchantStore(build_tables(make_engine(url)), settings_cache_seconds=0)
    return await store.find_settings(merchant_id)
