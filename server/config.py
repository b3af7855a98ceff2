"""Service settings read once from the environment (docs/configuration.md).

Small frozen dataclasses rather than a settings framework: the app factory and
the CLI build them and pass them down, so nothing reads `os.environ` later on.

Local state (the SQLite database, and under `up` the admin token, the
credentials key and the private Redis's files) lives in one data directory:
CHANNEL_ROUTER_DATA_DIR, else the checkout's `var/` when the code runs from a
checkout, else the user's data folder. It never depends on the working
directory. Relative SQLite paths are resolved against it.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import platformdirs

from server.write_budget import RateConfigError, parse_rate

CHECKOUT = Path(__file__).resolve().parent.parent
REPO_POLICY_DIR = CHECKOUT / "policies"
# The documented default database. Unset or set to exactly this value, the
# database is DATA_DIR/channel-router.sqlite3 (from a checkout: the same file,
# var/channel-router.sqlite3 in the checkout, wherever the command runs).
DEFAULT_DATABASE_URL = "sqlite:///var/channel-router.sqlite3"
DATABASE_FILE = "channel-router.sqlite3"
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus-client's own variable
DEFAULT_DECISION_RATE_LIMIT = "20000 per 10 seconds"


class ConfigError(ValueError):
    """A CHANNEL_ROUTER_* variable has a value that cannot work; the message names it."""


def running_from_checkout(root: Path | None = None) -> bool:
    """True when the code is imported from a source checkout (not an installed wheel)."""
    pyproject = (root or CHECKOUT) / "pyproject.toml"
    try:
        return 'name = "channel-router"' in pyproject.read_text(encoding="utf-8")
    except OSError:
        return False


def default_data_dir() -> Path:
    """The checkout's `var/` when running from a checkout, else the user's data folder."""
    if running_from_checkout():
        return CHECKOUT / "var"
    return Path(platformdirs.user_data_dir("channel-router", appauthor=False))


def data_dir_from_env(env: Mapping[str, str]) -> Path:
    """CHANNEL_ROUTER_DATA_DIR (made absolute once, here), else the default data directory."""
    configured = env.get("CHANNEL_ROUTER_DATA_DIR")
    if configured:
        return Path(configured).expanduser().resolve()
    return default_data_dir()


def resolve_database_url(url: str | None, data_dir: Path) -> str:
    """The database URL with SQLite paths made absolute against `data_dir`.

    Unset, or the documented default, means DATA_DIR/channel-router.sqlite3;
    `sqlite:///relative/path` means DATA_DIR/relative/path;
    `sqlite:////absolute/path` and every other URL are kept as they are.
    """
    if not url or url == DEFAULT_DATABASE_URL:
        return f"sqlite:///{data_dir / DATABASE_FILE}"
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url[len(prefix) :].startswith("/"):
        relative = url[len(prefix) :]
        return f"sqlite:///{data_dir / relative}" if relative else url
    return url


def _number(env: Mapping[str, str], name: str, default: float, *, minimum: float = 0) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if not value >= minimum or value != value or value == float("inf"):
        raise ConfigError(f"{name}={raw!r} must be a finite number >= {minimum:g}")
    return value


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
    data_dir: Path = field(default_factory=default_data_dir)
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
    # Decision-log rows one merchant key may write (a `limits` rate; None: no cap).
    decision_rate_limit: str | None = DEFAULT_DECISION_RATE_LIMIT
    # Decisions older than this are pruned (0: kept for ever), every prune interval.
    decision_retention_days: float = 30.0
    prune_interval_seconds: float = 3600.0
    prune_batch_rows: int = 5000
    # How long a write waits for a locked database before it answers 503.
    db_lock_timeout_seconds: float = 5.0
    # Prefix of the Redis keys this deployment writes (shared by all its workers).
    redis_prefix: str = "channel-router"
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
        data_dir = data_dir_from_env(source)
        rate = source.get("CHANNEL_ROUTER_DECISION_RATE_LIMIT", DEFAULT_DECISION_RATE_LIMIT)
        try:
            parse_rate(rate, cls.max_batch_items)
        except RateConfigError as exc:
            raise ConfigError(str(exc)) from None
        return cls(
            database_url=resolve_database_url(source.get("CHANNEL_ROUTER_DATABASE_URL"), data_dir),
            policy_dir=default_policy_dir(source),
            data_dir=data_dir,
            redis_url=source.get("CHANNEL_ROUTER_REDIS_URL") or None,
            admin_token=source.get("CHANNEL_ROUTER_ADMIN_TOKEN") or None,
            secret_key=source.get("CHANNEL_ROUTER_SECRET_KEY") or None,
            decision_rate_limit=rate,
            decision_retention_days=_number(source, "CHANNEL_ROUTER_DECISION_RETENTION_DAYS", 30.0),
            prune_interval_seconds=_number(
                source, "CHANNEL_ROUTER_PRUNE_INTERVAL_SECONDS", 3600.0, minimum=1
            ),
            db_lock_timeout_seconds=_number(source, "CHANNEL_ROUTER_DB_LOCK_TIMEOUT_SECONDS", 5.0),
            redis_prefix=source.get("CHANNEL_ROUTER_REDIS_PREFIX") or "channel-router",
            max_body_bytes=int(
                _number(source, "CHANNEL_ROUTER_MAX_BODY_BYTES", 16 * 1024 * 1024, minimum=65536)
            ),
            env=source,
            freeze_gc=True,
            metrics_multiprocess_dir=source.get(MULTIPROCESS_ENV) or None,
        )

    @property
    def several_workers(self) -> bool:
        """Whether other worker processes serve the same deployment beside this one."""
        return self.metrics_multiprocess_dir is not None


def redact_url(url: str) -> str:
    """`url` without its password, fit to print."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, not {raw!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{name} must be a positive number of seconds, not {raw!r}")
    return value


@dataclass(frozen=True)
class HttpServerConfig:
    """How long the HTTP server waits for a client (docs/operations.md, "Slow clients").

    `header_timeout`: from a request's first byte to the end of its headers;
    `body_timeout`: from the end of the headers to the end of the body;
    `keep_alive`: how long a connection may sit idle before its first request
    and between requests. A client that overruns one is disconnected (after a
    408 when no response has begun).
    """

    header_timeout: float = 10.0
    body_timeout: float = 30.0
    keep_alive: float = 5.0
    forwarded_allow_ips: str = "127.0.0.1"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> HttpServerConfig:
        """Read the CHANNEL_ROUTER_HTTP_* variables; ConfigError names a bad one."""
        source = os.environ if env is None else env
        default = cls()
        return cls(
            header_timeout=_seconds(
                source, "CHANNEL_ROUTER_HTTP_HEADER_TIMEOUT_SECONDS", default.header_timeout
            ),
            body_timeout=_seconds(
                source, "CHANNEL_ROUTER_HTTP_BODY_TIMEOUT_SECONDS", default.body_timeout
            ),
            keep_alive=_seconds(
                source, "CHANNEL_ROUTER_HTTP_KEEP_ALIVE_SECONDS", default.keep_alive
            ),
            forwarded_allow_ips=source.get("CHANNEL_ROUTER_FORWARDED_ALLOW_IPS")
            or default.forwarded_allow_ips,
        )
