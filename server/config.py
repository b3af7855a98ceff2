"""Service settings read once from the environment (CONTRACT §1).

A small frozen dataclass rather than a settings framework: the app factory and
the CLI build one and pass it down, so nothing reads `os.environ` later on.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_DATABASE_URL = "sqlite:///var/channel-router.sqlite3"
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus-client's own variable
REPO_POLICY_DIR = Path(__file__).resolve().parent.parent / "policies"


def default_policy_dir(env: Mapping[str, str]) -> Path:
    """CHANNEL_ROUTER_POLICY_DIR, else ./policies, else the policies shipped beside the code."""
    configured = env.get("CHANNEL_ROUTER_POLICY_DIR")
    if configured:
        return Path(configured)
    local = Path("policies")
    if local.is_dir():
        return local
    return REPO_POLICY_DIR


@dataclass(frozen=True)
class ServiceConfig:
    """Everything the API server needs to start; secrets are excluded from repr."""

    database_url: str = DEFAULT_DATABASE_URL
    policy_dir: Path = REPO_POLICY_DIR
    redis_url: str | None = None
    admin_token: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)
    max_body_bytes: int = 16 * 1024 * 1024
    max_batch_items: int = 10_000
    # How long a worker may serve a merchant's settings from memory before it
    # reads them again. With Redis every worker forgets them before a change is
    # answered (server.cache_sync), so this only bounds staleness without Redis.
    settings_cache_seconds: float = 1.0
    # How long a change waits for every other worker to confirm it (then 503).
    cache_sync_seconds: float = 2.0
    # prometheus-client's multiprocess directory: set when this process is one of
    # several workers (`serve --workers N` sets it); /metrics then adds them all up.
    metrics_multiprocess_dir: str | None = None
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    # Freeze start-up objects out of the cyclic GC (see Services.start). On for
    # the real processes; off by default so many apps in one test process do
    # not pin each other's garbage.
    freeze_gc: bool = False
    # The clock scheduled policy activations are read against (tests inject one).
    clock: Callable[[], float] = field(default=time.time, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServiceConfig:
        """Read the CHANNEL_ROUTER_* variables; unset ones keep their defaults."""
        source = dict(os.environ if env is None else env)
        return cls(
            database_url=source.get("CHANNEL_ROUTER_DATABASE_URL") or DEFAULT_DATABASE_URL,
            policy_dir=default_policy_dir(source),
            redis_url=source.get("CHANNEL_ROUTER_REDIS_URL") or None,
            admin_token=source.get("CHANNEL_ROUTER_ADMIN_TOKEN") or None,
            secret_key=source.get("CHANNEL_ROUTER_SECRET_KEY") or None,
            env=source,
            freeze_gc=True,
            metrics_multiprocess_dir=source.get(MULTIPROCESS_ENV) or None,
        )

    @property
    def several_workers(self) -> bool:
        """Whether other worker processes serve the same deployment beside this one."""
        return self.metrics_multiprocess_dir is not None
