"""The files `channel-router up` keeps in the data directory, and `reset`'s removal of them.

    DATA_DIR/
      channel-router.sqlite3   the default database (0600; made by server.db.connection)
      admin.token              generated admin token (when CHANNEL_ROUTER_ADMIN_TOKEN is unset)
      secret.key               generated credentials key (when CHANNEL_ROUTER_SECRET_KEY is unset)
      redis/                   the private Redis's append-only file: queued jobs survive restarts
      up.lock                  held by the running `up` (one per data directory)

The folder is created 0700 and every secret file 0600, so that no other local
user reads a token or key. A second `up` with the same data directory reads
the same token and key, and so finds the merchants and credentials of the first.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ADMIN_TOKEN_FILE = "admin.token"
SECRET_KEY_FILE = "secret.key"
REDIS_DIR = "redis"
LOCK_FILE = "up.lock"


class StateInUse(RuntimeError):
    """Another `channel-router up` holds the data directory."""

    def __init__(self, root: Path, pid: str) -> None:
        who = f"pid {pid}" if pid else "another process"
        super().__init__(f"a channel-router up ({who}) is using the data directory {root}")
        self.pid = pid


def secret_file(path: Path, *, nbytes: int = 32) -> tuple[str, bool]:
    """The secret kept in `path`, and whether it was created now (0600, random) because absent."""
    try:
        value = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        value = ""
    if value:
        return value, False
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = secrets.token_urlsafe(nbytes)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    descriptor = os.open(path, flags, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    os.chmod(path, 0o600)  # O_CREAT's mode does not apply to a file that was there (empty)
    return value, True


@dataclass(frozen=True)
class LocalState:
    """The data directory and the files in it."""

    root: Path

    @property
    def admin_token_path(self) -> Path:
        return self.root / ADMIN_TOKEN_FILE

    @property
    def secret_key_path(self) -> Path:
        return self.root / SECRET_KEY_FILE

    @property
    def redis_dir(self) -> Path:
        return self.root / REDIS_DIR

    def ensure(self) -> LocalState:
        """Create the folder (0700) if it is missing."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self

    def admin_token(self) -> tuple[str, bool]:
        """The kept admin token, generated on first use; and whether it is new."""
        return secret_file(self.admin_token_path, nbytes=24)

    def secret_key(self) -> tuple[str, bool]:
        """The kept credentials key, generated on first use; and whether it is new."""
        return secret_file(self.secret_key_path, nbytes=32)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the data directory for this process (`up`); StateInUse when another holds it.

        One `up` per data directory: two would run two Redis servers on one
        append-only file. `reset` takes the same lock, so it never deletes the
        state of a running `up`. The kernel drops the lock when the holder dies.
        """
        path = self.root / LOCK_FILE
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StateInUse(self.root, os.pread(descriptor, 32, 0).decode().strip()) from None
            os.ftruncate(descriptor, 0)
            os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
            try:
                yield
            finally:
                os.ftruncate(descriptor, 0)
                fcntl.flock(descriptor, fcntl.LOCK_UN)
        finally:
            os.close(descriptor)

    def contents(self) -> list[Path]:
        """What is in the data directory now (top level), sorted."""
        if not self.root.is_dir():
            return []
        return sorted(self.root.iterdir())

    def remove(self) -> None:
        """Delete the data directory and everything in it."""
        shutil.rmtree(self.root, ignore_errors=False)
