"""The policy set in force, swapped whole on reload.

Loading (file I/O, YAML, schema checks) runs in a thread; compiling the
durable-rules rulesets (`Engine(...)`) and every `decide` run on the event-loop
thread, because the binding is not thread-safe. A reload either builds a new
Engine completely and then replaces the reference in one assignment, or fails
and leaves the old one serving. Requests already holding the old Engine finish
with it: decide is synchronous, so no request ever sees half a set.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine import Engine, load_policy_dir
from engine.policy_set import Clock, PolicySet
from server.errors import Unavailable


class PolicyStore:
    """Holds the current Engine; `reload` replaces it atomically."""

    def __init__(self, policy_dir: Path, clock: Clock = time.time) -> None:
        self.policy_dir = policy_dir
        # Engines read it to activate scheduled versions at their time (no reload needed).
        self.clock = clock
        self._engine: Engine | None = None
        self._lock = asyncio.Lock()
        self.reloads = 0
        # Called with each new Engine once it is in force (e.g. to pre-bind metrics).
        self.on_reload: list[Callable[[Engine], None]] = []

    @property
    def loaded(self) -> bool:
        return self._engine is not None

    @property
    def policy_set(self) -> PolicySet | None:
        """The loaded policy set, or None before the first successful load."""
        return self._engine.policy_set if self._engine is not None else None

    @property
    def engine(self) -> Engine:
        """The Engine in force; Unavailable (503) before the first successful load."""
        engine = self._engine
        if engine is None:
            raise Unavailable("no policies are loaded")
        return engine

    async def reload(self) -> list[Any]:
        """Read the folder again and swap it in; PolicyProblems leaves the old set in force."""
        async with self._lock:
            policy_set = await asyncio.to_thread(load_policy_dir, self.policy_dir)
            engine = Engine(policy_set, clock=self.clock)
            self._engine = engine
            self.reloads += 1
            for listener in self.on_reload:
                listener(engine)
            return list(engine.summary())

    def summary(self) -> list[Any]:
        """What is loaded now (name, versions, active version, sha256)."""
        return list(self.engine.summary())
