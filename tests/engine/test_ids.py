"""Decision ids: version 7 UUIDs in hex, unique, and ordered by the millisecond they were made."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid

from policy_files import REPO
from test_decide import TWO, request

from engine import Engine, load_policy_dir
from engine.ids import new_decision_id


def test_an_id_is_a_version_7_uuid_whose_time_is_now() -> None:
    before = time.time_ns() // 1_000_000
    made = new_decision_id()
    after = time.time_ns() // 1_000_000
    parsed = uuid.UUID(hex=made)
    assert len(made) == 32 and made == parsed.hex
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
    assert before <= parsed.int >> 80 <= after


def test_ids_are_unique_and_sort_by_the_millisecond_they_were_made() -> None:
    made = [new_decision_id() for _ in range(20_000)]
    assert len(set(made)) == len(made)
    millis = [int(i[:12], 16) for i in made]
    assert millis == sorted(millis)
    # Across milliseconds the text order is the time order (what the log's index sees).
    firsts: dict[int, str] = {}
    for m, i in zip(millis, made, strict=True):
        firsts.setdefault(m, i)
    assert len(firsts) > 1, "all 20,000 ids in one millisecond: the order is not tested"
    assert list(firsts.values()) == sorted(firsts.values())


def test_the_engine_gives_each_decision_such_an_id() -> None:
    engine = Engine(load_policy_dir(REPO / "policies"))
    ids = [engine.decide(request(), TWO).decision_id for _ in range(3)]
    assert len(set(ids)) == 3
    assert all(uuid.UUID(hex=i).version == 7 for i in ids)


def test_threads_never_share_random_bits() -> None:
    made: list[list[str]] = [[] for _ in range(4)]

    def make(into: list[str]) -> None:
        into.extend(new_decision_id() for _ in range(5_000))

    threads = [threading.Thread(target=make, args=(into,)) for into in made]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [i for ids in made for i in ids]
    assert len(set(every)) == len(every) == 20_000


FORK = """
import os
from engine.ids import new_decision_id
new_decision_id()  # the pool now holds bits a forked child must not reuse
read, write = os.pipe()
child = os.fork()
if child == 0:
    os.write(write, new_decision_id()[12:].encode())
    os._exit(0)
os.waitpid(child, 0)
print(os.read(read, 64).decode(), new_decision_id()[12:])
"""


def test_a_forked_child_draws_its_own_random_bits() -> None:
    # In a process of its own: forking pytest's (threaded) process is unsafe.
    done = subprocess.run(
        [sys.executable, "-c", FORK], cwd=REPO, capture_output=True, text=True, check=True
    )
    child, parent = done.stdout.split()
    assert len(child) == len(parent) == 20 and child != parent
