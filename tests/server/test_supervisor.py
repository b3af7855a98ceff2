"""The supervisor of `up`'s children: start order, restart with backoff, said once, stop order.

Most tests drive it with in-memory children and a hand-moved clock, so every
timing is exact; the last ones run real processes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from server.processes.supervisor import (
    EXIT_UNUSABLE,
    Backoff,
    Command,
    StartFailed,
    Supervisor,
    describe_exit,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeChild:
    """A child whose process is a few fields; `events` records what was done to it, in order."""

    def __init__(self, name: str, events: list[str], *, answers: bool = True) -> None:
        self.name = name
        self.events = events
        self.code: int | None = None
        self.healthy = answers
        self.spawns = 0

    @property
    def pid(self) -> int | None:
        return 100 + self.spawns

    def spawn(self) -> None:
        self.spawns += 1
        self.code = None
        self.events.append(f"spawn {self.name}")

    def returncode(self) -> int | None:
        return self.code

    def answers(self) -> bool:
        return self.code is None and self.healthy

    def terminate(self) -> None:
        self.events.append(f"terminate {self.name}")
        self.code = -signal.SIGTERM

    def kill(self) -> None:
        self.events.append(f"kill {self.name}")
        self.code = -signal.SIGKILL


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make(clock: Clock) -> tuple[Supervisor, list[str], list[str]]:
    said: list[str] = []
    events: list[str] = []
    supervisor = Supervisor(said.append, clock=clock, probe_seconds=0)
    return supervisor, said, events


def test_tiers_start_in_order_and_stop_in_reverse_with_redis_last(clock: Clock) -> None:
    supervisor, said, events = make(clock)
    redis, sandbox = FakeChild("redis", events), FakeChild("sandbox", events)
    api, worker = FakeChild("api", events), FakeChild("worker", events)
    supervisor.add(api, tier=2)
    supervisor.add(redis, tier=0)
    supervisor.add(worker, tier=2, required=False)
    supervisor.add(sandbox, tier=1)
    supervisor.start()
    assert events == ["spawn redis", "spawn sandbox", "spawn api", "spawn worker"]
    events.clear()
    supervisor.stop()
    assert events == ["terminate api", "terminate worker", "terminate sandbox", "terminate redis"]
    assert said == ["stopping api and worker", "stopping sandbox", "stopping redis"]


def test_a_dead_child_is_restarted_after_a_doubling_backoff_and_said_once(clock: Clock) -> None:
    supervisor, said, events = make(clock)
    redis = FakeChild("redis", events)
    supervisor.add(redis, tier=0)
    supervisor.start()
    redis.code = -signal.SIGKILL
    supervisor.check()
    assert said == ["redis exited (killed by SIGKILL); restarting it in 0.5 s"]
    assert redis.spawns == 1
    clock.now += 0.4
    supervisor.check()
    assert redis.spawns == 1  # not before its time
    clock.now += 0.2
    supervisor.check()
    assert redis.spawns == 2
    # It dies again before answering: the next wait doubles, and nothing more is said.
    redis.code = 1
    supervisor.check()
    clock.now += 0.9
    supervisor.check()
    assert redis.spawns == 2
    clock.now += 0.2
    supervisor.check()
    assert redis.spawns == 3
    supervisor.check()  # it answers now
    assert said == [
        "redis exited (killed by SIGKILL); restarting it in 0.5 s",
        "redis is back (pid 103)",
    ]
    assert supervisor.state("redis") == "running"


def test_backoff_is_capped_and_forgiven_after_a_stable_run(clock: Clock) -> None:
    backoff = Backoff(first=0.5, most=30.0, stable_seconds=60.0)
    assert [backoff.delay(n) for n in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    supervisor, said, events = make(clock)
    child = FakeChild("sandbox", events)
    supervisor.add(child, tier=1)
    supervisor.start()
    for _ in range(3):  # three quick deaths: 0.5, 1, 2
        child.code = 1
        supervisor.check()
        clock.now += 10
        supervisor.check()
        supervisor.check()
    clock.now += 61  # a minute of good running
    supervisor.check()
    child.code = 1
    supervisor.check()
    assert said[-1] == "sandbox exited (code 1); restarting it in 0.5 s"


def test_exit_code_2_is_reported_once_and_not_restarted(clock: Clock) -> None:
    supervisor, said, events = make(clock)
    api, worker = FakeChild("api", events), FakeChild("worker", events)
    supervisor.add(api, tier=2)
    supervisor.add(worker, tier=2, required=False, note_on_exit="the API keeps serving")
    supervisor.start()
    worker.code = EXIT_UNUSABLE
    for _ in range(5):
        supervisor.check()
        clock.now += 60
    assert worker.spawns == 1
    assert said == [
        "worker exited with code 2: it cannot run as configured (its own message is above); "
        "not restarting it; the API keeps serving"
    ]
    assert supervisor.state("api") == "running"


def test_a_required_child_that_dies_at_start_fails_the_start(clock: Clock) -> None:
    supervisor, _, events = make(clock)
    api = FakeChild("api", events)
    api.spawn = lambda: setattr(api, "code", 3)  # type: ignore[method-assign]
    supervisor.add(api, tier=2)
    with pytest.raises(StartFailed, match=r"api exited during start-up \(code 3\)"):
        supervisor.start()


def test_a_required_child_that_cannot_be_spawned_fails_the_start_at_once(clock: Clock) -> None:
    supervisor, _, events = make(clock)
    redis = FakeChild("redis", events)

    def missing() -> None:
        raise FileNotFoundError("redis-server not found")

    redis.spawn = missing  # type: ignore[method-assign]
    supervisor.add(redis, tier=0)
    with pytest.raises(StartFailed, match="redis could not be started: redis-server not found"):
        supervisor.start()


def test_a_required_child_that_never_answers_fails_the_start_in_time(clock: Clock) -> None:
    supervisor, _, events = make(clock)
    api = FakeChild("api", events, answers=False)
    supervisor.add(api, tier=2, start_timeout=5)
    supervisor.stop_requested.wait = lambda timeout=None: bool(  # type: ignore[method-assign]
        setattr(clock, "now", clock.now + 1)
    )
    with pytest.raises(StartFailed, match="did not answer within 5 s"):
        supervisor.start()
    assert "kill api" in events


def test_a_child_that_stops_answering_is_killed_and_restarted(clock: Clock) -> None:
    supervisor, said, events = make(clock)
    sandbox = FakeChild("sandbox", events)
    supervisor.add(sandbox, tier=1, hang_seconds=10)
    supervisor.start()
    sandbox.healthy = False
    clock.now += 5
    supervisor.check()
    assert "kill sandbox" not in events
    clock.now += 6
    supervisor.check()
    assert "kill sandbox" in events
    supervisor.check()  # the kill shows as an exit: restart scheduled, not said again
    assert said == ["sandbox has not answered for 10 s; restarting it"]
    sandbox.healthy = True
    clock.now += 1
    supervisor.check()
    supervisor.check()
    assert sandbox.spawns == 2 and said[-1] == "sandbox is back (pid 102)"


def test_stop_kills_what_does_not_stop_in_time(clock: Clock) -> None:
    supervisor, said, events = make(clock)
    stubborn = FakeChild("worker", events)
    stubborn.terminate = lambda: events.append("terminate worker")  # type: ignore[method-assign]
    supervisor.add(stubborn, tier=2)
    supervisor.start()
    supervisor.force.wait = lambda timeout=None: bool(  # type: ignore[method-assign]
        setattr(clock, "now", clock.now + 1)
    )
    supervisor.stop(timeout=3)
    assert events[-2:] == ["terminate worker", "kill worker"]
    assert said[-1] == "worker did not stop in time; killed it"


def test_describe_exit() -> None:
    assert describe_exit(3) == "code 3"
    assert describe_exit(-9) == "killed by SIGKILL"


def test_command_runs_a_real_process_and_stops_it_with_sigterm() -> None:
    said: list[str] = []
    child = Command(
        "sleeper", [sys.executable, "-c", "import time; time.sleep(60)"], settle_seconds=0
    )
    supervisor = Supervisor(said.append)
    supervisor.add(child, tier=0, start_timeout=30)
    supervisor.start()
    assert child.returncode() is None and child.answers()
    supervisor.stop(timeout=10)
    assert child.returncode() == -signal.SIGTERM
    assert said == ["stopping sleeper"]


def test_children_die_with_their_parent(tmp_path: Path) -> None:
    """A parent killed with SIGKILL (no clean-up at all) leaves no child behind."""
    pid_file = tmp_path / "child.pid"
    parent_code = (
        "import sys, time\n"
        "from server.processes.spawn import spawn\n"
        "child = spawn([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(120)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code])
    try:
        deadline = time.monotonic() + 30
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline, "the parent did not start its child"
            time.sleep(0.05)
        child_pid = int(pid_file.read_text())
        parent.kill()
        parent.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _alive(child_pid):
            assert time.monotonic() < deadline, "the child outlived its parent"
            time.sleep(0.05)
    finally:
        if parent.poll() is None:
            parent.kill()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (dead, not yet reaped by init) counts as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (FileNotFoundError, IndexError):
        return False
