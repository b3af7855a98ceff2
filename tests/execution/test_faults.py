"""Campaign execution under faults, as separate processes over real HTTP (issue 7, items 7-8).

Each test runs a deployment from tests/execution/harness.py: the sandbox, a Redis, `serve`
and `worker` processes on one database, a merchant whose store and eBay and Amazon accounts
are connected through the API. What is checked is the sandbox's own state (GET
/_sandbox/live), not only what channel-router says: after every campaign's end no clearance
price is left on the store and no listing is live, and each SKU was listed once.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from execution.queue import job_id
from tests.execution.harness import (
    FAST_WORKER,
    Deployment,
    Merchant,
    campaign_body,
    deployment,
    wait_for,
)
from tests.server.conftest import database_url, postgres_url

__all__ = ["database_url", "postgres_url"]  # fixtures of both backends, as the server tests'

OFFER = "/sell/inventory/v1/offer"
LISTING_PATHS = ("/sell/inventory/v1/inventory_item", OFFER, "/listings/2021-08-01/items")


def ends_in(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def executed(d: Deployment, merchant: Merchant, body: dict[str, Any], **kw: Any) -> str:
    """Execute `body`; the campaign id of the 202."""
    response = d.execute(merchant, body, **kw)
    assert response.status_code == 202, response.text
    campaign_id: str = response.json()["campaign_id"]
    return campaign_id


def seeded_products(d: Deployment, count: int, first: int = 1000) -> list[tuple[str, str]]:
    """`count` (product id, variant id) pairs on the sandbox's store at 49.99."""
    products = [(str(first + i), f"{first + i}1") for i in range(count)]
    for product_id, variant_id in products:
        d.seed_product(product_id, variant_id, "49.99")
    return products


def listing_calls(d: Deployment) -> list[dict[str, Any]]:
    log: list[dict[str, Any]] = d.control("GET", "/_sandbox/requests", expect=200).json()
    return [r for r in log if r["path"].startswith(LISTING_PATHS)]


def assert_listed_once(d: Deployment, views: dict[str, dict[str, Any]]) -> None:
    """Every listing of these campaigns was created exactly once on its marketplace."""
    created = d.creations()
    for campaign_id, view in views.items():
        for item in view["listings"]:
            sku, channel = item["sku"], item["channel"]
            counts = (
                [created["ebay_offers"].get(sku), created["ebay_listings"].get(sku)]
                if channel == "ebay"
                else [created["amazon_listings"].get(sku)]
            )
            assert counts == [1] * len(counts), f"{campaign_id} {channel} {sku}: {counts}"


def ok_rows(view: dict[str, Any], step: str, call_suffix: str, channel: str | None = None) -> int:
    return sum(
        1
        for e in view["events"]
        if e["step"] == step
        and e["outcome"] == "ok"
        and e["call"].endswith(call_suffix)
        and (channel is None or e["channel"] == channel)
    )


@pytest.fixture
def fast_worker_env() -> dict[str, str]:
    return dict(FAST_WORKER)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/db/channel-router.sqlite3"


# 1. Faults on 30 % of marketplace calls ------------------------------------------------------


