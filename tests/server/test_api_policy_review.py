"""Policies in production: hit counts by rule, shadow versions, scheduled activation,
and `policy diff --from-log` replaying the decision log (SQLite and PostgreSQL)."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.app import create_app
from server.config import ServiceConfig
from tests.server.helpers import Api, decide_body, live_server

REPO = Path(__file__).resolve().parents[2]
POLICY = "channel-routing/v1.yaml"
DEAD = {"stock_quantity": 60, "days_since_last_sale": 45}
MODERATE = {"stock_quantity": 60, "days_since_last_sale": 20}
LOW = {"stock_quantity": 5, "days_since_last_sale": 3}


def decide(api: Api, key: str, merchant: str = "acme", **product: Any) -> dict[str, Any]:
    response = api.http.post(
        "/v1/decide",
        json=decide_body(merchant, **product),
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text (labels in any order)."""
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        inside = line[len(name) + 1 : line.index("}")]
        found = dict(part.split("=", 1) for part in inside.split(","))
        if all(found.get(k) == f'"{v}"' for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no {name} {labels} in metrics")


def test_stats_count_hits_per_rule_and_name_rules_that_never_fired(api: Api) -> None:
    text = api.http.get("/metrics").text
    # Pre-bound at load: a rule that never fired shows as 0, not as absent.
    assert metric(text, "channel_router_decisions_total", rule="dead-stock", version="1") == 0
    acme = api.create_merchant("acme", enabled_external_channels=["ebay"])
    zeta = api.create_merchant("zeta")
    decide(api, acme, **DEAD)
    decide(api, acme, **DEAD)
    decide(api, acme, **MODERATE)
    decide(api, zeta, "zeta", **LOW)
    stats = api.http.get("/v1/policies/channel-routing/stats", headers=api.admin)
    assert stats.status_code == 200, stats.text
    body = stats.json()
    assert body["decisions"] == 4
    [version] = body["versions"]
    hits = {r["rule_id"]: r["hits"] for r in version["rules"]}
    assert hits["dead-stock"] == 2 and hits["moderate-overstock"] == 1
    assert hits["low-stock-fresh"] == 1
    assert version["never_fired"] == [
        "merchant-opt-out",
        "merchant-excluded-category",
        "high-margin-category",
        "default-store",
    ]
    dead = next(r for r in version["rules"] if r["rule_id"] == "dead-stock")
    assert dead["file"] == "policies/channel-routing/v1.yaml" and dead["line"] > 0

    per = api.http.get(
        "/v1/policies/channel-routing/stats", params={"by_merchant": "true"}, headers=api.admin
    ).json()
    assert {m["merchant_id"]: m["decisions"] for m in per["merchants"]} == {"acme": 3, "zeta": 1}

    # A merchant key sees its own decisions only, and may not ask for another's.
    own = api.http.get(
        "/v1/policies/channel-routing/stats", headers={"Authorization": f"Bearer {zeta}"}
    ).json()
    assert own["decisions"] == 1
    other = api.http.get(
        "/v1/policies/channel-routing/stats",
        params={"merchant_id": "acme"},
        headers={"Authorization": f"Bearer {zeta}"},
    )
    assert other.status_code == 403

    window = api.http.get(
        "/v1/policies/channel-routing/stats",
        params={"until": "2000-01-01T00:00:00Z"},
        headers=api.admin,
    ).json()
    assert window["decisions"] == 0
    for params, status in (
        ({"since": "2030-01-01T00:00:00"}, 422),  # no time zone
        ({"since": "2030-01-02T00:00:00Z", "until": "2030-01-01T00:00:00Z"}, 422),
        ({"since": "yesterday"}, 422),
    ):
        bad = api.http.get("/v1/policies/channel-routing/stats", params=params, headers=api.admin)
        assert bad.status_code == status, (params, bad.text)
        assert bad.headers["content-type"].startswith("application/problem+json")
    missing = api.http.get("/v1/policies/nope/stats", headers=api.admin)
    assert missing.status_code == 404
    assert api.http.get("/v1/policies/channel-routing/stats").status_code == 401


def _shadow_version(policy_dir: Path, header: str, percent: int = 55) -> None:
    text = (policy_dir / POLICY).read_text().replace('version: "1"', 'version: "2"')
    text = text.replace("active: true\n", header).replace("default: 40", f"default: {percent}")
    (policy_dir / "channel-routing" / "v2.yaml").write_text(text)


@pytest.fixture
def shadow_api(policy_dir: Path, config: ServiceConfig, request: pytest.FixtureRequest) -> Api:
    """The app (for `config`'s database), started on a policy folder with a shadow
    version 2 (moderate at 55 %)."""
    _shadow_version(policy_dir, "shadow: true\n")
    api: Api = request.getfixturevalue("api")
    return api


def test_shadow_version_changes_no_answer_and_its_divergences_are_reported(
    shadow_api: Api,
) -> None:
    api = shadow_api
    key = api.create_merchant("acme", enabled_external_channels=["ebay", "amazon"])
    moderate = decide(api, key, **MODERATE)
    assert moderate["policy"]["version"] == "1"  # the active version answers
    assert sum(c["allocated_units"] for c in moderate["external_channels"]) == 60 * 40 // 100
    decide(api, key, **DEAD)  # same answer in both versions: no divergence
    batch = api.http.post(
        "/v1/decide/batch",
        json={"items": [decide_body(stock_quantity=s, days_since_last_sale=20) for s in (30, 99)]},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert batch.status_code == 200
    assert [d["policy"]["version"] for d in batch.json()["decisions"]] == ["1", "1"]

    listed = api.http.get("/v1/policies", headers=api.admin).json()["policies"][0]
    assert listed["shadow_version"] == "2" and listed["active_version"] == "1"

    shadow = api.http.get("/v1/policies/channel-routing/shadow", headers=api.admin)
    assert shadow.status_code == 200, shadow.text
    body = shadow.json()
    assert body["shadow_version"] == "2" and body["shadow_versions_seen"] == ["2"]
    report = body["report"]
    assert (report["decisions"], report["changed"]) == (4, 3)
    [transition] = report["transitions"]
    assert (transition["from_rule"], transition["to_rule"], transition["count"]) == (
        "moderate-overstock",
        "moderate-overstock",
        3,
    )
    moved = sum(s * 55 // 100 - s * 40 // 100 for s in (60, 30, 99))
    assert report["units_moved"]["store"] == -moved
    assert transition["examples"][0]["request"]["product"]["stock_quantity"] == 60
    assert transition["examples"][0]["at"] == f"decision {moderate['decision_id']}"

    text = api.http.get("/metrics").text
    assert metric(text, "channel_router_shadow_decisions_total", shadow_version="2") == 4
    assert (
        metric(
            text,
            "channel_router_shadow_divergences_total",
            from_rule="moderate-overstock",
            to_rule="moderate-overstock",
        )
        == 3
    )
    other = api.create_merchant("zeta")
    mine = api.http.get(
        "/v1/policies/channel-routing/shadow", headers={"Authorization": f"Bearer {other}"}
    ).json()
    assert mine["report"]["changed"] == 0  # acme's divergences are not zeta's to see


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


AT = datetime(2030, 11, 27, 6, 0, tzinfo=UTC).timestamp()


def test_a_scheduled_version_takes_over_on_every_worker_at_its_time(
    config: ServiceConfig, policy_dir: Path
) -> None:
    _shadow_version(policy_dir, 'active_from: "2030-11-27T06:00:00Z"\n', percent=55)
    clock = Clock(AT - 5)
    timed = dataclasses.replace(config, clock=clock)
    first, second = live_server(create_app(timed)), live_server(create_app(timed))
    admin = {"Authorization": f"Bearer {config.admin_token}"}
    try:
        with (
            httpx.Client(base_url=first.url, timeout=30) as a,
            httpx.Client(base_url=second.url, timeout=30) as b,
        ):
            body = {"merchant_id": "acme", "name": "Acme"}
            assert a.post("/v1/merchants", json=body, headers=admin).status_code == 201
            listed = a.get("/v1/policies", headers=admin).json()["policies"][0]
            assert listed["active_version"] == "1"
            assert listed["scheduled"] == [{"version": "2", "active_from": "2030-11-27T06:00:00Z"}]
            for worker in (a, b):
                r = worker.post("/v1/decide", json=decide_body(**MODERATE), headers=admin)
                assert r.json()["policy"]["version"] == "1"
            clock.now = AT  # no reload: each worker reads the clock per decision
            for worker in (a, b):
                r = worker.post("/v1/decide", json=decide_body(**MODERATE), headers=admin)
                assert r.json()["policy"]["version"] == "2"
            listed = b.get("/v1/policies", headers=admin).json()["policies"][0]
            assert listed["active_version"] == "2" and listed["scheduled"] == []
    finally:
        first.stop()
        second.stop()


def test_diff_from_log_replays_recorded_requests(api: Api, tmp_path: Path) -> None:
    key = api.create_merchant("acme", enabled_external_channels=["ebay"])
    api.create_merchant("zeta")
    for product in (MODERATE, MODERATE, DEAD, LOW):
        decide(api, key, **product)
    decide(api, api.config.admin_token or "", "zeta", **MODERATE)
    new = Path(shutil.copytree(api.config.policy_dir, tmp_path / "new"))
    policy = new / POLICY
    policy.write_text(policy.read_text().replace("default: 40", "default: 60", 1))
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(REPO),
        "CHANNEL_ROUTER_DATABASE_URL": api.config.database_url,
    }

    def diff(*extra: str) -> dict[str, Any]:
        result = subprocess.run(
            [sys.executable, "-m", "server.cli", "policy", "diff",
             str(api.config.policy_dir), str(new), "--from-log", "--format", "json", *extra],
            capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        report: dict[str, Any] = json.loads(result.stdout)
        return report

    everything = diff()
    assert (everything["decisions"], everything["changed"]) == (5, 3)
    # zeta has no channel: its moderate decision changes percentage, not units.
    assert everything["units_moved"] == {"store": -24, "ebay": 24}
    # acme's first three, oldest first: moderate, moderate, dead.
    acme = diff("--merchant", "acme", "--limit", "3", "--since", "2000-01-01T00:00:00Z")
    assert (acme["decisions"], acme["changed"]) == (3, 2)
