"""Fixtures for the campaign execution tests: a real database (SQLite and PostgreSQL), the
test Redis, the marketplace sandbox over loopback HTTP, and `channel-router worker` run as
a subprocess with the environment `serve` would have.

`deployment` sets it all up for one test: the database migrated, the merchant's Shopify,
eBay and Amazon accounts connected through the connectors (so the sandbox issued their
tokens), a Shopify variant seeded at its original price. Campaigns are created as the API
does (CampaignStore.create, then execution.queue.enqueue_campaign).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import msgspec
import pytest
from arq.constants import job_key_prefix

from connectors.base import ChannelAccount
from execution import queue
from execution.sku import campaign_sku
from execution.states import EndRequested, new_campaign
from execution.store import CampaignRecord, CampaignStore, TimelineEntry
from server.db.secrets_box import SecretBox
from tests.connectors.conftest import Sandbox, sandbox, sandbox_server  # noqa: F401 (fixtures)
from tests.server.conftest import database_url, postgres_url  # noqa: F401 (fixtures)
from tests.server.helpers import connector_env

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[2]
MERCHANT = "acme_shop-1"  # `_` and `-` on purpose: SKUs must survive them
PRODUCT_ID, VARIANT_ID = "8812", "4410"
ORIGINAL_PRICE, CLEARANCE_PRICE = "49.99", "19.99"

ACCOUNTS: dict[str, dict[str, str]] = {
    "shopify": {"shop_domain": "acme.myshopify.com", "access_token": "shpat_good_1"},
    "ebay": {"authorization_code": "good-code-ebay"},
    "amazon": {"authorization_code": "good-code-amazon", "seller_id": "A1SELLER"},
}

FAST_WORKER = {
    "CHANNEL_ROUTER_WORKER_REFRESH_SECONDS": "1",
    "CHANNEL_ROUTER_WORKER_SALES_SECONDS": "1",
    "CHANNEL_ROUTER_WORKER_SWEEP_SECONDS": "1",
    "CHANNEL_ROUTER_WORKER_SWEEP_GRACE_SECONDS": "2",
    "CHANNEL_ROUTER_WORKER_RETRY_BASE_SECONDS": "0.2",
    "CHANNEL_ROUTER_WORKER_RETRY_MAX_SECONDS": "1",
    "CHANNEL_ROUTER_WORKER_RETRY_AFTER_MAX_SECONDS": "3",
    "CHANNEL_ROUTER_WORKER_HEALTH_CHECK_SECONDS": "1",
}


def run(step: Awaitable[T]) -> T:
    return asyncio.run(step)  # type: ignore[arg-type]


@dataclass
class Deployment:
    """One test's database, queue and sandbox, and ways to drive and inspect them."""

    database_url: str
    redis_url: str
    sandbox: Sandbox
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    redis_prefix: str = field(default_factory=lambda: f"test-exec-{secrets.token_hex(6)}")
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHANNEL_ROUTER_")}
        env.update(connector_env(self.sandbox.base_url))
        env.update(FAST_WORKER)
        env.update(
            {
                "CHANNEL_ROUTER_DATABASE_URL": self.database_url,
                "CHANNEL_ROUTER_REDIS_URL": self.redis_url,
                "CHANNEL_ROUTER_REDIS_PREFIX": self.redis_prefix,
                "CHANNEL_ROUTER_SECRET_KEY": self.secret_key,
                "CHANNEL_ROUTER_DATA_DIR": str(Path(self.logs_dir)),
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    logs_dir: str = ""

    # -- the database --------------------------------------------------------------------

    async def _with_store(self, use: Callable[[Any], Awaitable[T]]) -> T:
        from piccolo.engine.postgres import PostgresEngine

        from server.db.connection import make_engine
        from server.db.tables import build_tables

        engine = make_engine(self.database_url)
        if isinstance(engine, PostgresEngine):
            await engine.start_connection_pool(min_size=1, max_size=2)
        try:
            return await use(build_tables(engine))
        finally:
            if isinstance(engine, PostgresEngine):
                await engine.close_connection_pool()

    def prepare(self) -> None:
        """Migrate; connect the merchant's accounts; seed the store's variant."""
        from server.db.connection import make_engine, migrate

        async def go(tables: Any) -> None:
            await migrate(make_engine(self.database_url), tables)

        run(self._with_store(go))
        self.connect(*ACCOUNTS)
        seeded = self.sandbox.control(
            "POST",
            "/_sandbox/shopify/variants",
            {"product_id": PRODUCT_ID, "variant_id": VARIANT_ID, "price": ORIGINAL_PRICE,
             "available": 60},
        )  # fmt: skip
        assert seeded.status_code == 201, seeded.text

    def connect(self, *channels: str) -> None:
        """Connect the merchant's accounts as the API does (the sandbox issues the tokens)."""
        from server.accounts import connect_and_save
        from server.db.credentials import CredentialStore

        async def go(tables: Any) -> None:
            store = CredentialStore(tables, SecretBox(self.secret_key))
            async with httpx.AsyncClient() as client:
                for channel in channels:
                    await connect_and_save(
                        store, MERCHANT, channel, ACCOUNTS[channel], client, self.env
                    )

        run(self._with_store(go))

    def stored_account(self, channel: str) -> ChannelAccount:
        """The merchant's account as the database holds it now (decrypted)."""
        from server.db.credentials import CredentialStore

        async def go(tables: Any) -> bytes | None:
            return await CredentialStore(tables, SecretBox(self.secret_key)).load(MERCHANT, channel)

        raw = run(self._with_store(go))
        assert raw is not None
        return msgspec.json.decode(raw, type=ChannelAccount)

    def create_campaign(
        self,
        allocations: dict[str, int] | None = None,
        *,
        ends_in: timedelta = timedelta(hours=1),
        enqueue: bool = True,
    ) -> str:
        """A campaign as POST /v1/execute makes it: stored, then its start and end queued."""
        allocations = {"ebay": 21, "amazon": 21} if allocations is None else allocations
        campaign_id = "cmp-" + secrets.token_hex(6)
        ends_at = datetime.now(UTC) + ends_in
        request = {
            "merchant_id": MERCHANT,
            "product": {
                "product_id": PRODUCT_ID, "variant_id": VARIANT_ID, "title": "Linen shirt",
                "category": "Apparel", "stock_quantity": 60, "days_since_last_sale": 45,
                "current_price": ORIGINAL_PRICE,
            },
            "proposal": {"proposed_price": CLEARANCE_PRICE, "duration_hours": 168},
        }  # fmt: skip
        decision = {
            "decision_id": "dec-" + campaign_id,
            "merchant_id": MERCHANT,
            "rule_id": "dead-stock",
            "external_channels": [
                {"channel": ch, "allocated_units": n, "price": CLEARANCE_PRICE, "duration_days": 7}
                for ch, n in allocations.items()
            ],
        }
        state = new_campaign(CLEARANCE_PRICE, ends_at, allocations)
        skus = {ch: campaign_sku(MERCHANT, campaign_id, ch, VARIANT_ID) for ch in allocations}

        async def go(tables: Any) -> None:
            await CampaignStore(tables).create(
                campaign_id=campaign_id, merchant_id=MERCHANT,
                idempotency_key="key-" + campaign_id, body_sha256="0" * 64,
                request=request, decision=decision, state=state, skus=skus,
                product_id=PRODUCT_ID, variant_id=VARIANT_ID,
            )  # fmt: skip

        run(self._with_store(go))
        if enqueue:
            run(self._enqueue(campaign_id, ends_at))
        return campaign_id

    async def _pool(self) -> Any:
        from arq import create_pool
        from arq.connections import RedisSettings

        return await create_pool(
            RedisSettings.from_dsn(self.redis_url),
            job_serializer=queue.serialize,
            job_deserializer=queue.deserialize,
        )

    async def _enqueue(self, campaign_id: str, ends_at: datetime) -> None:
        pool = await self._pool()
        try:
            await queue.enqueue_campaign(pool, self.redis_prefix, campaign_id, ends_at)
        finally:
            await pool.aclose()

    def cancel(self, campaign_id: str) -> None:
        """What POST /v1/campaigns/{id}/cancel does: EndRequested(cancelled), end now."""

        async def go(tables: Any) -> None:
            await CampaignStore(tables).apply(
                campaign_id, EndRequested(reason="cancelled", at=datetime.now(UTC))
            )

        run(self._with_store(go))

        async def enqueue() -> None:
            pool = await self._pool()
            try:
                await queue.enqueue_end_now(pool, self.redis_prefix, campaign_id)
            finally:
                await pool.aclose()

        run(enqueue())

    def delete_queued_jobs(self, campaign_id: str) -> int:
        """Forget every queued job of the campaign in Redis (as a flush would)."""

        async def go() -> int:
            pool = await self._pool()
            try:
                name = queue.queue_name(self.redis_prefix)
                ids = [i.decode() for i in await pool.zrange(name, 0, -1)]
                mine = [
                    i for i in ids if i.startswith(f"{self.redis_prefix}:campaign:{campaign_id}:")
                ]
                for job_id in mine:
                    await pool.zrem(name, job_id)
                    await pool.delete(job_key_prefix + job_id)
                return len(mine)
            finally:
                await pool.aclose()

        return run(go())

    def campaign(self, campaign_id: str) -> CampaignRecord:
        async def go(tables: Any) -> CampaignRecord:
            return await CampaignStore(tables).require(campaign_id)

        return run(self._with_store(go))

    def timeline(self, campaign_id: str) -> list[TimelineEntry]:
        async def go(tables: Any) -> list[TimelineEntry]:
            return await CampaignStore(tables).timeline(campaign_id)

        return run(self._with_store(go))

    def wait_for(
        self,
        campaign_id: str,
        done: Callable[[CampaignRecord], bool],
        what: str,
        timeout: float = 45.0,
    ) -> CampaignRecord:
        """Poll the campaign until `done(record)`; fail with its state and timeline."""
        deadline = time.monotonic() + timeout
        record = self.campaign(campaign_id)
        while not done(record):
            self._check_workers()
            if time.monotonic() > deadline:
                lines = "\n".join(
                    f"  {e.step} {e.channel or ''} {e.call} {e.outcome} {e.detail or ''}"
                    for e in self.timeline(campaign_id)
                )
                raise AssertionError(
                    f"{what}: not within {timeout:g} s; state {record.state}\n{lines}\n"
                    + self.worker_log()
                )
            time.sleep(0.2)
            record = self.campaign(campaign_id)
        return record

    # -- workers -------------------------------------------------------------------------

    def start_worker(self, *args: str, extra_env: dict[str, str] | None = None) -> None:
        log = Path(self.logs_dir) / f"worker-{len(self.workers)}.log"
        self.logs.append(log)
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "server.cli", "worker", *args],
                env={**self.env, **(extra_env or {})},
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.workers.append(process)

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until every worker started says it is ready (its start-up is done)."""
        deadline = time.monotonic() + timeout
        while self.worker_log(tail=None).count("campaign worker ready") < len(self.workers):
            self._check_workers()
            if time.monotonic() > deadline:
                raise AssertionError(f"the workers did not start\n{self.worker_log()}")
            time.sleep(0.1)

    def _check_workers(self) -> None:
        for process in self.workers:
            if process.poll() is not None and process.returncode not in (0, -9):
                raise AssertionError(
                    f"a worker exited with {process.returncode}\n{self.worker_log()}"
                )

    def worker_log(self, tail: int | None = 6000) -> str:
        """The workers' output (the last `tail` characters of each)."""
        return "\n".join(
            f"--- {log.name}\n{log.read_text(errors='replace')[-(tail or 0) :]}"
            for log in self.logs
            if log.exists()
        )

    def stop_workers(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                process.terminate()
        for process in self.workers:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    # -- the sandbox's own view ------------------------------------------------------------

    def store_price(self) -> str:
        r = self.sandbox.control("GET", f"/_sandbox/shopify/variants/{VARIANT_ID}")
        assert r.status_code == 200, r.text
        return str(r.json()["price"])

    def ebay_offers(self) -> list[dict[str, Any]]:
        offers: list[dict[str, Any]] = self.sandbox.control("GET", "/_sandbox/ebay/offers").json()
        return offers

    def amazon_listings(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.sandbox.control(
            "GET", "/_sandbox/amazon/listings"
        ).json()
        return found


@pytest.fixture
def deployment(
    database_url: str,  # noqa: F811
    redis_url: str,
    sandbox: Sandbox,  # noqa: F811
    tmp_path: Path,
) -> Iterator[Deployment]:
    """A prepared deployment; its workers are stopped afterwards."""
    found = Deployment(
        database_url=database_url, redis_url=redis_url, sandbox=sandbox, logs_dir=str(tmp_path)
    )
    found.prepare()
    try:
        yield found
    finally:
        found.stop_workers()
