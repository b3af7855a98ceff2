"""The campaign endpoints (CONTRACT §4, docs/api.md): POST /v1/execute, GET and cancel a
campaign, and a merchant's list, on both database backends and a real Redis.

What the worker does with a campaign is tested with the worker; here the campaign is what
the API stores and queues. arq's own queue is read back from Redis to see the jobs, and
the campaign store (execution.store, a real one on the same database) stands in for the
worker where a test needs a campaign in another state.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import dataclasses
import json
import secrets
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from execution import queue
from execution.states import Event, PriceFailed
from execution.store import CampaignStore
from server.config import ServiceConfig
from server.db.connection import make_engine
from server.db.tables import build_tables
from server.processes.redis_private import PrivateRedis, free_port
from tests.server.helpers import Api, decide_body, serving_api

KEY = "Idempotency-Key"


@dataclasses.dataclass
class Shop:
    """A running API with merchants acme (eBay and Amazon enabled), solo (no channel)
    and zeta, and ways to look at the job queue and the campaign store."""

    api: Api
    keys: dict[str, str]
    jobs: redis.Redis

    def headers(self, who: str, key: str | None = None) -> dict[str, str]:
        headers = {} if who == "none" else {"Authorization": f"Bearer {self.keys[who]}"}
        if key is not None:
            headers[KEY] = key
        return headers

    def execute(
        self, body: dict[str, Any], key: str | None = None, who: str = "acme"
    ) -> httpx.Response:
        return self.api.http.post(
            "/v1/execute", json=body, headers=self.headers(who, key or new_key())
        )

    def queued(self) -> dict[str, float]:
        """Job id -> when it is due (ms since the epoch), from arq's queue in Redis."""
        name = queue.queue_name(self.api.config.redis_prefix)
        return {k.decode(): s for k, s in self.jobs.zrange(name, 0, -1, withscores=True)}

    def store(self, *events: Event, campaign_id: str) -> None:
        """Apply events to a campaign as the worker would, through the real store."""

        async def apply() -> None:
            engine = make_engine(self.api.config.database_url)
            await CampaignStore(build_tables(engine)).apply(campaign_id, *events)

        asyncio.run(apply())


def new_key() -> str:
    return "k-" + secrets.token_hex(8)


def new_id(prefix: str = "c") -> str:
    """A campaign id of this run only (arq keeps job ids in Redis for a day and more)."""
    return f"{prefix}-{secrets.token_hex(6)}"


def forget_jobs(jobs: redis.Redis, prefix: str) -> None:
    """Remove this test's jobs from the shared Redis."""
    name = queue.queue_name(prefix)
    for job_id in jobs.zrange(name, 0, -1):
        jobs.delete(b"arq:job:" + job_id)
    jobs.delete(name)


@pytest.fixture
def shop(api: Api) -> Iterator[Shop]:
    keys = {
        "admin": str(api.config.admin_token),
        "acme": api.create_merchant("acme", enabled_external_channels=["ebay", "amazon"]),
        "solo": api.create_merchant("solo"),
        "zeta": api.create_merchant("zeta", enabled_external_channels=["ebay"]),
    }
    jobs = redis.Redis.from_url(str(api.config.redis_url))
    try:
        yield Shop(api=api, keys=keys, jobs=jobs)
    finally:
        forget_jobs(jobs, api.config.redis_prefix)
        jobs.close()


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# Execute -------------------------------------------------------------------------------


