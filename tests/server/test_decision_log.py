"""The decision log keeps compact rows, gives every logged request back exactly, reads
rows of the old format, and waits out another process's lock without stalling."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import DecideRequest, Engine, Settings, load_policy_dir
from server.config import REPO_POLICY_DIR
from server.db.connection import make_engine, migrate, sqlite_path
from server.db.decision_log import DecisionLog, iter_logged, iter_logged_requests
from server.db.tables import Tables, build_tables
from tests.server.helpers import decide_body

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
import strategies as gen

ENGINE = Engine(load_policy_dir(REPO_POLICY_DIR))
SETTINGS = Settings(enabled_external_channels=["ebay", "amazon"])


async def _open(database_url: str) -> Tables:
    engine = make_engine(database_url)
    tables = build_tables(engine)
    await migrate(engine, tables)
    return tables


def test_rows_are_compact_and_keep_the_queryable_columns(database_url: str) -> None:
    async def run() -> list[dict[str, object]]:
        tables = await _open(database_url)
        log = DecisionLog(tables)
        request = msgspec.convert(decide_body(), DecideRequest)
        decision = ENGINE.decide(request, SETTINGS)
        await log.record([request], [decision], SETTINGS)
        await log.drain()
        rows: list[dict[str, object]] = await tables.decision_log.select().run()
        return rows

    (row,) = asyncio.run(run())
    assert row["rule_id"] == "dead-stock" and row["merchant_id"] == "acme"
    assert row["policy_name"] == "channel-routing" and len(str(row["policy_sha256"])) == 64
    assert isinstance(row["created_at"], datetime)
    facts, outcome = str(row["facts"]), str(row["decision"])
    # The request without its defaults, and the outcome in a few keys: no trace, no
    # parameters, nothing the policy and the request give back.
    assert len(facts) + len(outcome) < 400, (facts, outcome)
    assert "trace" not in outcome and "moderate_external_percent" not in outcome
    assert msgspec.json.decode(outcome) == {
        "s": 18,
        "c": [["ebay", 21], ["amazon", 21]],
        "p": True,
        "m": {"enabled_external_channels": ["ebay", "amazon"]},
    }


@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    cases=st.lists(
        st.tuples(gen.requests(overrides=gen.default_policy_overrides()), gen.settings()),
        min_size=20,
        max_size=40,
    )
)
def test_every_logged_request_comes_back_exactly(
    database_url: str, cases: list[tuple[DecideRequest, Settings | None]]
) -> None:
    """What `policy diff --from-log` replays: the request and the settings, as decided."""

    async def run() -> None:
        tables = await _open(database_url)
        log = DecisionLog(tables)
        decided = {}
        for request, settings_ in cases:
            try:
                decision = ENGINE.decide(request, settings_)
            except ValueError:  # a refused override: nothing to log
                continue
            decided[decision.decision_id] = (request, settings_ or Settings())
            await log.record([request], [decision], settings_ or Settings())
        await log.drain()
        back = {
            entry.decision_id: (entry.request, entry.settings)
            async for entry in iter_logged(tables, chunk=7)
            if entry.decision_id in decided
        }
        assert back == decided
        assert [pair async for pair in iter_logged_requests(tables, limit=1)]

    asyncio.run(run())


def test_the_reader_filters_and_reads_rows_of_the_old_format(database_url: str) -> None:
    async def run() -> None:
        tables = await _open(database_url)
        log = DecisionLog(tables)
        new = msgspec.convert(decide_body(stock_quantity=5, days_since_last_sale=1), DecideRequest)
        await log.record([new], [ENGINE.decide(new, SETTINGS)], SETTINGS)
        await log.drain()
        old = msgspec.convert(decide_body("zeta"), DecideRequest)
        decision = ENGINE.decide(old, SETTINGS)
        table = tables.decision_log
        await table.insert(  # a row as written before the compact format
            table(
                decision_id=decision.decision_id,
                merchant_id="zeta",
                facts=msgspec.json.encode(old).decode(),
                decision=msgspec.json.encode(decision).decode(),
                policy_name=decision.policy.name,
                policy_version=decision.policy.version,
                policy_sha256=decision.policy.sha256,
                rule_id=decision.rule_id,
                created_at=datetime.now(UTC),
            )
        ).run()
        everything = [entry async for entry in iter_logged(tables)]
        assert [e.merchant_id for e in everything] == ["acme", "zeta"]
        legacy = everything[1]
        assert legacy.request == old and legacy.settings is None
        assert legacy.store_units == decision.store_units
        assert legacy.external == [
            (a.channel, a.allocated_units) for a in decision.external_channels
        ]
        only = [e.merchant_id async for e in iter_logged(tables, merchant_id="zeta")]
        assert only == ["zeta"]
        first = [e.rule_id async for e in iter_logged(tables, limit=1)]
        assert first == ["low-stock-fresh"]
        later = datetime.now(UTC)
        assert [e async for e in iter_logged(tables, since=later)] == []

    asyncio.run(run())


def test_a_locked_sqlite_database_is_waited_for_off_the_event_loop(tmp_path: object) -> None:
    """Another process holds the write lock: the decision waits for it on a worker thread
    (the event loop keeps running), then lands."""
    database_url = f"sqlite:///{tmp_path}/db.sqlite3"

    async def run() -> tuple[int, int]:
        tables = await _open(database_url)
        log = DecisionLog(tables)
        request = msgspec.convert(decide_body(), DecideRequest)
        other = sqlite3.connect(sqlite_path(database_url), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # the write lock, as another process would hold it
        ticks = 0
        ticked = asyncio.Event()

        async def tick() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                if ticks >= 20:
                    ticked.set()
                await asyncio.sleep(0.01)

        ticker = asyncio.create_task(tick())
        writing = asyncio.create_task(log.record([request], [ENGINE.decide(request, SETTINGS)]))
        await asyncio.wait_for(ticked.wait(), 10)
        assert not writing.done()  # still waiting for the lock, and the loop ran meanwhile
        other.execute("COMMIT")
        other.close()
        await asyncio.wait_for(writing, 30)
        ticker.cancel()
        await log.drain()
        return ticks, await tables.decision_log.count().run()

    ticks, rows = asyncio.run(run())
    assert ticks >= 20 and rows == 1
