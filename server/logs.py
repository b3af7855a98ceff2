"""The one logging set-up of every channel-router process (serve, up, worker, sandbox).

One format for our lines, uvicorn's and the libraries', on stderr:

    2026-12-03 14:28:20,166 INFO server.services: database: SQLite 3.40.1 (var/db.sqlite3)

The same dictionary configures the CLI process (`configure`) and every uvicorn
worker process (`uvicorn.run(log_config=...)`, applied again in each worker
that `serve --workers N` spawns). Quietened below our level:
- httpx and httpcore: httpx logs every request at INFO; connectors/http.py
  logs one line per marketplace call with its outcome and time instead, so
  httpx's own lines show only at CHANNEL_ROUTER_LOG_LEVEL=debug;
- piccolo.engine.base: its start-up line reads the SQLite version as a float
  ("Sqlite version 3.4" for 3.40.1); server.services logs the real version.
"""

from __future__ import annotations

import logging
import logging.config
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LEVELS = ("debug", "info", "warning", "error", "critical")
QUIET_BELOW_DEBUG = ("httpx", "httpcore", "piccolo.engine.base")


@dataclass(frozen=True)
class LogSettings:
    """CHANNEL_ROUTER_LOG_LEVEL: debug, info (default), warning, error or critical."""

    level: str = "info"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LogSettings:
        """Read the level; an unknown value is refused rather than silently ignored."""
        source = os.environ if env is None else env
        level = (source.get("CHANNEL_ROUTER_LOG_LEVEL") or "info").strip().lower()
        if level not in LEVELS:
            raise ValueError(
                f"CHANNEL_ROUTER_LOG_LEVEL={level!r}: expected one of {', '.join(LEVELS)}"
            )
        return cls(level=level)


def dict_config(settings: LogSettings | None = None) -> dict[str, Any]:
    """The logging configuration, as `logging.config.dictConfig` and uvicorn take it."""
    level = (settings or LogSettings.from_env()).level.upper()
    quiet = "DEBUG" if level == "DEBUG" else "WARNING"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"channel_router": {"format": FORMAT}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "channel_router",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            # uvicorn's own loggers carry handlers of their own unless reset here.
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": level, "propagate": True},
            **{name: {"level": quiet} for name in QUIET_BELOW_DEBUG},
        },
    }


def configure(settings: LogSettings | None = None) -> dict[str, Any]:
    """Apply the configuration to this process; returns it for uvicorn.run(log_config=...)."""
    config = dict_config(settings)
    logging.config.dictConfig(config)
    return config


def configure_for(command: str) -> dict[str, Any] | None:
    """`configure` for a CLI command; None (and the reason on stderr) for a bad level."""
    try:
        return configure()
    except ValueError as exc:
        print(f"channel-router {command}: {exc}", file=sys.stderr)
        return None