def test_execute_stores_the_campaign_and_queues_its_start_and_end(shop: Shop) -> None:
    before = datetime.now(UTC)
    r = shop.execute(decide_body("acme"))
    assert r.status_code == 202, r.text
    assert r.headers["Idempotent-Replayed"] == "false"
    c = r.json()
    assert c["merchant_id"] == "acme" and c["status"] == "pending"
    assert c["clearance_price"] == "19.99" and c["original_price"] == "49.99"
    assert c["decision"]["rule_id"] == "dead-stock"
    assert c["store"] == {"status": "pending"}
    assert c["end"] is None and c["events"] == []
    listings = {item["channel"]: item for item in c["listings"]}
    assert set(listings) == {"ebay", "amazon"}
    for item in listings.values():
        assert item["status"] == "pending" and item["units_sold"] == 0
        assert item["allocated_units"] == 21 and item["external_listing_id"] is None
        assert item["sku"].startswith("cr-4410-") and len(item["sku"]) <= 50
    assert listings["ebay"]["sku"] != listings["amazon"]["sku"]
    # Default end: now + duration_hours (168).
    ends_at = parse_time(c["ends_at"])
    assert before + timedelta(hours=168) <= ends_at <= datetime.now(UTC) + timedelta(hours=168)
    jobs = shop.queued()
    start = queue.job_id(c["campaign_id"], "start", prefix=shop.api.config.redis_prefix)
    end = queue.job_id(c["campaign_id"], "end", prefix=shop.api.config.redis_prefix)
    assert set(jobs) == {start, end}
    assert jobs[end] == pytest.approx(ends_at.timestamp() * 1000, abs=1)
    assert jobs[start] <= datetime.now(UTC).timestamp() * 1000
    # The campaign reads back the same, and the decision was logged like any other.
    got = shop.api.http.get(f"/v1/campaigns/{c['campaign_id']}", headers=shop.headers("acme"))
    assert got.status_code == 200 and got.json() == c
    stats = shop.api.http.get(
        "/v1/policies/channel-routing/stats", headers=shop.headers("acme")
    ).json()
    assert stats["decisions"] == 1


def test_the_same_key_sent_at_once_makes_one_campaign_and_one_set_of_jobs(shop: Shop) -> None:
    key, body = new_key(), decide_body("acme")
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: shop.execute(body, key), range(8)))
    assert [a.status_code for a in answers] == [202] * 8, [a.text for a in answers]
    assert len({a.json()["campaign_id"] for a in answers}) == 1
    replayed = sorted(a.headers["Idempotent-Replayed"] for a in answers)
    assert replayed == ["false"] + ["true"] * 7
    (campaign_id,) = {a.json()["campaign_id"] for a in answers}
    assert set(shop.queued()) == {
        queue.job_id(campaign_id, "start", prefix=shop.api.config.redis_prefix),
        queue.job_id(campaign_id, "end", prefix=shop.api.config.redis_prefix),
    }
    listed = shop.api.http.get("/v1/campaigns", headers=shop.headers("acme")).json()
    assert [c["campaign_id"] for c in listed["campaigns"]] == [campaign_id]


def test_a_replay_in_other_whitespace_and_key_order_is_the_same_campaign(shop: Shop) -> None:
    key = new_key()
    ends_at = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    body = {**decide_body("acme"), "ends_at": ends_at.strftime("%Y-%m-%dT%H:%M:%SZ")}
    body["overrides"] = {"dead_external_percent": 60, "moderate_external_percent": 30}
    first = shop.execute(body, key)
    assert first.status_code == 202, first.text
    # Keys reversed at every level, other spacing, the same instant at another offset.
    reordered = _reversed(copy.deepcopy(body))
    reordered["ends_at"] = ends_at.astimezone(timezone(timedelta(hours=2))).isoformat()
    text = json.dumps(reordered, indent=3, separators=(" ,", " :  "))
    again = shop.api.http.post(
        "/v1/execute",
        content=text,
        headers={**shop.headers("acme", key), "Content-Type": "application/json"},
    )
    assert again.status_code == 202, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["campaign_id"] == first.json()["campaign_id"]


def _reversed(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reversed(value[k]) for k in reversed(list(value))}
    return value


def test_the_same_key_with_another_body_is_409_and_changes_nothing(shop: Shop) -> None:
    key = new_key()
    first = shop.execute(decide_body("acme"), key)
    assert first.status_code == 202
    for body in (
        decide_body("acme", stock_quantity=61),
        {**decide_body("acme"), "campaign_id": new_id()},
        {**decide_body("acme"), "overrides": {"dead_external_percent": 50}},
    ):
        r = shop.execute(body, key)
        assert r.status_code == 409, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert "Idempotency-Key" in r.json()["detail"]
    assert len(shop.queued()) == 2
    # A key belongs to its merchant: another merchant may use the same text.
    other = shop.execute(decide_body("zeta"), key, who="zeta")
    assert other.status_code == 202, other.text
    assert other.json()["campaign_id"] != first.json()["campaign_id"]


