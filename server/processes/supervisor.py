"""A small supervisor of child processes: start in order, watch, restart with backoff, stop.

`channel-router up` runs its pieces as children of one process: the private
Redis, the marketplace sandbox, the API server and the campaign worker. Each
sits in a tier; tiers start in ascending order (a tier's required children
must answer before the next starts) and stop in descending order, so the API
and the worker stop before the Redis they use.

While running, `check()` (called about every 0.2 s) notices a child that exited
or stopped answering, says so once, and starts it again after a backoff
(0.5 s doubling to 30 s, back to the start once it has run well for a minute).
A child that exits with code 2 said it cannot run as configured (a usage
error, or a command this version does not have yet): it is reported once and
left stopped. Everything is said through one `report` callable, once per
event, never in a loop.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from server.processes.spawn import spawn

EXIT_UNUSABLE = 2  # argparse's usage error; our commands' "cannot run as configured"


class Child(Protocol):
    """What the supervisor needs of a child."""

    name: str

    @property
    def pid(self) -> int | None: ...

    def spawn(self) -> None:
        """Start the process; return at once."""

    def returncode(self) -> int | None:
        """None while it runs; its exit status (negative: killed by that signal) after."""

    def answers(self) -> bool:
        """True when it does its job (a cheap health probe)."""

    def terminate(self) -> None:
        """Ask it to stop (SIGTERM)."""

    def kill(self) -> None:
        """Stop it now (SIGKILL)."""


class Command:
    """A child process run from a command line, probed by `probe` (or: alive for `settle` s)."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        pass_fds: Sequence[int] = (),
        probe: Callable[[], bool] | None = None,
        settle_seconds: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._argv = list(argv)
        self._env = env
        self._pass_fds = tuple(pass_fds)
        self._probe = probe
        self._settle = settle_seconds
        self._clock = clock
        self._process: subprocess.Popen[bytes] | None = None
        self._spawned_at = 0.0

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def spawn(self) -> None:
        self._process = spawn(self._argv, env=self._env, pass_fds=self._pass_fds)
        self._spawned_at = self._clock()

    def returncode(self) -> int | None:
        return None if self._process is None else self._process.poll()

    def answers(self) -> bool:
        if self.returncode() is not None or self._process is None:
            return False
        if self._probe is not None:
            return self._probe()
        return self._clock() - self._spawned_at >= self._settle

    def terminate(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()


def describe_exit(code: int) -> str:
    """'code 3' or 'killed by SIGKILL'."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"code {code}"


@dataclass(frozen=True)
class Backoff:
    """Delay before restart number `failures` (0-based): first * 2**failures, at most `most`."""

    first: float = 0.5
    most: float = 30.0
    stable_seconds: float = 60.0  # a run this long forgives earlier failures

    def delay(self, failures: int) -> float:
        return float(min(self.most, self.first * (2 ** min(failures, 16))))


class StartFailed(RuntimeError):
    """A required child did not come up; the message says which and how."""


@dataclass
class _Entry:
    child: Child
    tier: int
    required: bool
    start_timeout: float
    hang_seconds: float
    note_on_exit: str = ""
    state: str = "new"  # new | starting | running | waiting | stopped | given-up
    spawned_at: float = 0.0
    last_answer: float = 0.0
    running_since: float = 0.0
    restart_at: float = 0.0
    failures: int = 0
    down_reported: bool = False
    probed_at: float = float("-inf")
    spawn_error: str = ""


class Supervisor:
    """Starts, watches, restarts and stops a set of children; see the module docstring."""

    def __init__(
        self,
        report: Callable[[str], None],
        *,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.monotonic,
        stop_requested: threading.Event | None = None,
        probe_seconds: float = 1.0,
    ) -> None:
        self._report = report
        self._probe_seconds = probe_seconds
        self._backoff = backoff or Backoff()
        self._clock = clock
        self._entries: list[_Entry] = []
        self.stop_requested = stop_requested or threading.Event()
        self.force = threading.Event()

    def add(
        self,
        child: Child,
        *,
        tier: int,
        required: bool = True,
        start_timeout: float = 60.0,
        hang_seconds: float = 30.0,
        note_on_exit: str = "",
    ) -> None:
        """Supervise `child`; `required`: up cannot run without it (start-up fails)."""
        self._entries.append(
            _Entry(child, tier, required, start_timeout, hang_seconds, note_on_exit)
        )

    def state(self, name: str) -> str:
        """The supervision state of the child called `name` (for tests and status lines)."""
        return next(e.state for e in self._entries if e.child.name == name)

    # -- start -------------------------------------------------------------------------

    def start(self, poll_seconds: float = 0.05) -> None:
        """Start every tier in order; StartFailed when a required child does not come up."""
        for tier in sorted({e.tier for e in self._entries}):
            if self.stop_requested.is_set():
                return
            entries = [e for e in self._entries if e.tier == tier]
            for entry in entries:
                self._spawn(entry)
            for entry in entries:
                if entry.required:
                    self._wait_until_up(entry, poll_seconds)

    def _wait_until_up(self, entry: _Entry, poll_seconds: float) -> None:
        deadline = self._clock() + entry.start_timeout
        while not self.stop_requested.is_set():
            if entry.spawn_error:
                entry.state = "given-up"
                raise StartFailed(f"{entry.child.name} could not be started: {entry.spawn_error}")
            code = entry.child.returncode()
            if code is not None:
                entry.state = "given-up"
                raise StartFailed(
                    f"{entry.child.name} exited during start-up ({describe_exit(code)}); "
                    f"its own output above says why"
                )
            if entry.child.answers():
                self._mark_running(entry)
                return
            if self._clock() > deadline:
                entry.child.kill()
                entry.state = "given-up"
                raise StartFailed(
                    f"{entry.child.name} did not answer within {entry.start_timeout:g} s"
                )
            self.stop_requested.wait(poll_seconds)

    def _spawn(self, entry: _Entry) -> None:
        now = self._clock()
        entry.spawned_at = now
        entry.last_answer = now
        entry.probed_at = float("-inf")
        try:
            entry.child.spawn()
        except Exception as exc:  # e.g. a missing binary: treated like an exit
            entry.spawn_error = str(exc) or type(exc).__name__
            entry.state = "waiting"
            self._schedule_restart(entry, f"could not be started ({entry.spawn_error})")
            return
        entry.spawn_error = ""
        entry.state = "starting"

    def _mark_running(self, entry: _Entry) -> None:
        now = self._clock()
        entry.state = "running"
        entry.running_since = now
        entry.last_answer = now
        if entry.down_reported:
            entry.down_reported = False
            self._report(f"{entry.child.name} is back (pid {entry.child.pid})")

    # -- watch -------------------------------------------------------------------------

    def check(self) -> None:
        """One pass over the children: exits, hangs, due restarts, recoveries."""
        now = self._clock()
        for entry in self._entries:
            if entry.state in ("new", "stopped", "given-up"):
                continue
            if entry.state == "waiting":
                if now >= entry.restart_at:
                    self._spawn(entry)
                continue
            code = entry.child.returncode()
            if code is not None:
                self._exited(entry, code)
                continue
            if now - entry.probed_at < self._probe_seconds:
                continue
            entry.probed_at = now
            if entry.child.answers():
                entry.last_answer = now
                if entry.state == "starting":
                    self._mark_running(entry)
                elif now - entry.running_since >= self._backoff.stable_seconds:
                    entry.failures = 0
                continue
            limit = entry.start_timeout if entry.state == "starting" else entry.hang_seconds
            if now - entry.last_answer > limit:
                if not entry.down_reported:
                    self._report(
                        f"{entry.child.name} has not answered for {limit:g} s; restarting it"
                    )
                    entry.down_reported = True
                entry.child.kill()  # the exit is handled on a next pass

    def _exited(self, entry: _Entry, code: int) -> None:
        name = entry.child.name
        if code == EXIT_UNUSABLE:
            entry.state = "given-up"
            note = f"; {entry.note_on_exit}" if entry.note_on_exit else ""
            self._report(
                f"{name} exited with code {code}: it cannot run as configured (its own "
                f"message is above); not restarting it{note}"
            )
            return
        entry.state = "waiting"
        self._schedule_restart(entry, f"exited ({describe_exit(code)})")

    def _schedule_restart(self, entry: _Entry, what: str) -> None:
        delay = self._backoff.delay(entry.failures)
        entry.failures += 1
        entry.restart_at = self._clock() + delay
        if not entry.down_reported:
            entry.down_reported = True
            note = f" ({entry.note_on_exit})" if entry.note_on_exit else ""
            self._report(f"{entry.child.name} {what}; restarting it in {delay:g} s{note}")

    # -- stop --------------------------------------------------------------------------

    def stop(self, timeout: float = 15.0, poll_seconds: float = 0.05) -> None:
        """Stop tier by tier, highest first: SIGTERM, wait up to `timeout`, then SIGKILL."""
        for tier in sorted({e.tier for e in self._entries}, reverse=True):
            entries = [
                e
                for e in self._entries
                if e.tier == tier and e.state != "new" and e.child.returncode() is None
            ]
            for entry in self._entries:
                if entry.tier == tier:
                    entry.state = "stopped"
            if not entries:
                continue
            self._report("stopping " + " and ".join(e.child.name for e in entries))
            for entry in entries:
                entry.child.terminate()
            deadline = self._clock() + timeout
            while any(e.child.returncode() is None for e in entries):
                if self.force.is_set() or self._clock() > deadline:
                    for entry in entries:
                        if entry.child.returncode() is None:
                            self._report(f"{entry.child.name} did not stop in time; killed it")
                            entry.child.kill()
                    break
                self.force.wait(poll_seconds)
            # Reap what was killed (no zombies, and a released port before the next tier goes).
            reap_deadline = self._clock() + 5.0
            while any(e.child.returncode() is None for e in entries):
                if self._clock() > reap_deadline:
                    break
                time.sleep(poll_seconds)
