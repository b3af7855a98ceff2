"""POST /v1/policies/reload: atomic swap, refusal of an invalid folder with
every problem as FILE:LINE:COL, and no failed request under concurrent load."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx

from tests.server.helpers import Api, decide_body

PROBLEM_LINE = re.compile(r"^.+:\d+:\d+: .+$")


def _policy_file(policy_dir: Path) -> Path:
    return policy_dir / "channel-routing" / "v1.yaml"


def _active_sha(api: Api) -> str:
    policies = api.http.get("/v1/policies", headers=api.admin).json()["policies"]
    policy = next(p for p in policies if p["name"] == "channel-routing")
    return next(v["sha256"] for v in policy["versions"] if v["version"] == policy["active_version"])


def test_invalid_folder_is_refused_with_every_problem_and_old_policies_serve(api: Api) -> None:
    key = api.create_merchant("acme", enabled_external_channels=["ebay"])
    before = _active_sha(api)
    path = _policy_file(api.config.policy_dir)
    original = path.read_text()
    path.write_text(
        original.replace("default: 40", "default: forty").replace("default: 70", "default: -5")
    )
    (api.config.policy_dir / "merchants" / "broken.yaml").write_text("merchant_id: [\n")
    r = api.http.post("/v1/policies/reload", headers=api.admin)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    problems = r.json()["problems"]
    assert len(problems) >= 3, problems
    assert all(PROBLEM_LINE.match(p) for p in problems), problems
    assert any("v1.yaml" in p for p in problems) and any("broken.yaml" in p for p in problems)
    assert _active_sha(api) == before
    d = api.http.post("/v1/decide", json=decide_body(), headers={"Authorization": f"Bearer {key}"})
    assert d.status_code == 200 and d.json()["policy"]["sha256"] == before


def test_valid_change_is_swapped_in(api: Api) -> None:
    key = api.create_merchant("acme", enabled_external_channels=["ebay"])
    before = _active_sha(api)
    path = _policy_file(api.config.policy_dir)
    path.write_text(path.read_text().replace("default: 70", "default: 50"))
    r = api.http.post("/v1/policies/reload", headers=api.admin)
    assert r.status_code == 200
    after = _active_sha(api)
    assert after != before
    assert any(v["sha256"] == after for p in r.json()["policies"] for v in p["versions"])
    d = api.http.post("/v1/decide", json=decide_body(), headers={"Authorization": f"Bearer {key}"})
    assert d.json()["policy"]["sha256"] == after
    assert d.json()["external_channels"][0]["allocated_units"] == 30  # 50 % of 60


def test_reloads_under_concurrent_decide_traffic_fail_no_request(api: Api) -> None:
    key = api.create_merchant("acme", enabled_external_channels=["ebay", "amazon"])
    path = _policy_file(api.config.policy_dir)
    original = path.read_text()
    variants = [original, original.replace("default: 70", "default: 60")]
    broken = original.replace("default: 40", "default: forty")

    async def run() -> tuple[list[int], list[int], set[str]]:
        statuses: list[int] = []
        reload_statuses: list[int] = []
        shas: set[str] = set()
        stop = asyncio.Event()
        limits = httpx.Limits(max_connections=16)
        async with httpx.AsyncClient(base_url=api.url, timeout=30, limits=limits) as client:
            headers = {"Authorization": f"Bearer {key}"}

            async def traffic() -> None:
                while not stop.is_set():
                    r = await client.post("/v1/decide", json=decide_body(), headers=headers)
                    statuses.append(r.status_code)
                    if r.status_code == 200:
                        shas.add(r.json()["policy"]["sha256"])

            async def reloads() -> None:
                try:
                    for i in range(24):
                        path.write_text(broken if i % 3 == 2 else variants[i % 2])
                        r = await client.post(
                            "/v1/policies/reload",
                            headers={"Authorization": f"Bearer {api.config.admin_token}"},
                        )
                        reload_statuses.append(r.status_code)
                        await asyncio.sleep(0)
                finally:
                    stop.set()

            await asyncio.gather(reloads(), *(traffic() for _ in range(12)))
        return statuses, reload_statuses, shas

    statuses, reload_statuses, shas = asyncio.run(run())
    assert len(statuses) > 100
    assert set(statuses) == {200}, {s: statuses.count(s) for s in set(statuses)}
    assert reload_statuses == [422 if i % 3 == 2 else 200 for i in range(24)]
    assert len(shas) == 2  # both valid variants served, never a broken one