def test_a_campaign_id_made_under_another_key_is_409(shop: Shop) -> None:
    campaign_id = new_id()
    body = {**decide_body("acme"), "campaign_id": campaign_id}
    first = shop.execute(body)
    assert first.status_code == 202, first.text
    assert first.json()["campaign_id"] == campaign_id
    again = shop.execute(body)  # another key
    assert again.status_code == 409, again.text
    assert campaign_id in again.json()["detail"]
    # Raced by many keys at once: one campaign, every other answer 409.
    raced = {**decide_body("acme"), "campaign_id": new_id()}
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: shop.execute(raced), range(6)))
    assert sorted(a.status_code for a in answers) == [202] + [409] * 5, [a.text for a in answers]
    # A losing key was not spent: it can make a campaign of its own.
    loser_key = new_key()
    assert shop.execute(raced, loser_key).status_code == 409
    fresh = {**decide_body("acme"), "campaign_id": new_id()}
    assert shop.execute(fresh, loser_key).status_code == 202


@pytest.mark.parametrize(
    ("ends_at", "field"),
    [
        (lambda now: now - timedelta(seconds=1), "ends_at"),
        (lambda now: now, "ends_at"),
        (lambda now: now + timedelta(days=90, minutes=5), "ends_at"),
        (lambda now: now + timedelta(days=400), "ends_at"),
    ],
    ids=["past", "now", "just-over-90-days", "a-year"],
)
def test_ends_at_must_be_future_and_within_90_days(
    shop: Shop, ends_at: Callable[[datetime], datetime], field: str
) -> None:
    body = {**decide_body("acme"), "ends_at": ends_at(datetime.now(UTC)).isoformat()}
    r = shop.execute(body)
    assert r.status_code == 422, r.text
    assert [p["name"] for p in r.json()["invalid_params"]] == [field]
    assert shop.queued() == {}


def test_ends_at_inside_the_bounds_is_the_campaign_end(shop: Shop) -> None:
    for delta in (timedelta(minutes=2), timedelta(days=90) - timedelta(minutes=2)):
        ends_at = datetime.now(UTC) + delta
        r = shop.execute({**decide_body("acme"), "ends_at": ends_at.isoformat()})
        assert r.status_code == 202, r.text
        assert parse_time(r.json()["ends_at"]) == ends_at


