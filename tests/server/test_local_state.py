"""Where local state lives (the data directory), how SQLite URLs resolve, and its file modes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from server import config as config_module
from server.config import (
    CHECKOUT,
    DEFAULT_DATABASE_URL,
    ConfigError,
    HttpServerConfig,
    ServiceConfig,
    data_dir_from_env,
    default_data_dir,
    resolve_database_url,
    running_from_checkout,
)
from server.db.connection import make_engine
from server.local_state import LocalState, StateInUse, secret_file


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_from_a_checkout_the_data_directory_is_its_var_wherever_the_command_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert running_from_checkout()
    assert default_data_dir() == CHECKOUT / "var"
    config = ServiceConfig.from_env({})
    assert config.data_dir == CHECKOUT / "var"
    # The contract's default URL names that same file when run from the checkout's root.
    assert config.database_url == f"sqlite:///{CHECKOUT / 'var' / 'channel-router.sqlite3'}"
    assert config.database_url.endswith(DEFAULT_DATABASE_URL.removeprefix("sqlite:///"))


def test_an_installed_copy_keeps_state_in_the_users_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(config_module, "CHECKOUT", tmp_path / "site-packages")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert not running_from_checkout(tmp_path / "site-packages")
    assert default_data_dir() == tmp_path / "xdg" / "channel-router"


def test_channel_router_data_dir_wins_and_is_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert data_dir_from_env({"CHANNEL_ROUTER_DATA_DIR": "state"}) == tmp_path / "state"
    config = ServiceConfig.from_env({"CHANNEL_ROUTER_DATA_DIR": str(tmp_path / "d")})
    assert config.database_url == f"sqlite:///{tmp_path}/d/channel-router.sqlite3"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (None, "sqlite:////data/channel-router.sqlite3"),
        ("", "sqlite:////data/channel-router.sqlite3"),
        (DEFAULT_DATABASE_URL, "sqlite:////data/channel-router.sqlite3"),
        ("sqlite:///other.sqlite3", "sqlite:////data/other.sqlite3"),
        ("sqlite:///sub/x.db", "sqlite:////data/sub/x.db"),
        ("sqlite:////abs/x.db", "sqlite:////abs/x.db"),
        ("postgresql://u:p@h:5432/db", "postgresql://u:p@h:5432/db"),
    ],
)
def test_sqlite_urls_resolve_against_the_data_directory(url: str | None, expected: str) -> None:
    assert resolve_database_url(url, Path("/data")) == expected


def test_secret_files_are_created_0600_once_and_then_read(tmp_path: Path) -> None:
    path = tmp_path / "state" / "admin.token"
    value, created = secret_file(path)
    assert created and len(value) >= 32
    assert mode(path) == 0o600
    assert secret_file(path) == (value, False)
    path.write_text("")  # an emptied file gets a new secret, still 0600
    os.chmod(path, 0o644)
    again, created = secret_file(path)
    assert created and again != value and mode(path) == 0o600


def test_the_data_directory_is_private_and_held_by_one_up_at_a_time(tmp_path: Path) -> None:
    state = LocalState(tmp_path / "var").ensure()
    assert mode(state.root) == 0o700
    with state.lock(), pytest.raises(StateInUse, match=rf"pid {os.getpid()}"), state.lock():
        pass
    with state.lock():  # released: can be taken again
        pass


def test_sqlite_database_file_is_created_0600_and_a_loose_one_tightened(tmp_path: Path) -> None:
    path = tmp_path / "db" / "x.sqlite3"
    make_engine(f"sqlite:///{path}")
    assert path.is_file() and mode(path) == 0o600
    os.chmod(path, 0o644)
    make_engine(f"sqlite:///{path}")
    assert mode(path) == 0o600


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CHANNEL_ROUTER_HTTP_HEADER_TIMEOUT_SECONDS", "soon"),
        ("CHANNEL_ROUTER_HTTP_BODY_TIMEOUT_SECONDS", "0"),
        ("CHANNEL_ROUTER_HTTP_KEEP_ALIVE_SECONDS", "-1"),
        ("CHANNEL_ROUTER_HTTP_KEEP_ALIVE_SECONDS", "nan"),
    ],
)
def test_bad_http_timeouts_are_refused_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        HttpServerConfig.from_env({name: value})


def test_http_timeouts_have_defaults_and_can_be_set() -> None:
    assert HttpServerConfig.from_env({}) == HttpServerConfig(10.0, 30.0, 5.0, "127.0.0.1")
    configured = HttpServerConfig.from_env(
        {
            "CHANNEL_ROUTER_HTTP_HEADER_TIMEOUT_SECONDS": "2.5",
            "CHANNEL_ROUTER_HTTP_BODY_TIMEOUT_SECONDS": "60",
            "CHANNEL_ROUTER_HTTP_KEEP_ALIVE_SECONDS": "75",
            "CHANNEL_ROUTER_FORWARDED_ALLOW_IPS": "10.0.0.5",
        }
    )
    assert configured == HttpServerConfig(2.5, 60.0, 75.0, "10.0.0.5")


def test_printed_database_urls_carry_no_password() -> None:
    from server.config import redact_url

    assert redact_url("postgresql://app:s3cret@db:5432/cr") == "postgresql://app:***@db:5432/cr"
    assert redact_url("sqlite:////srv/x.db") == "sqlite:////srv/x.db"
