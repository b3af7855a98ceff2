"""Database pieces on both backends: migrations, encrypted credentials, group commit."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from engine import Engine, load_policy_dir
from engine.types import DecideRequest, Settings
from server.config import REPO_POLICY_DIR
from server.db.connection import make_engine, migrate, migration_modules
from server.db.credentials import CredentialStore
from server.db.decision_log import DecisionLog
from server.db.merchants import MerchantStore
from server.db.secrets_box import SecretBox, SecretBoxError
from server.db.tables import build_tables
from tests.server.helpers import decide_body


def test_migrations_apply_once(database_url: str) -> None:
    async def run() -> tuple[list[str], list[str], int]:
        engine = make_engine(database_url)
        tables = build_tables(engine)
        first = await migrate(engine, tables)
        second = await migrate(engine, tables)
        return first, second, await tables.decision_log.count().run()

    first, second, rows = asyncio.run(run())
    assert first == [m.ID for m in migration_modules()]
    assert second == []
    assert rows == 0


def test_sqlite_folder_is_created(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/a/b/c.sqlite3"
    asyncio.run(migrate(make_engine(url)))
    assert (tmp_path / "a" / "b" / "c.sqlite3").is_file()


class FakeAccount(msgspec.Struct):
    channel: str
    access_token: str


def test_credentials_are_encrypted_at_rest(database_url: str) -> None:
    box = SecretBox("k" * 32)

    async def run() -> tuple[bytes | None, str]:
        engine = make_engine(database_url)
        tables = build_tables(engine)
        await migrate(engine, tables)
        store = CredentialStore(tables, box)
        await store.save("acme", "ebay", FakeAccount("ebay", "v^1.1#secret-token"))
        await store.save("acme", "ebay", FakeAccount("ebay", "v^1.1#newer-token"))
        rows = await tables.channel_credential.select().run()
        assert len(rows) == 1
        return await store.load("acme", "ebay"), rows[0]["ciphertext"]

    plain, ciphertext = asyncio.run(run())
    assert plain is not None and b"newer-token" in plain
    assert "token" not in ciphertext
    with pytest.raises(SecretBoxError):
        SecretBox("another key of enough length").open(ciphertext)


def test_secret_box_refuses_short_keys_and_hides_itself() -> None:
    with pytest.raises(ValueError):
        SecretBox("short")
    assert "k" * 32 not in repr(SecretBox("k" * 32))


def test_concurrent_decisions_share_transactions_and_all_land(database_url: str) -> None:
    async def run() -> tuple[int, int]:
        engine = make_engine(database_url)
        tables = build_tables(engine)
        await migrate(engine, tables)
        policy = Engine(load_policy_dir(REPO_POLICY_DIR))
        log = DecisionLog(tables)
        requests = [
            msgspec.convert(decide_body(stock_quantity=n), DecideRequest) for n in range(60)
        ]
        decisions = [policy.decide(r, Settings()) for r in requests]
        await asyncio.gather(
            *(log.record([r], [d]) for r, d in zip(requests, decisions, strict=True))
        )
        await log.drain()
        return await tables.decision_log.count().run(), log.flushes

    rows, flushes = asyncio.run(run())
    assert rows == 60
    assert flushes < 60  # group commit: concurrent requests shared inserts


def test_created_at_is_recent(database_url: str) -> None:
    async def run() -> datetime:
        engine = make_engine(database_url)
        tables = build_tables(engine)
        await migrate(engine, tables)
        policy = Engine(load_policy_dir(REPO_POLICY_DIR))
        log = DecisionLog(tables)
        request = msgspec.convert(decide_body(), DecideRequest)
        await log.record([request], [policy.decide(request)])
        await log.drain()
        rows = await tables.decision_log.select(tables.decision_log.created_at).run()
        created: datetime = rows[0]["created_at"]
        return created

    created = asyncio.run(run())
    assert abs((datetime.now(UTC) - created).total_seconds()) < 60


def test_another_worker_sees_a_settings_change_after_its_cache_window(database_url: str) -> None:
    """Two MerchantStores on one database stand for two worker processes."""
    now = [0.0]

    async def run() -> list[bool | msgspec.UnsetType]:
        engine = make_engine(database_url)
        tables = build_tables(engine)
        await migrate(engine, tables)
        writer = MerchantStore(tables, settings_cache_seconds=1.0, clock=lambda: now[0])
        reader = MerchantStore(tables, settings_cache_seconds=1.0, clock=lambda: now[0])
        await writer.create("acme", "Acme", Settings(external_channels_enabled=True))
        seen = [(await reader.settings("acme")).external_channels_enabled]
        await writer.put_settings("acme", Settings(external_channels_enabled=False))
        assert (await writer.settings("acme")).external_channels_enabled is False  # at once
        seen.append((await reader.settings("acme")).external_channels_enabled)  # cached
        now[0] = 1.5  # window over: answered from cache once more while it re-reads
        seen.append((await reader.settings("acme")).external_channels_enabled)
        fresh = (await reader.settings("acme")).external_channels_enabled
        for _ in range(200):  # the background read lands within a few loop turns
            if fresh is False:
                break
            await asyncio.sleep(0.01)
            fresh = (await reader.settings("acme")).external_channels_enabled
        seen.append(fresh)
        return seen

    assert asyncio.run(run()) == [True, True, True, False]