@pytest.mark.parametrize("ends_at", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+01:00"])
def test_an_ends_at_with_no_utc_form_is_422(shop: Shop, ends_at: str) -> None:
    r = shop.execute({**decide_body("acme"), "ends_at": ends_at})
    assert r.status_code == 422, r.text
    assert [p["name"] for p in r.json()["invalid_params"]] == ["ends_at"]
    cursor = base64.urlsafe_b64encode(json.dumps([ends_at, "c-1"]).encode()).decode()
    r = shop.api.http.get(f"/v1/campaigns?cursor={cursor}", headers=shop.headers("acme"))
    assert r.status_code == 422, r.text
    assert r.json()["invalid_params"][0]["name"] == "cursor"


def test_ends_at_needs_an_offset_and_a_long_default_duration_is_refused(shop: Shop) -> None:
    naive = {**decide_body("acme"), "ends_at": "2030-01-01T00:00:00"}
    r = shop.execute(naive)
    assert r.status_code == 422 and r.json()["invalid_params"][0]["name"] == "ends_at"
    long = decide_body("acme")
    long["proposal"]["duration_hours"] = 91 * 24
    r = shop.execute(long)
    assert r.status_code == 422, r.text
    assert r.json()["invalid_params"][0]["name"] == "proposal.duration_hours"
    # With an ends_at within bounds the duration does not decide the end.
    r = shop.execute({**long, "ends_at": (datetime.now(UTC) + timedelta(days=5)).isoformat()})
    assert r.status_code == 202, r.text


@pytest.mark.parametrize(
    "value",
    [None, "", "x" * 201, "tab\there", "é-accent", "x" * 200, "order 42 / retry"],
    ids=["missing", "empty", "too-long", "control", "non-ascii", "longest", "inner-spaces"],
)
def test_the_idempotency_key_header_is_required_and_checked(shop: Shop, value: str | None) -> None:
    headers = shop.headers("acme")
    raw: list[tuple[bytes, bytes]] = [(k.encode(), v.encode()) for k, v in headers.items()]
    if value is not None:
        raw.append((KEY.encode(), value.encode("utf-8")))
    r = shop.api.http.post("/v1/execute", json=decide_body("acme"), headers=raw)
    if value in ("x" * 200, "order 42 / retry"):
        assert r.status_code == 202, r.text
        return
    assert r.status_code == 422, r.text
    assert r.json()["invalid_params"][0]["name"] == KEY
    assert shop.queued() == {}


def test_a_bad_key_and_a_bad_body_are_named_together(shop: Shop) -> None:
    body = decide_body("acme", stock_quantity=-1)
    body["colour"] = "red"
    r = shop.api.http.post("/v1/execute", json=body, headers=shop.headers("acme"))
    assert r.status_code == 422, r.text
    names = {p["name"] for p in r.json()["invalid_params"]}
    assert names == {KEY, "colour", "product.stock_quantity"}


def test_a_campaign_needs_the_store_ids_of_the_variant_it_reprices(shop: Shop) -> None:
    body = decide_body("acme")
    del body["product"]["variant_id"]
    r = shop.execute(body)
    assert r.status_code == 422, r.text
    assert [p["name"] for p in r.json()["invalid_params"]] == ["product.variant_id"]
    # Ids a decision takes (up to 200 characters) but a campaign keeps up to 64.
    r = shop.execute(decide_body("acme", product_id="", variant_id="7" * 65))
    assert r.status_code == 422, r.text
    names = [p["name"] for p in r.json()["invalid_params"]]
    assert names == ["product.product_id", "product.variant_id"]
    r = shop.execute(decide_body("acme", product_id="8" * 64, variant_id="7" * 64))
    assert r.status_code == 202, r.text
    assert len(shop.queued()) == 2


def test_a_decision_that_sends_nothing_external_is_still_a_campaign(shop: Shop) -> None:
    r = shop.execute(decide_body("solo"), who="solo")
    assert r.status_code == 202, r.text
    c = r.json()
    assert c["listings"] == [] and c["decision"]["external_channels"] == []
    assert c["status"] == "pending" and c["store"]["status"] == "pending"
    assert (
        queue.job_id(c["campaign_id"], "start", prefix=shop.api.config.redis_prefix)
        in shop.queued()
    )


def test_an_unknown_merchant_is_404_for_the_admin(shop: Shop) -> None:
    r = shop.execute(decide_body("nobody"), who="admin")
    assert r.status_code == 404, r.text
    assert shop.queued() == {}


def test_without_redis_execute_answers_503_and_reading_works(config: ServiceConfig) -> None:
    with serving_api(dataclasses.replace(config, redis_url=None)) as api:
        api.create_merchant("acme", enabled_external_channels=["ebay"])
        r = api.http.post(
            "/v1/execute", json=decide_body("acme"), headers={**api.admin, KEY: new_key()}
        )
        assert r.status_code == 503, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert int(r.headers["Retry-After"]) >= 1
        assert "CHANNEL_ROUTER_REDIS_URL" in r.json()["detail"]
        listed = api.http.get("/v1/campaigns?merchant_id=acme", headers=api.admin)
        assert listed.status_code == 200 and listed.json()["campaigns"] == []


def test_a_campaign_stored_while_redis_was_down_is_queued_by_the_replay(
    config: ServiceConfig,
) -> None:
    port = free_port()
    first = PrivateRedis(port=port).start()
    with serving_api(dataclasses.replace(config, redis_url=first.url)) as api:
        api.create_merchant("acme", enabled_external_channels=["ebay"])
        headers, body = {**api.admin, KEY: new_key()}, decide_body("acme")
        first.stop()
        down = api.http.post("/v1/execute", json=body, headers=headers)
        assert down.status_code == 503, down.text
        assert "same Idempotency-Key" in down.json()["detail"]
        assert int(down.headers["Retry-After"]) >= 1
        stored = api.http.get("/v1/campaigns?merchant_id=acme", headers=api.admin).json()
        (campaign,) = stored["campaigns"]
        again = PrivateRedis(port=port).start()
        try:
            replay = api.http.post("/v1/execute", json=body, headers=headers)
            assert replay.status_code == 202, replay.text
            assert replay.headers["Idempotent-Replayed"] == "true"
            assert replay.json()["campaign_id"] == campaign["campaign_id"]
            jobs = redis.Redis.from_url(again.url)
            queued = {k.decode() for k in jobs.zrange(queue.queue_name(config.redis_prefix), 0, -1)}
            assert queued == {
                queue.job_id(campaign["campaign_id"], "start", prefix=config.redis_prefix),
                queue.job_id(campaign["campaign_id"], "end", prefix=config.redis_prefix),
            }
            jobs.close()
        finally:
            again.stop()


# Reading, cancelling, authorization ----------------------------------------------------


def test_authorization_matrix(shop: Shop) -> None:
    made = shop.execute(decide_body("acme")).json()
    path = f"/v1/campaigns/{made['campaign_id']}"
    cases: list[tuple[str, str, Any, dict[str, int]]] = [
        ("POST", "/v1/execute", decide_body("acme"), {"admin": 202, "acme": 202, "zeta": 403}),
        ("GET", path, None, {"admin": 200, "acme": 200, "zeta": 403}),
        ("GET", "/v1/campaigns/no-such-campaign", None, {"admin": 404, "acme": 404, "zeta": 404}),
        ("POST", f"{path}/cancel", None, {"admin": 202, "acme": 202, "zeta": 403}),
        ("POST", "/v1/campaigns/no-such/cancel", None, {"admin": 404, "acme": 404, "zeta": 404}),
        ("GET", "/v1/campaigns?merchant_id=acme", None, {"admin": 200, "acme": 200, "zeta": 403}),
        ("GET", "/v1/campaigns", None, {"admin": 422, "acme": 200, "zeta": 200}),
    ]
    for method, url, body, expected in cases:
        for who in ("admin", "acme", "zeta", "none"):
            headers = shop.headers(who, new_key() if body is not None else None)
            r = shop.api.http.request(method, url, json=body, headers=headers)
            want = 401 if who == "none" else expected[who]
            assert r.status_code == want, (method, url, who, r.text)
            for secret in shop.keys.values():
                assert secret not in r.text
            if r.status_code >= 400:
                assert r.headers["content-type"].startswith("application/problem+json")
    # Without a token nothing of the body is read: a broken body is still 401.
    r = shop.api.http.post(
        "/v1/execute", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 401


def test_cancel_records_the_end_and_queues_it_now(shop: Shop) -> None:
    c = shop.execute(decide_body("acme")).json()
    campaign_id = c["campaign_id"]
    before = datetime.now(UTC)
    r = shop.api.http.post(f"/v1/campaigns/{campaign_id}/cancel", headers=shop.headers("acme"))
    assert r.status_code == 202, r.text
    cancelled = r.json()
    end = cancelled["end"]
    assert end["reason"] == "cancelled" and end["verified_at"] is None
    assert before - timedelta(seconds=1) <= parse_time(end["requested_at"]) <= datetime.now(UTC)
    # Nothing had started: the store price and listings will never be touched.
    assert cancelled["store"]["status"] == "skipped" and end["outstanding"] == []
    assert {item["status"] for item in cancelled["listings"]} == {"skipped"}
    end_now = queue.job_id(campaign_id, "end-now", prefix=shop.api.config.redis_prefix)
    jobs = shop.queued()
    assert end_now in jobs and jobs[end_now] <= datetime.now(UTC).timestamp() * 1000
    # Cancelling again changes nothing: the first request stands.
    again = shop.api.http.post(f"/v1/campaigns/{campaign_id}/cancel", headers=shop.headers("acme"))
    assert again.status_code == 202
    assert again.json()["end"] == end


def test_cancelling_a_final_campaign_answers_it_unchanged(shop: Shop) -> None:
    c = shop.execute(decide_body("acme")).json()
    campaign_id = c["campaign_id"]
    at = datetime.now(UTC)
    shop.store(PriceFailed(error="the store said no", at=at), campaign_id=campaign_id)
    failed = shop.api.http.get(f"/v1/campaigns/{campaign_id}", headers=shop.headers("acme"))
    assert failed.json()["status"] == "failed"
    r = shop.api.http.post(f"/v1/campaigns/{campaign_id}/cancel", headers=shop.headers("admin"))
    assert r.status_code == 202, r.text
    assert r.json() == failed.json()
    assert (
        queue.job_id(campaign_id, "end-now", prefix=shop.api.config.redis_prefix)
        not in shop.queued()
    )


# Listing -------------------------------------------------------------------------------


def _page_through(shop: Shop, limit: int, between: Callable[[], None] = lambda: None) -> list[str]:
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        r = shop.api.http.get("/v1/campaigns", params=params, headers=shop.headers("acme"))
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["campaigns"]) <= limit
        seen += [c["campaign_id"] for c in page["campaigns"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen
        between()


def test_pages_list_every_campaign_once_newest_first_while_others_are_made(shop: Shop) -> None:
    made = [shop.execute(decide_body("acme")).json()["campaign_id"] for _ in range(7)]
    shop.execute(decide_body("zeta"), who="zeta")  # another merchant's: never listed
    extra: list[str] = []

    def insert() -> None:
        extra.append(shop.execute(decide_body("acme")).json()["campaign_id"])

    seen = _page_through(shop, 3, insert)
    # Made while paging: newer than the first page, so not on the later ones.
    assert seen == list(reversed(made))
    assert len(extra) == 2
    everything = _page_through(shop, 200)
    assert everything == list(reversed(made + extra))
    assert _page_through(shop, 1) == everything


def test_the_status_filter_and_the_admins_view(shop: Shop) -> None:
    made = [shop.execute(decide_body("acme")).json()["campaign_id"] for _ in range(4)]
    failed = made[1]
    shop.store(PriceFailed(error="no", at=datetime.now(UTC)), campaign_id=failed)

    def listed(query: str, who: str = "acme") -> list[str]:
        r = shop.api.http.get(f"/v1/campaigns?{query}", headers=shop.headers(who))
        assert r.status_code == 200, r.text
        return [c["campaign_id"] for c in r.json()["campaigns"]]

    assert listed("status=failed") == [failed]
    assert listed("status=pending") == [m for m in reversed(made) if m != failed]
    assert listed("status=active") == []
    assert listed("merchant_id=acme&status=failed", "admin") == [failed]
    assert listed("merchant_id=zeta", "admin") == []
    for bad in ("status=done", "limit=0", "limit=201", "cursor=not-a-cursor", "limit=x"):
        r = shop.api.http.get(f"/v1/campaigns?{bad}", headers=shop.headers("acme"))
        assert r.status_code in (400, 422), (bad, r.text)
        assert r.json()["invalid_params"][0]["name"] == bad.split("=")[0]
    r = shop.api.http.get("/v1/campaigns?merchant_id=nobody", headers=shop.headers("admin"))
    assert r.status_code == 404


# No input gets a 5xx -------------------------------------------------------------------


def _nested(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    _nested,
    max_leaves=12,
)
_fields = st.sampled_from(
    ["merchant_id", "product", "proposal", "overrides", "policy_version", "campaign_id", "ends_at"]
)
# Any instant at any offset, the far ends of the calendar included.
_instants = st.datetimes(
    timezones=st.builds(
        timezone,
        st.timedeltas(
            min_value=-timedelta(hours=23, minutes=59), max_value=timedelta(hours=23, minutes=59)
        ).map(lambda t: timedelta(minutes=t // timedelta(minutes=1))),
    )
)
# Any value HTTP lets through to the app (RFC 9110 field-value: visible ASCII, space, tab,
# and obs-text bytes 0x80-0xFF); what the HTTP parser itself refuses never reaches us.
_field_bytes = st.sampled_from([9, *range(0x20, 0x7F), *range(0x80, 0x100)])
_header_values = st.one_of(
    st.none(),
    st.lists(_field_bytes, max_size=220).map(bytes),
    st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=210),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    changes=st.dictionaries(_fields, _json, max_size=3),
    ends_at=st.one_of(st.none(), _instants.map(datetime.isoformat), st.text()),
    key=_header_values,
    raw=st.one_of(st.none(), st.binary(max_size=60)),
)
def test_no_body_or_header_gets_a_5xx(
    shop: Shop, changes: dict[str, Any], ends_at: str | None, key: Any, raw: bytes | None
) -> None:
    body: dict[str, Any] = {**decide_body("acme"), **changes}
    if ends_at is not None:
        body["ends_at"] = ends_at
    headers: list[tuple[bytes, bytes]] = [
        (b"Authorization", f"Bearer {shop.keys['acme']}".encode()),
        (b"Content-Type", b"application/json"),
    ]
    if key is not None:
        value = key if isinstance(key, bytes) else key.encode()
        headers.append((KEY.encode(), value.strip(b" \t")))
    content = raw if raw is not None else json.dumps(body).encode()
    try:
        r = shop.api.http.post("/v1/execute", content=content, headers=headers)
    except httpx.LocalProtocolError:
        return  # a header value the client itself refuses to send
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        assert r.headers["content-type"].startswith("application/problem+json")
    # Whatever id the body named reads back without a 5xx (a 404 or 422 when it is not one).
    campaign_id = quote(str(changes.get("campaign_id", "x"))[:64] or "x", safe="")
    for path in (f"/v1/campaigns/{campaign_id}", f"/v1/campaigns/{campaign_id}/cancel"):
        method = "POST" if path.endswith("/cancel") else "GET"
        got = shop.api.http.request(method, path, headers=headers[:1])
        assert got.status_code < 500, got.text


_query_values = st.one_of(
    st.text(max_size=80),
    st.tuples(_instants.map(datetime.isoformat), st.text(max_size=70)).map(
        lambda c: base64.urlsafe_b64encode(json.dumps(list(c)).encode()).decode()
    ),
    st.sampled_from(["pending", "failed", "0", "1", "200", "201", "-1", "1e2", "", "null"]),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    query=st.dictionaries(
        st.sampled_from(["merchant_id", "status", "limit", "cursor", "other"]), _query_values
    ),
    who=st.sampled_from(["admin", "acme", "zeta", "none"]),
)
def test_no_listing_query_gets_a_5xx(shop: Shop, query: dict[str, str], who: str) -> None:
    r = shop.api.http.get("/v1/campaigns", params=query, headers=shop.headers(who))
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        assert r.headers["content-type"].startswith("application/problem+json")


_text = st.text(alphabet=st.characters(blacklist_categories=["Cc", "Cs"]), max_size=200)
_money = st.decimals(min_value=0, max_value=999_999_999, places=2).map(str)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    product=st.fixed_dictionaries(
        {
            "product_id": _text,
            "variant_id": st.none() | _text,
            "title": _text,
            "category": _text,
            "stock_quantity": st.integers(0, 1_000_000_000),
            "days_since_last_sale": st.integers(0, 1_000_000_000),
        },
        optional={"current_price": _money},
    ),
    price=_money,
    hours=st.integers(1, 24 * 366),
    campaign_id=st.none() | st.from_regex(r"\A[A-Za-z0-9._-]{1,64}\Z"),
)
def test_no_well_formed_request_gets_a_5xx(
    shop: Shop, product: dict[str, Any], price: str, hours: int, campaign_id: str | None
) -> None:
    """Every value the schema takes is either a campaign or a 4xx (stored columns, SKUs and
    the decision included), on both backends."""
    body: dict[str, Any] = {
        "merchant_id": "acme",
        "product": product,
        "proposal": {"proposed_price": price, "duration_hours": hours},
    }
    if campaign_id is not None:
        body["campaign_id"] = f"{campaign_id[:51]}-{secrets.token_hex(6)}"
    r = shop.execute(body)
    assert r.status_code in (202, 409, 422), r.text
