"""What one merchant key may write: rows per window, 429 + Retry-After past it,
one budget shared by every worker through Redis, no Redis call per request."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from typing import Any

import httpx
import pytest

from server.config import ServiceConfig
from server.processes.redis_private import free_port
from tests.server.helpers import Api, decide_body, serving_api

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _capped(config: ServiceConfig, rate: str, **changes: Any) -> ServiceConfig:
    return dataclasses.replace(config, decision_rate_limit=rate, max_batch_items=20, **changes)


def _batch(api: Api, token: str, merchant: str, n: int) -> httpx.Response:
    items = [decide_body(merchant) for _ in range(n)]
    return api.http.post(
        "/v1/decide/batch", json={"items": items}, headers={"Authorization": f"Bearer {token}"}
    )


def _one(api: Api, token: str, merchant: str) -> httpx.Response:
    return api.http.post(
        "/v1/decide", json=decide_body(merchant), headers={"Authorization": f"Bearer {token}"}
    )


def _assert_429(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text[:300]
    assert response.headers["content-type"].startswith("application/problem+json")
    assert 1 <= int(response.headers["retry-after"]) <= 10


def test_a_key_may_write_its_rows_per_window_and_no_more(config: ServiceConfig) -> None:
    merchant, other = f"m-{secrets.token_hex(4)}", f"o-{secrets.token_hex(4)}"
    with serving_api(_capped(config, "30 per 10 seconds")) as api:
        key, other_key = api.create_merchant(merchant), api.create_merchant(other)
        assert _batch(api, key, merchant, 20).status_code == 200  # 20 rows
        _assert_429(_batch(api, key, merchant, 20))  # 40 > 30: refused whole
        for _ in range(10):
            assert _one(api, key, merchant).status_code == 200  # 30 rows in all
        _assert_429(_one(api, key, merchant))
        # Another key has its own budget; the admin token is not capped.
        assert _batch(api, other_key, other, 20).status_code == 200
        assert _batch(api, api.config.admin_token or "", merchant, 20).status_code == 200


def test_every_worker_spends_from_one_budget(config: ServiceConfig) -> None:
    merchant = f"m-{secrets.token_hex(4)}"
    capped = _capped(config, "40 per 10 seconds")
    with serving_api(capped) as first, serving_api(capped) as second:
        key = first.create_merchant(merchant)
        accepted = 0
        for i in range(60):
            api = first if i % 2 else second
            status = _one(api, key, merchant).status_code
            assert status in (200, 429)
            accepted += status == 200
        assert accepted == 40  # not 40 per worker


def test_the_decide_path_does_not_ask_redis_per_request(api: Api) -> None:
    """Rows are leased from Redis in blocks (1/50 of the window by default), one refill
    at a time per key: concurrent requests share it instead of each wasting a lease."""
    merchant = f"m-{secrets.token_hex(4)}"
    key = api.create_merchant(merchant)

    async def burst() -> list[int]:
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=api.url, timeout=30) as client:

            async def one() -> list[int]:
                statuses = []
                for _ in range(10):
                    r = await client.post("/v1/decide", json=decide_body(merchant), headers=headers)
                    statuses.append(r.status_code)
                return statuses

            return [s for part in await asyncio.gather(*(one() for _ in range(30))) for s in part]

    assert asyncio.run(burst()) == [200] * 300
    budget = api.app.state.services.write_budget  # type: ignore[attr-defined]
    assert 1 <= budget.shared_calls <= 2  # 300 rows of a 400-row lease


def test_without_redis_each_process_still_caps(config: ServiceConfig) -> None:
    merchant = f"m-{secrets.token_hex(4)}"
    with serving_api(config) as api:  # created while Redis answers
        key = api.create_merchant(merchant)
    away = f"redis://127.0.0.1:{free_port()}/0"
    with serving_api(_capped(config, "30 per 10 seconds", redis_url=away)) as api:
        assert _batch(api, key, merchant, 20).status_code == 200
        _assert_429(_batch(api, key, merchant, 20))