@pytest.mark.slow
def test_fifty_campaigns_reach_their_right_state_with_30_percent_of_calls_faulted(
    tmp_path: Path, sqlite_url: str, fast_worker_env: dict[str, str]
) -> None:
    """503s, 429s, 0.5 s answers and dropped connections (before and after the request was
    handled) on 30 % of eBay, Amazon and Login-with-Amazon calls. Of 50 campaigns, 5 send
    nothing external (the price changes and reverts), 5 are cancelled once active, 40 run to
    their end: every one ends in its right state, each listing made once and withdrawn."""
    # Steps get 25 s (a job timeout of 30 s) and listings are refreshed every 5 s: with 30 %
    # of calls faulted a step's calls take several seconds.
    env = {
        **fast_worker_env,
        "CHANNEL_ROUTER_WORKER_JOB_TIMEOUT_SECONDS": "30",
        "CHANNEL_ROUTER_WORKER_REFRESH_SECONDS": "5",
    }
    with deployment(tmp_path / "run", sqlite_url, workers=2, env=env) as d:
        merchant = d.create_merchant()
        products = seeded_products(d, 50)
        d.fault_marketplaces(0.3, seed=20261203)
        ends_at = ends_in(40)
        plans: dict[str, str] = {}
        for index, (product_id, variant_id) in enumerate(products):
            plan = {0: "store-only", 1: "cancel"}.get(index % 10, "end")
            shape: dict[str, Any] = (
                {"stock": 10, "days_since_last_sale": 3} if plan == "store-only" else {}
            )
            body = campaign_body(
                merchant, product_id, variant_id=variant_id, ends_at=ends_at, **shape
            )
            plans[executed(d, merchant, body)] = plan

        d.wait_status(merchant, list(plans), {"active"}, timeout=70)
        cancels = [c for c, plan in plans.items() if plan == "cancel"]
        for campaign_id in cancels:
            assert d.cancel(merchant, campaign_id).status_code == 202
        views = d.wait_status(merchant, cancels, {"cancelled"}, timeout=60)
        views.update(
            d.wait_status(
                merchant, [c for c in plans if c not in cancels], {"completed"}, timeout=90
            )
        )

        for campaign_id, plan in plans.items():
            view = views[campaign_id]
            assert view["store"]["status"] == "reverted", (campaign_id, view["store"])
            if plan == "store-only":
                assert view["listings"] == [], view["listings"]
                continue
            assert {li["channel"] for li in view["listings"]} == {"ebay", "amazon"}
            for item in view["listings"]:
                assert item["status"] == "ended" and item["allocated_units"] == 21, item
                assert item["external_listing_id"], item
        assert_listed_once(d, views)
        d.assert_nothing_left(views)
        struck = sum(10**9 - f["remaining"] for f in d.control("GET", "/_sandbox/faults").json())
        assert struck >= 50, f"only {struck} faults were injected"


# 2. A failing store ------------------------------------------------------------------------


def test_a_failing_store_fails_the_campaign_with_nothing_listed(
    tmp_path: Path, sqlite_url: str, redis_url: str, fast_worker_env: dict[str, str]
) -> None:
    """Shopify answers 500 to everything: after its tries the store step fails, the campaign
    is `failed`, and not one listing call reached a marketplace."""
    env = {**fast_worker_env, "CHANNEL_ROUTER_WORKER_MAX_TRIES": "2"}
    with deployment(tmp_path / "run", sqlite_url, redis_url=redis_url, env=env) as d:
        merchant = d.create_merchant()
        [(product_id, variant_id)] = seeded_products(d, 1)
        d.fail_store()
        campaign_id = executed(
            d, merchant, campaign_body(merchant, product_id, variant_id=variant_id)
        )

        view = d.wait_status(merchant, [campaign_id], {"failed"}, timeout=90)[campaign_id]

        assert view["store"]["status"] == "failed" and view["store"]["error"], view["store"]
        assert [li["status"] for li in view["listings"]] == ["skipped", "skipped"]
        assert listing_calls(d) == [], "a marketplace listing call was made"
        live = d.live()
        assert live["listings"] == [] and live["created"]["amazon_listings"] == {}
        assert live["store_prices"][variant_id] == "49.99"


# 3. A worker killed mid-campaign -------------------------------------------------------------


@pytest.mark.slow
def test_a_worker_killed_mid_campaign_is_finished_by_another_without_a_duplicate(
    tmp_path: Path, sqlite_url: str, fast_worker_env: dict[str, str]
) -> None:
    """eBay's createOffer answers after 4 s; the worker making it is SIGKILLed while it
    waits (the offer is made all the same). A second worker takes the job up once arq's
    lock on it lapses, finds the offer under the campaign's SKU and publishes it: one offer,
    one listing."""
    with deployment(tmp_path / "run", sqlite_url, workers=1, env=fast_worker_env) as d:
        merchant = d.create_merchant()
        [(product_id, variant_id)] = seeded_products(d, 1)
        d.inject(kind="delay", api="ebay", path_prefix=OFFER, method="POST", delay_seconds=4)
        campaign_id = executed(
            d, merchant, campaign_body(merchant, product_id, variant_id=variant_id)
        )

        wait_for(
            lambda: any(r["fault"] == "delay" and r["path"] == OFFER for r in listing_calls(d)),
            timeout=60,
            what="the createOffer call under way",
            describe=d.logs,
        )
        first = d.workers[0]
        first.kill(signal.SIGKILL)
        d.start_worker()

        view = d.wait_status(merchant, [campaign_id], {"active"}, timeout=75)[campaign_id]
        assert not first.running()
        assert {li["channel"]: li["status"] for li in view["listings"]}["ebay"] == "active"
        assert_listed_once(d, {campaign_id: view})

        assert d.cancel(merchant, campaign_id).status_code == 202
        views = d.wait_status(merchant, [campaign_id], {"cancelled"}, timeout=60)
        assert_listed_once(d, views)
        d.assert_nothing_left(views)


