"""/v1/decide and /v1/decide/batch: the docs/api.md example, order, limits,
the decision log, and the metrics."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from server.db.connection import make_engine
from server.db.decision_log import LoggedDecision, iter_logged
from server.db.tables import build_tables
from tests.server.helpers import Api, decide_body
from tests.server.test_api_merchants import _rows


def _logged(database_url: str) -> list[LoggedDecision]:
    async def read() -> list[LoggedDecision]:
        return [entry async for entry in iter_logged(build_tables(make_engine(database_url)))]

    return asyncio.run(read())


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_contract_example_decision(api: Api) -> None:
    key = api.create_merchant("acme", enabled_external_channels=["ebay", "amazon"])
    r = api.http.post("/v1/decide", json=decide_body(), headers=_bearer(key))
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    d = r.json()
    policies = api.http.get("/v1/policies", headers=_bearer(key)).json()["policies"]
    active = next(p for p in policies if p["name"] == "channel-routing")
    version = next(v for v in active["versions"] if v["version"] == active["active_version"])
    assert d["policy"] == {
        "name": "channel-routing",
        "version": active["active_version"],
        "sha256": version["sha256"],
    }
    assert d["merchant_id"] == "acme"
    assert d["rule_id"] == "dead-stock"
    assert d["store"] is True and d["external_priority"] is True
    assert d["store_units"] == 18
    assert d["external_channels"] == [
        {"channel": "ebay", "allocated_units": 21, "price": "19.99", "duration_days": 7},
        {"channel": "amazon", "allocated_units": 21, "price": "19.99", "duration_days": 7},
    ]
    assert [t["rule_id"] for t in d["trace"]][:1] == ["merchant-opt-out"]
    assert d["decision_id"]


def test_batch_answers_in_order_like_single_decisions(api: Api) -> None:
    key = api.create_merchant("acme", enabled_external_channels=["ebay"])
    products: list[dict[str, Any]] = [
        {"stock_quantity": 10, "days_since_last_sale": 3},
        {"stock_quantity": 100, "days_since_last_sale": 20},
        {"stock_quantity": 60, "days_since_last_sale": 45},
        {"stock_quantity": 60, "days_since_last_sale": 45, "category": "Watches"},
        {"stock_quantity": 0, "days_since_last_sale": 0},
    ]
    items = [decide_body(**p) for p in products]
    r = api.http.post("/v1/decide/batch", json={"items": items}, headers=_bearer(key))
    assert r.status_code == 200
    batch = r.json()["decisions"]
    assert [d["rule_id"] for d in batch] == [
        "low-stock-fresh",
        "moderate-overstock",
        "dead-stock",
        "high-margin-category",
        "low-stock-fresh",
    ]
    for item, got in zip(items, batch, strict=True):
        single = api.http.post("/v1/decide", json=item, headers=_bearer(key)).json()
        for field in ("rule_id", "store_units", "external_channels", "policy"):
            assert got[field] == single[field]


def test_batch_of_ten_thousand_is_accepted_and_one_more_refused(api: Api) -> None:
    key = api.create_merchant("acme", enabled_external_channels=["ebay", "amazon"])
    items = [
        decide_body(stock_quantity=i % 200, days_since_last_sale=i % 60) for i in range(10_000)
    ]
    r = api.http.post("/v1/decide/batch", json={"items": items}, headers=_bearer(key))
    assert r.status_code == 200
    decisions = r.json()["decisions"]
    assert len(decisions) == 10_000
    assert all(
        d["store_units"] + sum(c["allocated_units"] for c in d["external_channels"]) == i % 200
        for i, d in enumerate(decisions)
    )
    assert len(_rows(api.config.database_url, "decision_log")) == 10_000
    r = api.http.post("/v1/decide/batch", json={"items": [*items, items[0]]}, headers=_bearer(key))
    assert r.status_code == 422
    problem = r.json()
    assert problem["invalid_params"][0]["name"] == "items"
    assert "10000" in problem["invalid_params"][0]["reason"]


def test_batch_with_another_merchants_item_is_forbidden_and_logs_nothing(api: Api) -> None:
    key = api.create_merchant("acme")
    api.create_merchant("zeta")
    items = [decide_body("acme"), decide_body("zeta")]
    r = api.http.post("/v1/decide/batch", json={"items": items}, headers=_bearer(key))
    assert r.status_code == 403
    assert _rows(api.config.database_url, "decision_log") == []
    # The admin may decide for both at once.
    r = api.http.post("/v1/decide/batch", json={"items": items}, headers=api.admin)
    assert [d["merchant_id"] for d in r.json()["decisions"]] == ["acme", "zeta"]


def test_a_bad_item_in_a_batch_is_named_by_its_index(api: Api) -> None:
    key = api.create_merchant("acme")
    items = [decide_body(), decide_body(), decide_body()]
    items[2]["policy_version"] = "99"
    r = api.http.post("/v1/decide/batch", json={"items": items}, headers=_bearer(key))
    assert r.status_code == 422
    assert r.json()["invalid_params"][0]["name"] == "items[2].policy_version"
    assert _rows(api.config.database_url, "decision_log") == []


def test_decide_for_an_unknown_merchant_is_not_found(api: Api) -> None:
    r = api.http.post("/v1/decide", json=decide_body("ghost"), headers=api.admin)
    assert r.status_code == 404


def test_every_decision_is_in_the_log_with_facts_and_policy(api: Api) -> None:
    key = api.create_merchant("acme", enabled_external_channels=["ebay"])

    async def burst() -> list[dict[str, Any]]:
        async with httpx.AsyncClient(base_url=api.url, headers=_bearer(key)) as client:
            responses = await asyncio.gather(
                *(client.post("/v1/decide", json=decide_body(stock_quantity=n)) for n in range(40))
            )
        assert all(r.status_code == 200 for r in responses)
        return [r.json() for r in responses]

    decisions = asyncio.run(burst())
    rows = {row["decision_id"]: row for row in _rows(api.config.database_url, "decision_log")}
    assert set(rows) == {d["decision_id"] for d in decisions}
    for d in decisions:
        row = rows[d["decision_id"]]
        assert row["merchant_id"] == "acme"
        assert row["policy_name"] == d["policy"]["name"]
        assert row["policy_version"] == d["policy"]["version"]
        assert row["policy_sha256"] == d["policy"]["sha256"]
        assert row["rule_id"] == d["rule_id"]
    logged = {entry.decision_id: entry for entry in _logged(api.config.database_url)}
    assert set(logged) == set(rows)
    for d in decisions:
        entry = logged[d["decision_id"]]
        assert entry.request.product.stock_quantity == d["store_units"] + sum(
            c["allocated_units"] for c in d["external_channels"]
        )
        assert entry.store_units == d["store_units"]
        assert entry.external == [
            (c["channel"], c["allocated_units"]) for c in d["external_channels"]
        ]
        assert entry.settings is not None
        assert entry.settings.enabled_external_channels == ["ebay"]


def test_a_refused_decide_is_answered_and_counted_with_its_own_status(api: Api) -> None:
    """/v1/decide answers past Litestar's handler (server.api.direct): its errors still go
    through the exception handlers, and the metrics see the status answered, not a 500."""
    key = api.create_merchant("acme")
    unknown = api.http.post("/v1/decide", json=decide_body(), headers=_bearer("cr_nope"))
    invalid = api.http.post("/v1/decide", json=decide_body(stock_quantity=-1), headers=_bearer(key))
    assert (unknown.status_code, invalid.status_code) == (401, 422)
    assert invalid.headers["content-type"].startswith("application/problem+json")
    assert invalid.json()["invalid_params"][0]["name"] == "product.stock_quantity"
    text = api.http.get("/metrics").text
    for status in ("401", "422"):
        labels = f'method="POST",route="/v1/decide",status="{status}"'
        assert f"channel_router_http_requests_total{{{labels}}} 1.0" in text
    assert 'route="/v1/decide",status="500"' not in text


def test_metrics_count_requests_and_decisions_by_rule(api: Api) -> None:
    key = api.create_merchant("acme")
    for _ in range(3):
        api.http.post("/v1/decide", json=decide_body(), headers=_bearer(key))
    api.http.post(
        "/v1/decide/batch",
        json={"items": [decide_body(stock_quantity=5, days_since_last_sale=1)] * 4},
        headers=_bearer(key),
    )
    r = api.http.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    text = r.text
    version = api.http.get("/v1/policies", headers=api.admin).json()["policies"][0][
        "active_version"
    ]
    labels = f'policy="channel-routing",rule="{{rule}}",version="{version}"'
    assert f"channel_router_decisions_total{{{labels.format(rule='dead-stock')}}} 3.0" in text
    assert f"channel_router_decisions_total{{{labels.format(rule='low-stock-fresh')}}} 4.0" in text
    assert (
        'channel_router_http_requests_total{method="POST",route="/v1/decide",status="200"} 3.0'
        in text
    )
    assert (
        'channel_router_http_request_duration_seconds_count{method="POST",route="/v1/decide"} 3.0'
        in text
    )
