"""The credentials key's fingerprint: recorded on first use, a different key refused, on both
backends; and the commands that start the service refuse it with a message saying what to do."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from server.app import create_app
from server.db.connection import make_engine, migrate
from server.db.credentials import CredentialStore
from server.db.secrets_box import SecretBox
from server.db.service_state import (
    KEY_FINGERPRINT,
    CredentialsKeyMismatch,
    check_credentials_key,
    forget_credentials,
)
from server.db.tables import Tables, build_tables

KEY_A = "a" * 32
KEY_B = "b" * 32


def tables_for(database_url: str) -> Tables:
    engine = make_engine(database_url)
    tables = build_tables(engine)
    asyncio.run(migrate(engine, tables))
    return tables


async def fingerprints(tables: Tables) -> list[str]:
    state = tables.service_state
    rows = await state.select(state.value).where(state.name == KEY_FINGERPRINT).run()
    return [row["value"] for row in rows]


def test_first_key_is_recorded_and_the_same_key_accepted_again(database_url: str) -> None:
    tables = tables_for(database_url)
    box = SecretBox(KEY_A)

    async def run() -> list[str]:
        await check_credentials_key(tables, box)
        await check_credentials_key(tables, SecretBox(KEY_A))
        return await fingerprints(tables)

    recorded = asyncio.run(run())
    assert recorded == [box.fingerprint]
    assert KEY_A not in recorded[0] and len(recorded[0]) == 32


def test_another_key_is_refused_with_what_to_do(database_url: str) -> None:
    tables = tables_for(database_url)
    asyncio.run(check_credentials_key(tables, SecretBox(KEY_A)))
    with pytest.raises(CredentialsKeyMismatch) as refused:
        asyncio.run(check_credentials_key(tables, SecretBox(KEY_B)))
    message = str(refused.value)
    assert "CHANNEL_ROUTER_SECRET_KEY" in message and "original key" in message
    assert "channel-router reset --credentials" in message
    assert KEY_A not in message and KEY_B not in message


def test_without_a_key_nothing_is_checked_or_recorded(database_url: str) -> None:
    tables = tables_for(database_url)
    asyncio.run(check_credentials_key(tables, None))
    assert asyncio.run(fingerprints(tables)) == []


def test_a_database_from_before_fingerprints_is_judged_by_its_credentials(
    database_url: str,
) -> None:
    """Credentials stored before the fingerprint existed: a key that opens them is recorded,
    one that does not is refused."""
    tables = tables_for(database_url)

    async def run() -> None:
        await CredentialStore(tables, SecretBox(KEY_A)).save("acme", "ebay", {"token": "t"})
        with pytest.raises(CredentialsKeyMismatch, match="do not decrypt"):
            await check_credentials_key(tables, SecretBox(KEY_B))
        assert await fingerprints(tables) == []
        await check_credentials_key(tables, SecretBox(KEY_A))
        assert await fingerprints(tables) == [SecretBox(KEY_A).fingerprint]

    asyncio.run(run())


def test_forgetting_credentials_lets_a_new_key_start(database_url: str) -> None:
    tables = tables_for(database_url)

    async def run() -> int:
        await CredentialStore(tables, SecretBox(KEY_A)).save("acme", "ebay", {"token": "t"})
        await check_credentials_key(tables, SecretBox(KEY_A))
        removed = await forget_credentials(tables)
        await check_credentials_key(tables, SecretBox(KEY_B))
        assert await tables.channel_credential.count().run() == 0
        return removed

    assert asyncio.run(run()) == 1


def test_the_app_does_not_start_with_another_key(database_url: str, tmp_path: Path) -> None:
    """Also each `serve --workers N` process checks, not only the command that starts them."""
    from litestar.testing import TestClient

    from server.config import ServiceConfig

    tables = tables_for(database_url)
    asyncio.run(check_credentials_key(tables, SecretBox(KEY_A)))
    config = ServiceConfig(database_url=database_url, secret_key=KEY_B)
    with pytest.raises(BaseException) as refused, TestClient(create_app(config)):
        pass
    # Litestar runs start-up hooks in a task group: the refusal arrives wrapped in a group.
    assert refused.type is CredentialsKeyMismatch or refused.group_contains(CredentialsKeyMismatch)


@pytest.mark.parametrize("command", ["migrate", "serve"])
def test_commands_refuse_another_key_before_starting(tmp_path: Path, command: str) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CHANNEL_ROUTER_")},
        "CHANNEL_ROUTER_DATA_DIR": str(tmp_path / "data"),
        "CHANNEL_ROUTER_SECRET_KEY": KEY_A,
    }
    first = subprocess.run(
        [sys.executable, "-m", "server.cli", "migrate"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    env["CHANNEL_ROUTER_SECRET_KEY"] = KEY_B
    port = ["--port", "1"] if command == "serve" else []  # never reached: refused first
    second = subprocess.run(
        [sys.executable, "-m", "server.cli", command, *port],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert second.returncode == 2
    assert f"channel-router {command}: CHANNEL_ROUTER_SECRET_KEY is not the key" in second.stderr
    assert "Traceback" not in second.stderr
    assert KEY_A not in second.stderr + second.stdout and KEY_B not in second.stderr


def test_fingerprint_does_not_reveal_the_key() -> None:
    key = secrets.token_urlsafe(32)
    box = SecretBox(key)
    assert box.fingerprint != SecretBox(key + "x").fingerprint
    assert key not in box.fingerprint and box.fingerprint not in repr(box)