# 4. Redis forgets ------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("forget", ["flushdb", "restart"])
def test_overdue_campaigns_still_end_from_the_database_when_redis_forgets(
    tmp_path: Path, sqlite_url: str, fast_worker_env: dict[str, str], forget: str
) -> None:
    """The deferred end jobs are in Redis; FLUSHDB (or a restart without persistence)
    loses them. The worker's sweep reads the overdue campaigns from the database and ends
    them all the same, and the worker rode the restart out (none was started again)."""
    with deployment(tmp_path / "run", sqlite_url, workers=1, env=fast_worker_env) as d:
        merchant = d.create_merchant()
        ends_at = ends_in(15)
        ids = [
            executed(d, merchant, campaign_body(merchant, p, variant_id=v, ends_at=ends_at))
            for p, v in seeded_products(d, 3)
        ]
        d.wait_status(merchant, ids, {"active"}, timeout=14)
        with _redis(d.redis_url) as client:
            ends = [f"arq:job:{job_id(c, 'end', prefix=d.redis_prefix)}" for c in ids]
            assert client.exists(*ends) == len(ids), "the deferred end jobs are not queued"
            if forget == "flushdb":
                d.flush_redis()
            else:
                d.restart_redis()
            assert client.exists(*ends) == 0
            _connected_or_exited(d, client)
        assert d.revive_workers() == 0, d.logs()

        views = d.wait_status(merchant, ids, {"completed"}, timeout=60)
        d.assert_nothing_left(views)
        assert_listed_once(d, views)


def test_a_worker_rides_out_a_redis_restart(
    tmp_path: Path, sqlite_url: str, fast_worker_env: dict[str, str]
) -> None:
    """Redis stays down until the worker has met its absence (a ConnectionError in its log,
    or its exit), then comes back: the worker must still be running and connected, have
    said so once (not a line per try), and run the next campaign with the same process."""
    with deployment(tmp_path / "run", sqlite_url, workers=1, env=fast_worker_env) as d:
        worker = d.workers[0]
        with _redis(d.redis_url) as client:
            wait_for(lambda: _health_key(d, client), timeout=60, what="the worker on Redis")

            def down_a_while() -> None:
                wait_for(
                    lambda: "ConnectionError" in worker.tail(200) or not worker.running(),
                    timeout=30,
                    what="the worker meeting Redis gone",
                )
                # Down for 4 s more: the worker tries again at 0.5, 1.5, 3.5 s, silently.
                until = time.monotonic() + 4
                wait_for(lambda: time.monotonic() > until, timeout=10, what="4 s of outage")

            d.restart_redis(while_down=down_a_while)
            _connected_or_exited(d, client)
        assert not d.crashed(), d.logs()
        assert worker.running()
        log = worker.log_path.read_text(errors="replace")
        assert log.count("Redis went away") == 1 and "Redis is back" in log, log

        merchant = d.create_merchant()
        [(product_id, variant_id)] = seeded_products(d, 1)
        campaign_id = executed(
            d, merchant, campaign_body(merchant, product_id, variant_id=variant_id)
        )
        d.wait_status(merchant, [campaign_id], {"active"}, timeout=60)
        assert d.workers == [worker], "another worker was started"


