"""`channel-router reset`: asks, or takes --yes; never deletes what a running `up` holds."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from server.db.connection import make_engine, migrate
from server.db.credentials import CredentialStore
from server.db.secrets_box import SecretBox
from server.db.service_state import check_credentials_key
from server.db.tables import build_tables
from server.local_state import LocalState


def reset(
    data_dir: Path, *args: str, answer: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CHANNEL_ROUTER_")},
        "CHANNEL_ROUTER_DATA_DIR": str(data_dir),
    }
    return subprocess.run(
        [sys.executable, "-m", "server.cli", "reset", *args],
        env=env, input=answer, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def filled(tmp_path: Path) -> LocalState:
    state = LocalState(tmp_path / "data").ensure()
    state.admin_token()
    state.secret_key()
    (state.root / "channel-router.sqlite3").write_bytes(b"")
    return state


def test_reset_lists_what_it_deletes_and_asks(tmp_path: Path) -> None:
    state = filled(tmp_path)
    kept = reset(state.root, answer="n\n")
    assert kept.returncode == 1 and state.root.is_dir()
    assert "admin.token" in kept.stdout and "channel-router.sqlite3" in kept.stdout
    assert "nothing removed" in kept.stdout
    no_answer = reset(state.root, answer="")  # end of input is not a yes
    assert no_answer.returncode == 1 and state.admin_token_path.is_file()
    gone = reset(state.root, answer="y\n")
    assert gone.returncode == 0 and not state.root.exists()
    assert f"removed {state.root}" in gone.stdout


def test_reset_yes_does_not_ask_and_an_empty_state_is_fine(tmp_path: Path) -> None:
    state = filled(tmp_path)
    assert reset(state.root, "--yes").returncode == 0 and not state.root.exists()
    again = reset(state.root, "--yes")
    assert again.returncode == 0 and "nothing to remove" in again.stdout


def test_reset_refuses_while_an_up_holds_the_data_directory(tmp_path: Path) -> None:
    state = filled(tmp_path)
    with state.lock():
        refused = reset(state.root, "--yes")
    assert refused.returncode == 2 and "stop it first" in refused.stderr
    assert state.secret_key_path.is_file()


def test_reset_credentials_deletes_only_the_stored_credentials(tmp_path: Path) -> None:
    state = LocalState(tmp_path / "data").ensure()
    url = f"sqlite:///{state.root}/channel-router.sqlite3"

    async def prepare() -> None:
        engine = make_engine(url)
        tables = build_tables(engine)
        await migrate(engine, tables)
        box = SecretBox("k" * 32)
        await CredentialStore(tables, box).save("acme", "ebay", {"token": "t"})
        await check_credentials_key(tables, box)
        await tables.merchant.insert(
            tables.merchant(merchant_id="acme", name="Acme", api_key_hash="h", settings="{}")
        ).run()

    asyncio.run(prepare())
    done = reset(state.root, "--credentials", "--yes")
    assert done.returncode == 0, done.stderr
    assert "removed 1 stored channel credential(s)" in done.stdout

    async def counts() -> tuple[int, int, int]:
        tables = build_tables(make_engine(url))
        return (
            await tables.channel_credential.count().run(),
            await tables.service_state.count().run(),
            await tables.merchant.count().run(),
        )

    assert asyncio.run(counts()) == (0, 0, 1)
