"""Rate budgets on a real Redis: token buckets and daily quotas as limits-library windows, waiting
and giving up, per-account and shared budgets with merchant shares, Shopify's learned bucket, the
ApiClient hook and the Prometheus view; and 200 listing calls from two processes kept within the
configured Amazon rate, measured from the sandbox's request log."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from connectors.amazon import AmazonChannel
from connectors.base import ListingRequest
from connectors.config import ApiConfig
from connectors.errors import TransientChannelError
from connectors.http import ApiClient
from connectors.rate_budget import (
    BudgetCollector,
    BudgetConfig,
    BudgetExhausted,
    BudgetRequest,
    Limit,
    RateBudget,
)
from tests.connectors.conftest import Sandbox

ROOT = Path(__file__).resolve().parents[2]
LISTINGS = "/listings/2021-08-01/items/S1/sku"


def config(limits: dict[str, Any], **settings: Any) -> BudgetConfig:
    env = {"CHANNEL_ROUTER_RATE_LIMITS": json.dumps(limits)}
    env.update({f"CHANNEL_ROUTER_RATE_{k.upper()}": str(v) for k, v in settings.items()})
    return BudgetConfig.from_env(env)


@pytest.fixture
async def make_budget(redis_url: str) -> AsyncIterator[Any]:
    made: list[RateBudget] = []

    def build(budget_config: BudgetConfig) -> RateBudget:
        budget = RateBudget(redis_url, budget_config, key_prefix=f"test-rate:{uuid.uuid4().hex}")
        made.append(budget)
        return budget

    yield build
    for budget in made:
        await budget.close()


def test_limits_are_kept_as_conservative_windows() -> None:
    [(scope, item)] = Limit(rate=5, burst=10).items()
    assert (scope, item.amount, item.get_expiry()) == ("account", 10, 2)
    [(scope, item)] = Limit(per_day=2_000_000).items()
    assert (scope, item.amount, item.get_expiry()) == ("app", 80_000, 3600)
    [(_, slow)] = Limit(rate=0.0167, burst=20).items()
    assert slow.amount / slow.get_expiry() <= 0.0167
    # Whole-second windows cannot keep a rate above the burst: burst per second, never more.
    [(_, fast)] = Limit(rate=40, burst=10).items()
    assert (fast.amount, fast.get_expiry()) == (10, 1)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CHANNEL_ROUTER_RATE_LIMITS": "{"}, "CHANNEL_ROUTER_RATE_LIMITS"),
        ({"CHANNEL_ROUTER_RATE_LIMITS": '{"amazon.nope": {"rate": 1}}'}, "unknown operation"),
        ({"CHANNEL_ROUTER_RATE_MERCHANT_SHARE": "0"}, "MERCHANT_SHARE"),
        ({"CHANNEL_ROUTER_RATE_MAX_WAIT_SECONDS": "soon"}, "MAX_WAIT_SECONDS"),
        ({"CHANNEL_ROUTER_RATE_BUDGETS": "maybe"}, "RATE_BUDGETS"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BudgetConfig.from_env(env)


async def test_a_burst_passes_then_calls_wait_for_room(make_budget: Any) -> None:
    budget = make_budget(config({"amazon.listings_put": {"rate": 3, "burst": 3}}))
    request = BudgetRequest(account_key="S1")
    waits = [await budget.acquire("amazon", "PUT", LISTINGS, request) for _ in range(4)]
    assert waits[:3] == pytest.approx([0, 0, 0], abs=0.05)
    assert waits[3] > 0.05


async def test_no_room_in_time_fails_as_transient_with_a_retry_hint(make_budget: Any) -> None:
    budget = make_budget(
        config({"amazon.listings_put": {"rate": 1, "burst": 1}}, max_wait_seconds=0)
    )
    await budget.acquire("amazon", "PUT", LISTINGS, BudgetRequest(account_key="S1"))
    with pytest.raises(BudgetExhausted) as caught:
        await budget.acquire("amazon", "PUT", LISTINGS, BudgetRequest(account_key="S1"))
    assert isinstance(caught.value, TransientChannelError)
    assert 0 < (caught.value.retry_after or 0) <= 1
    assert budget.exhausted == {("amazon", "listings_put"): 1}
    # Another seller has its own Amazon budget.
    await budget.acquire("amazon", "PUT", LISTINGS, BudgetRequest(account_key="S2"))


async def test_ebay_quota_is_shared_but_each_merchant_gets_only_its_share(
    make_budget: Any,
) -> None:
    budget = make_budget(
        config({"ebay.account": {"per_day": 250}}, merchant_share=0.5, max_wait_seconds=0)
    )

    async def calls(account: str) -> int:
        made = 0
        try:
            while made < 50:
                await budget.acquire(
                    "ebay", "GET", "/sell/account/v1/return_policy", BudgetRequest(account)
                )
                made += 1
        except BudgetExhausted:
            return made
        return made

    assert await calls("big-merchant") == 5  # 250 / 25 per hour, half of it
    assert await calls("small-merchant") == 5
    assert await calls("third-merchant") == 0  # the application's hourly part is used up


async def test_shopify_bucket_is_learned_and_a_low_answer_pauses_the_store(
    make_budget: Any,
) -> None:
    budget = make_budget(BudgetConfig())
    answer = httpx.Response(
        200,
        json={
            "data": {},
            "extensions": {
                "cost": {
                    "requestedQueryCost": 10,
                    "throttleStatus": {
                        "maximumAvailable": 1000.0,
                        "currentlyAvailable": 4.0,
                        "restoreRate": 50.0,
                    },
                }
            },
        },
    )
    request = BudgetRequest(account_key="acme.myshopify.com", cost=10)
    await budget.observe("shopify", request, answer)
    assert await budget._shopify_bucket("acme.myshopify.com") == (1000.0, 50.0)
    waited = await budget.acquire("shopify", "POST", "/admin/api/2025-01/graphql.json", request)
    assert waited >= 0.1  # (10 - 4) / 50 = 0.12 s
    other = BudgetRequest(account_key="other.myshopify.com", cost=10)
    assert await budget.acquire("shopify", "POST", "/admin/api/x", other) < 0.05


async def test_calls_without_a_budget_request_or_with_budgets_off_are_not_paced(
    make_budget: Any,
) -> None:
    off = make_budget(BudgetConfig(enabled=False))
    for _ in range(5):
        assert await off.acquire("amazon", "PUT", LISTINGS, BudgetRequest("S1")) == 0.0
    on = make_budget(BudgetConfig())
    assert on.operation("lwa", "POST", "/auth/o2/token", BudgetRequest("S1")) is None


async def test_api_client_spends_a_budget_on_every_attempt_and_keeps_retrying(
    make_budget: Any, api_config: ApiConfig, sandbox: Sandbox
) -> None:
    budget = make_budget(config({"amazon.listings_put": {"rate": 50, "burst": 20}}))
    async with httpx.AsyncClient() as client:
        api = ApiClient(client, api_config, budget=budget)
        channel = AmazonChannel(api, api_config)
        account = await channel.authenticate({"authorization_code": "good-rb", "seller_id": "S9"})
        sandbox.inject(kind="status", status=503, api="amazon", method="PUT", times=1)
        listing = ListingRequest(sku="rb-1", title="Shirt", price=Decimal("9.99"), quantity=2)
        state = await channel.create_listing(account, listing)
    assert state.status == "pending"
    assert budget.remaining[("amazon", "listings_put", "account")] == 18  # two attempts spent
    registry = CollectorRegistry()
    registry.register(BudgetCollector(budget))
    text = generate_latest(registry).decode()
    assert (
        'channel_router_rate_budget_remaining{api="amazon",operation="listings_put",'
        'scope="account"} 18.0' in text
    )
    assert "channel_router_rate_budget_wait_seconds_total" in text


async def test_two_processes_together_stay_within_the_amazon_rate(
    redis_url: str, sandbox: Sandbox
) -> None:
    rate, burst, per_process = 25.0, 50, 100
    async with httpx.AsyncClient() as client:
        api_config = ApiConfig(
            amazon_base_url=sandbox.base_url, amazon_token_url=sandbox.base_url + "/auth/o2/token"
        )
        account = await AmazonChannel(ApiClient(client, api_config), api_config).authenticate(
            {"authorization_code": "good-burst", "seller_id": "SBURST"}
        )
    env = {
        **os.environ,
        "BURST_SANDBOX_URL": sandbox.base_url,
        "BURST_REDIS_URL": redis_url,
        "BURST_PREFIX": f"test-rate:{uuid.uuid4().hex}",
        "BURST_ACCESS_TOKEN": account.tokens.access_token,
        "BURST_REFRESH_TOKEN": account.tokens.refresh_token or "",
        "BURST_SELLER": "SBURST",
        "BURST_COUNT": str(per_process),
        "BURST_CONCURRENCY": "16",
        "CHANNEL_ROUTER_RATE_LIMITS": json.dumps(
            {"amazon.listings_put": {"rate": rate, "burst": burst}}
        ),
    }
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.connectors.budget_burst",
            cwd=ROOT,
            env={**env, "BURST_NAME": f"w{n}"},
            stdout=subprocess.PIPE,
        )
        for n in range(2)
    ]
    outputs = [await asyncio.wait_for(w.communicate(), timeout=120) for w in workers]
    assert [w.returncode for w in workers] == [0, 0]
    assert [json.loads(out.splitlines()[-1]) for out, _ in outputs] == [{"listed": 100}] * 2
    arrivals = sorted(
        r.at for r in sandbox.state.requests if r.method == "PUT" and r.api == "amazon"
    )
    assert len(arrivals) == 2 * per_process
    # A token bucket (rate r, burst b) allows at most b + r*T calls in any T seconds; 2 calls of
    # slack cover calls that left us in order but arrived bunched by the network.
    worst = max(
        (j - i + 1) - (burst + rate * (arrivals[j] - arrivals[i]))
        for i in range(len(arrivals))
        for j in range(i, len(arrivals))
    )
    assert worst <= 2, f"{worst:.1f} calls over the configured rate"