def test_a_worker_started_while_redis_is_down_waits_for_it(
    tmp_path: Path, sqlite_url: str, fast_worker_env: dict[str, str]
) -> None:
    """A worker (re)started during an outage says once that Redis cannot be reached, and
    starts when it answers (arq's own start gives up after five tries, a line each)."""
    with deployment(tmp_path / "run", sqlite_url, workers=0, env=fast_worker_env) as d:

        def start_while_down() -> None:
            worker = d.start_worker()
            wait_for(
                lambda: "Redis cannot be reached" in worker.tail(50) or not worker.running(),
                timeout=30,
                what="the worker waiting for Redis",
                describe=worker.tail,
            )
            until = time.monotonic() + 6  # past arq's five tries a second
            wait_for(lambda: time.monotonic() > until, timeout=10, what="6 s of outage")

        with _redis(d.redis_url) as client:
            d.restart_redis(while_down=start_while_down)
            wait_for(lambda: _health_key(d, client), timeout=30, what="the worker on Redis",
                     describe=d.logs)  # fmt: skip
        assert not d.crashed(), d.logs()
        log = d.workers[0].log_path.read_text(errors="replace")
        assert log.count("Redis cannot be reached") == 1 and "Redis answers after" in log, log


def _health_key(d: Deployment, client: redis.Redis) -> bool:
    """arq's worker writes its health-check key every second while it is connected."""
    return bool(client.exists(f"{d.redis_prefix}:campaigns:health-check"))


def _connected_or_exited(d: Deployment, client: redis.Redis) -> None:
    """Wait until every worker is back on the (new) Redis or has exited."""
    wait_for(
        lambda: _health_key(d, client) or all(not w.running() for w in d.workers),
        timeout=30,
        what="the worker back on Redis, or gone",
        describe=d.logs,
    )


@contextmanager
def _redis(url: str) -> Iterator[redis.Redis]:
    conn = redis.Redis.from_url(url)
    try:
        yield conn
    finally:
        conn.close()


# 5. Scale-out: two serves, two workers, every job once ----------------------------------------


def test_two_workers_run_every_job_once_and_list_every_listing_once(
    tmp_path: Path, database_url: str, redis_url: str, fast_worker_env: dict[str, str]
) -> None:
    """Two `serve` and two `worker` processes on one Redis and one database. Each campaign
    is sent twice at once, to both APIs, under one Idempotency-Key (a client's retry): one
    campaign. Every step ran once (one successful store-price and create call per channel in
    the timeline, on the job's first try), every listing was created once in the sandbox, and
    the store price was changed exactly twice (set, reverted)."""
    with deployment(
        tmp_path / "run",
        database_url,
        serves=2,
        workers=2,
        redis_url=redis_url,
        env=fast_worker_env,
    ) as d:
        merchant = d.create_merchant()
        products = seeded_products(d, 8)
        ids: list[str] = []
        with ThreadPoolExecutor(max_workers=2) as pool:
            for product_id, variant_id in products:
                body = campaign_body(merchant, product_id, variant_id=variant_id)
                key = f"key-{product_id}"
                calls = [
                    pool.submit(d.execute, merchant, body, key, serve=serve) for serve in (0, 1)
                ]
                answers = [call.result() for call in calls]
                assert [a.status_code for a in answers] in ([202, 202], [202, 200], [200, 202])
                same = {a.json()["campaign_id"] for a in answers}
                assert len(same) == 1, same
                ids.append(same.pop())

        d.wait_status(merchant, ids, {"active"}, timeout=60)
        for index, campaign_id in enumerate(ids):
            url = f"{d.api(index)}/v1/campaigns/{campaign_id}/cancel"
            assert d.http.post(url, headers=merchant.auth).status_code == 202
        views = d.wait_status(merchant, ids, {"cancelled"}, timeout=60)

        for view in views.values():
            assert ok_rows(view, "store-price", "update_price") == 1, view["events"]
            for channel in ("ebay", "amazon"):
                assert ok_rows(view, "list", "create_listing", channel) == 1, view["events"]
            firsts = {e["attempt"] for e in view["events"] if e["step"] in ("store-price", "list")}
            assert firsts == {1}, view["events"]
        assert_listed_once(d, views)
        updates = httpx.get(d.sandbox_url + "/_sandbox/shopify/price-updates").json()
        for _, variant_id in products:
            mine = [u for u in updates if u["variant_id"].endswith(f"/{variant_id}")]
            assert [(u["old_price"], u["new_price"]) for u in mine] == [
                ("49.99", "19.99"),
                ("19.99", "49.99"),
            ], mine
        d.assert_nothing_left(views)
