"""A worker process for the shared-budget test: lists N Amazon SKUs through one RateBudget.

Run as `python -m tests.connectors.budget_burst` with BURST_* variables (see main); prints how
many listings it made. Not a test module (pytest does not collect it)."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx

from connectors.amazon import AmazonChannel
from connectors.base import ChannelAccount, ListingRequest, TokenSet
from connectors.config import ApiConfig
from connectors.http import ApiClient
from connectors.rate_budget import BudgetConfig, RateBudget


async def burst() -> int:
    """List BURST_COUNT SKUs with BURST_CONCURRENCY calls in flight; the number that succeeded."""
    env = os.environ
    base = env["BURST_SANDBOX_URL"]
    config = ApiConfig(
        amazon_base_url=base, amazon_token_url=base + "/auth/o2/token", timeout_seconds=10.0
    )
    budget = RateBudget(
        env["BURST_REDIS_URL"], BudgetConfig.from_env(env), key_prefix=env["BURST_PREFIX"]
    )
    account = ChannelAccount(
        channel="amazon",
        tokens=TokenSet(
            access_token=env["BURST_ACCESS_TOKEN"],
            expires_at=datetime.now(UTC) + timedelta(hours=1),
            refresh_token=env["BURST_REFRESH_TOKEN"],
        ),
        marketplace_id="ATVPDKIKX0DER",
        seller_id=env["BURST_SELLER"],
    )
    gate = asyncio.Semaphore(int(env["BURST_CONCURRENCY"]))
    name = env["BURST_NAME"]

    async with httpx.AsyncClient() as client:
        channel = AmazonChannel(ApiClient(client, config, budget=budget), config)

        async def one(index: int) -> None:
            async with gate:
                listing = ListingRequest(
                    sku=f"{name}-{index}", title="Linen shirt", price=Decimal("19.99"), quantity=1
                )
                await channel.create_listing(account, listing)

        results = await asyncio.gather(
            *(one(i) for i in range(int(env["BURST_COUNT"]))), return_exceptions=True
        )
    await budget.close()
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        print(json.dumps({"error": repr(failures[0])}))
    return len(results) - len(failures)


if __name__ == "__main__":
    print(json.dumps({"listed": asyncio.run(burst())}))
