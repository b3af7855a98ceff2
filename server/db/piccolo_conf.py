"""The `piccolo_conf` module piccolo's migration machinery looks up.

Piccolo finds its engine through a module attribute `DB`. We never build an
engine at import time, so `DB` is resolved on access from the engine that
`server.db.connection.migrate` is currently applying migrations to.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from piccolo.conf.apps import AppRegistry

CURRENT_ENGINE: ContextVar[Any] = ContextVar("channel_router_piccolo_engine", default=None)

APP_REGISTRY = AppRegistry(apps=[])


def __getattr__(name: str) -> Any:
    if name == "DB":
        return CURRENT_ENGINE.get()
    raise AttributeError(name)
