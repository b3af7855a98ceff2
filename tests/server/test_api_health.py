"""/health and /ready: readiness names what is missing, and a server that
started with broken policies recovers through a reload."""

from __future__ import annotations

import dataclasses

from server.config import ServiceConfig
from tests.server.helpers import decide_body, serving


def test_ready_is_503_without_redis_and_names_it(config: ServiceConfig) -> None:
    with serving(dataclasses.replace(config, redis_url=None)) as client:
        assert client.get("/health").json() == {"status": "ok"}
        r = client.get("/ready")
        assert r.status_code == 503
        body = r.json()
        assert body["checks"]["database"] == "ok" and body["checks"]["policies"] == "ok"
        assert body["checks"]["redis"].startswith("not configured")


def test_ready_is_503_when_redis_does_not_answer(config: ServiceConfig) -> None:
    from server.processes.redis_private import free_port

    dead = f"redis://127.0.0.1:{free_port()}/0"
    with serving(dataclasses.replace(config, redis_url=dead)) as client:
        r = client.get("/ready")
        assert r.status_code == 503
        assert r.json()["checks"]["redis"].startswith("unavailable")


def test_broken_policies_at_start_are_503_until_a_reload_fixes_them(
    config: ServiceConfig,
) -> None:
    policy = config.policy_dir / "channel-routing" / "v1.yaml"
    good = policy.read_text()
    policy.write_text(good.replace("default: 40", "default: forty"))
    admin = {"Authorization": f"Bearer {config.admin_token}"}
    with serving(config) as client:
        r = client.get("/ready")
        assert r.status_code == 503 and r.json()["checks"]["policies"] == "not loaded"
        created = client.post(
            "/v1/merchants", json={"merchant_id": "acme", "name": "A"}, headers=admin
        )
        assert created.status_code == 201
        r = client.post("/v1/decide", json=decide_body(), headers=admin)
        assert r.status_code == 503
        assert r.headers["content-type"].startswith("application/problem+json")
        assert client.post("/v1/policies/reload", headers=admin).status_code == 422
        policy.write_text(good)
        assert client.post("/v1/policies/reload", headers=admin).status_code == 200
        assert client.get("/ready").status_code == 200
        assert client.post("/v1/decide", json=decide_body(), headers=admin).status_code == 200
