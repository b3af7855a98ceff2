"""A whole deployment as separate processes, for the execution tests and bench/execute.py.

`deployment(...)` starts, each as its own process on loopback:

- the marketplace sandbox (`channel-router sandbox`), Shopify, eBay and Amazon in one;
- a Redis: a private `redis-server` that this deployment owns (so a test may FLUSHDB or
  restart it), or a shared one given by URL, with a private key prefix either way;
- `serves` x `channel-router serve` and `workers` x `channel-router worker`, on one database
  (a SQLite file, or a PostgreSQL schema: the URL the caller passes);

then creates a merchant with eBay and Amazon enabled and connects its Shopify store and
both marketplace accounts through the credentials API, as a merchant would. The Deployment
it yields executes campaigns through the API, reads the sandbox's own state (GET
/_sandbox/live: store prices, every listing and how often each was created), injects faults,
kills and adds workers, and waits for conditions with a deadline (never a bare sleep).

Every child runs in its own session and gets SIGTERM if the test process dies (spawn); their
output goes to files in the deployment's folder, which an assertion message can quote.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

import httpx

from server.config import REPO_POLICY_DIR
from server.processes.redis_private import PrivateRedis, free_port
from server.processes.spawn import spawn

T = TypeVar("T")

CHECKOUT = Path(__file__).resolve().parents[2]
MARKETPLACE_APIS = ("ebay", "amazon", "lwa")  # what "a marketplace call" is (not the store)
START_SECONDS = 90.0  # a cold start on a busy 2-core machine: migrations, schema warm-up

FAST_WORKER = {
    # The shortest job timeout allowed: a killed worker's job is taken up again after
    # timeout + 10 s (arq's in-progress lock).
    "CHANNEL_ROUTER_WORKER_JOB_TIMEOUT_SECONDS": "10",
    "CHANNEL_ROUTER_WORKER_RETRY_BASE_SECONDS": "0.2",
    "CHANNEL_ROUTER_WORKER_RETRY_MAX_SECONDS": "2",
    "CHANNEL_ROUTER_WORKER_RETRY_AFTER_MAX_SECONDS": "2",
    "CHANNEL_ROUTER_WORKER_REFRESH_SECONDS": "1",
    "CHANNEL_ROUTER_WORKER_SALES_SECONDS": "5",
    "CHANNEL_ROUTER_WORKER_SWEEP_SECONDS": "1",
    "CHANNEL_ROUTER_WORKER_SWEEP_GRACE_SECONDS": "0",
    "CHANNEL_ROUTER_WORKER_HEALTH_CHECK_SECONDS": "1",
}
"""The worker's pace in the tests: short job timeout, quick retries, crons every second."""


class Timeout(AssertionError):
    """A condition did not hold by its deadline; the message says what and the last value."""


def wait_for(
    check: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    interval: float = 0.1,
    describe: Callable[[], str] | None = None,
) -> T:
    """Poll `check` until it returns something truthy, and return that; Timeout at the
    deadline with `what` and, when given, `describe()` (the state that was waited on)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            detail = f"; {describe()}" if describe is not None else ""
            raise Timeout(f"{what}: not within {timeout:g} s{detail}")
        time.sleep(interval)


class Child:
    """One child process of the deployment, with its output in `log_path`."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        env: Mapping[str, str],
        folder: Path,
        url: str = "",
    ) -> None:
        self.name = name
        self.url = url  # where it listens, for an HTTP server
        self.killed = False  # stopped on purpose (kill or stop), not crashed
        self.log_path = folder / f"{name}.log"
        self._log: IO[bytes] = self.log_path.open("ab")
        self.process = spawn(argv, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 30) -> str:
        """The last lines it printed (for assertion messages)."""
        self._log.flush()
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send `sig` (SIGKILL: no clean-up at all, as an OOM kill or a lost host)."""
        self.killed = True
        if self.running():
            self.process.send_signal(sig)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 15 s."""
        self.killed = True
        if self.running():
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        self._log.close()


def _ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class Merchant:
    merchant_id: str
    api_key: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


@dataclass
class Deployment:
    """A running deployment and ways to drive and inspect it."""

    folder: Path
    env: dict[str, str]
    sandbox_url: str
    redis_url: str
    redis_prefix: str
    database_url: str
    admin_token: str
    redis: PrivateRedis | None
    sandbox: Child
    serves: list[Child] = field(default_factory=list)
    workers: list[Child] = field(default_factory=list)
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))
    # What the test did, to check the sandbox against: the price each variant was seeded at,
    # and the body of each campaign executed (by campaign id).
    seeded: dict[str, str] = field(default_factory=dict)
    executed: dict[str, dict[str, Any]] = field(default_factory=dict)
    _count: int = 0

    # Processes ------------------------------------------------------------------------------

    def _child(self, kind: str, *args: str) -> Child:
        self._count += 1
        argv = [sys.executable, "-m", "server.cli", kind, *args]
        return Child(f"{kind}-{self._count}", argv, self.env, self.folder)

    def start_serve(self) -> Child:
        """One more `channel-router serve`, waited for until /ready answers 200."""
        port = free_port()
        child = self._child("serve", "--port", str(port))
        child.url = f"http://127.0.0.1:{port}"
        self.serves.append(child)
        wait_for(
            lambda: _ready(child.url + "/ready") or self._exited(child),
            timeout=START_SECONDS,
            what=f"{child.name} ready",
            describe=child.tail,
        )
        self._exited(child)
        return child

    def start_worker(self) -> Child:
        """One more `channel-router worker` (it takes jobs once it has connected)."""
        child = self._child("worker")
        self.workers.append(child)
        return child

    def crashed(self) -> list[Child]:
        """serve and worker processes that exited without being told to."""
        return [c for c in (*self.serves, *self.workers) if not c.killed and not c.running()]

    def revive_workers(self) -> int:
        """Start a new worker for each one that crashed (what `up`'s supervisor, systemd or
        Kubernetes do); how many were restarted."""
        dead = [c for c in self.workers if not c.killed and not c.running()]
        for child in dead:
            child.killed = True  # accounted for
            self.start_worker()
        return len(dead)

    def _exited(self, child: Child) -> bool:
        if not child.running():
            raise AssertionError(
                f"{child.name} exited ({child.process.returncode}):\n{child.tail()}"
            )
        return False

    @property
    def api_url(self) -> str:
        return self.serves[0].url

    def api(self, index: int = 0) -> str:
        """The URL of the index-th serve process (campaigns go to any of them)."""
        return self.serves[index % len(self.serves)].url

    def logs(self) -> str:
        """The tail of every child's output, for an assertion message."""
        children = [self.sandbox, *self.serves, *self.workers]
        return "\n".join(f"--- {c.name}\n{c.tail(15)}" for c in children)

    def restart_redis(self, while_down: Callable[[], object] | None = None) -> None:
        """Stop the private Redis and start an empty one on the same port (a crash without
        persistence: every queued and deferred job is gone); `while_down` runs in between."""
        assert self.redis is not None, "restart needs the deployment's own Redis"
        port = self.redis.port
        self.redis.stop()
        if while_down is not None:
            while_down()
        self.redis = PrivateRedis(port=port).start()

    def flush_redis(self) -> None:
        """FLUSHDB on the deployment's Redis (only its own: a private server)."""
        assert self.redis is not None, "FLUSHDB needs the deployment's own Redis"
        import redis

        client = redis.Redis.from_url(self.redis_url)
        try:
            client.flushdb()
        finally:
            client.close()

    # The merchant's side --------------------------------------------------------------------

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"}

    def create_merchant(
        self, merchant_id: str | None = None, channels: tuple[str, ...] = ("ebay", "amazon")
    ) -> Merchant:
        """A merchant with `channels` enabled, its store and those accounts connected."""
        merchant_id = merchant_id or f"m-{secrets.token_hex(4)}"
        created = self.http.post(
            self.api_url + "/v1/merchants",
            json={
                "merchant_id": merchant_id,
                "name": merchant_id,
                "settings": {"enabled_external_channels": list(channels)},
            },
            headers=self.admin,
        )
        assert created.status_code == 201, created.text
        merchant = Merchant(merchant_id, created.json()["api_key"])
        bodies: dict[str, dict[str, str]] = {
            "shopify": {
                "shop_domain": f"{merchant_id}.myshopify.com",
                "access_token": f"good-{secrets.token_hex(8)}",
            },
            "ebay": {"authorization_code": f"good-{secrets.token_hex(8)}"},
            "amazon": {
                "authorization_code": f"good-{secrets.token_hex(8)}",
                "seller_id": f"A{secrets.token_hex(6).upper()}",
            },
        }
        for channel in ("shopify", *channels):
            put = self.http.put(
                f"{self.api_url}/v1/merchants/{merchant_id}/channels/{channel}/credentials",
                json=bodies[channel],
                headers=merchant.auth,
            )
            assert put.status_code == 204, f"{channel}: {put.status_code} {put.text}"
        return merchant

    def seed_product(self, product_id: str, variant_id: str, price: str, stock: int = 60) -> None:
        """A variant on the sandbox's Shopify store at `price`."""
        self.control(
            "POST",
            "/_sandbox/shopify/variants",
            {
                "product_id": product_id,
                "variant_id": variant_id,
                "price": price,
                "available": stock,
            },
            expect=201,
        )
        self.seeded[variant_id] = price

    def execute(
        self,
        merchant: Merchant,
        body: dict[str, Any],
        idempotency_key: str | None = None,
        *,
        serve: int = 0,
    ) -> httpx.Response:
        """POST /v1/execute (to the serve-th API process)."""
        key = idempotency_key or secrets.token_hex(8)
        response = self.http.post(
            self.api(serve) + "/v1/execute",
            json=body,
            headers={**merchant.auth, "Idempotency-Key": key},
        )
        if response.status_code == 202:
            self.executed[response.json()["campaign_id"]] = body
        return response

    def campaign(self, merchant: Merchant, campaign_id: str, *, serve: int = 0) -> dict[str, Any]:
        response = self.http.get(
            f"{self.api(serve)}/v1/campaigns/{campaign_id}", headers=merchant.auth
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def cancel(self, merchant: Merchant, campaign_id: str) -> httpx.Response:
        return self.http.post(
            f"{self.api_url}/v1/campaigns/{campaign_id}/cancel", headers=merchant.auth
        )

    def wait_status(
        self,
        merchant: Merchant,
        campaign_ids: list[str],
        statuses: set[str],
        *,
        timeout: float,
    ) -> dict[str, dict[str, Any]]:
        """Wait until every campaign has one of `statuses`; their last views."""
        seen: dict[str, dict[str, Any]] = {}

        def check() -> bool:
            crashed = self.crashed()
            if crashed:
                raise AssertionError(
                    "exited: " + ", ".join(c.name for c in crashed) + "\n" + self.logs()
                )
            for campaign_id in campaign_ids:
                if seen.get(campaign_id, {}).get("status") in statuses:
                    continue
                seen[campaign_id] = self.campaign(merchant, campaign_id)
            return all(seen[c]["status"] in statuses for c in campaign_ids)

        def describe() -> str:
            waiting = [
                f"{c}: {seen[c]['status']} store={seen[c]['store']['status']} "
                f"listings={[(li['channel'], li['status']) for li in seen[c]['listings']]} "
                f"end={seen[c].get('end')}"
                for c in campaign_ids
                if c in seen and seen[c]["status"] not in statuses
            ]
            return f"{len(waiting)} waiting, e.g. {waiting[:3]}\n{self.logs()}"

        wait_for(
            check,
            timeout=timeout,
            what=f"campaigns {sorted(statuses)}",
            describe=describe,
            interval=0.25,
        )
        return seen

    # The sandbox's side ---------------------------------------------------------------------

    def control(
        self, method: str, path: str, body: Any = None, *, expect: int | None = None
    ) -> httpx.Response:
        """A /_sandbox/... call; `expect` asserts its status."""
        response = self.http.request(method, self.sandbox_url + path, json=body)
        if expect is not None:
            assert response.status_code == expect, f"{path}: {response.status_code} {response.text}"
        return response

    def live(self) -> dict[str, Any]:
        """GET /_sandbox/live: store prices, every listing (live or not), creations per SKU."""
        body: dict[str, Any] = self.control("GET", "/_sandbox/live", expect=200).json()
        return body

    def inject(self, **fault: Any) -> None:
        self.control("POST", "/_sandbox/faults", fault, expect=201)

    def clear_faults(self) -> None:
        self.control("DELETE", "/_sandbox/faults", expect=204)

    def fault_marketplaces(
        self, share: float, *, seed: int = 7, delay_seconds: float = 0.5
    ) -> None:
        """Errors (503), 429s (Retry-After 1), slow answers and dropped connections (half
        before the request is handled, half after) on `share` of every marketplace call,
        each kind an equal part of it, from seeded generators."""
        kinds: list[dict[str, Any]] = [
            {"kind": "status", "status": 503},
            {"kind": "rate_limit", "retry_after": 1},
            {"kind": "delay", "delay_seconds": delay_seconds},
            {"kind": "drop"},
            {"kind": "drop_after"},
        ]
        part = share / len(kinds)
        index = 0
        for api in MARKETPLACE_APIS:
            for number, kind in enumerate(kinds):
                # Conditional shares: the calls a fault spares go on to the next one.
                probability = part / (1 - part * number)
                self.inject(
                    **kind, api=api, probability=probability, seed=seed + index, times=10**9
                )
                index += 1

    def add_latency(self, seconds: float) -> None:
        """`seconds` added to every marketplace call (not the store's)."""
        for api in MARKETPLACE_APIS:
            self.inject(kind="delay", api=api, delay_seconds=seconds, times=10**9)

    def fail_store(self) -> None:
        """Every Shopify call answers 500 (after the connector's retries: a failed store)."""
        self.inject(kind="status", api="shopify", status=500, times=10**9)

    def assert_nothing_left(self, campaigns: Mapping[str, dict[str, Any]]) -> None:
        """The sandbox's own state after these campaigns ended: every product's store price
        is the one it was seeded at, and no listing under any of their SKUs is live."""
        live = self.live()
        prices = live["store_prices"]
        skus = {li["sku"] for c in campaigns.values() for li in c["listings"] if li.get("sku")}
        left_live = [row for row in live["listings"] if row["sku"] in skus and row["live"]]
        assert not left_live, f"listings still live after the end: {left_live}"
        for campaign_id, view in campaigns.items():
            variant = str(self.executed[campaign_id]["product"]["variant_id"])
            assert prices.get(variant) == self.seeded[variant], (
                f"{campaign_id} ({view['status']}): the store shows {prices.get(variant)} for "
                f"{variant}, seeded at {self.seeded[variant]} "
                f"(clearance {view['clearance_price']}, store {view['store']})"
            )

    def creations(self) -> dict[str, dict[str, int]]:
        """How many times each SKU's listing was created on each marketplace."""
        created: dict[str, dict[str, int]] = self.live()["created"]
        return created

    def close(self) -> None:
        self.http.close()


def _stop_all(children: list[Child]) -> None:
    for child in children:
        child.stop()


def campaign_body(
    merchant: Merchant,
    product_id: str,
    *,
    variant_id: str | None = None,
    stock: int = 60,
    days_since_last_sale: int = 45,
    current_price: str = "49.99",
    clearance_price: str = "19.99",
    **extra: Any,
) -> dict[str, Any]:
    """A DecideRequest for /v1/execute that the default policy sends external (dead stock:
    70 % over the merchant's channels), plus `extra` (ends_at, campaign_id, ...)."""
    return {
        "merchant_id": merchant.merchant_id,
        "product": {
            "product_id": product_id,
            "variant_id": variant_id or f"{product_id}1",
            "title": f"Linen shirt {product_id}",
            "category": "Apparel",
            "stock_quantity": stock,
            "days_since_last_sale": days_since_last_sale,
            "current_price": current_price,
        },
        "proposal": {"proposed_price": clearance_price, "duration_hours": 168},
        **extra,
    }


def service_env(
    *,
    folder: Path,
    sandbox_url: str,
    redis_url: str,
    redis_prefix: str,
    database_url: str,
    admin_token: str,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment every serve and worker of one deployment shares."""
    env = {
        **os.environ,
        "CHANNEL_ROUTER_DATABASE_URL": database_url,
        "CHANNEL_ROUTER_REDIS_URL": redis_url,
        "CHANNEL_ROUTER_REDIS_PREFIX": redis_prefix,
        "CHANNEL_ROUTER_RATE_KEY_PREFIX": f"{redis_prefix}:rate",
        "CHANNEL_ROUTER_ADMIN_TOKEN": admin_token,
        "CHANNEL_ROUTER_SECRET_KEY": secrets.token_urlsafe(32),
        "CHANNEL_ROUTER_POLICY_DIR": str(REPO_POLICY_DIR),
        "CHANNEL_ROUTER_DATA_DIR": str(folder / "data"),
        "CHANNEL_ROUTER_LOG_LEVEL": "warning",
        "CHANNEL_ROUTER_EBAY_BASE_URL": sandbox_url,
        "CHANNEL_ROUTER_AMAZON_BASE_URL": sandbox_url,
        "CHANNEL_ROUTER_AMAZON_TOKEN_URL": sandbox_url + "/auth/o2/token",
        "CHANNEL_ROUTER_SHOPIFY_BASE_URL": sandbox_url,
        "CHANNEL_ROUTER_EBAY_CLIENT_ID": "sandbox-ebay-client-id",
        "CHANNEL_ROUTER_EBAY_CLIENT_SECRET": "sandbox-ebay-client-secret",
        "CHANNEL_ROUTER_AMAZON_CLIENT_ID": "amzn1.application-oa2-client.sandbox",
        "CHANNEL_ROUTER_AMAZON_CLIENT_SECRET": "sandbox-amazon-client-secret",
        "PYTHONPATH": str(CHECKOUT),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(extra or {})
    return env


@contextmanager
def deployment(
    folder: Path,
    database_url: str,
    *,
    serves: int = 1,
    workers: int = 1,
    redis_url: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[Deployment]:
    """Sandbox, Redis (private unless `redis_url`), `serves` APIs and `workers` workers on
    `database_url`; everything stopped afterwards, workers first."""
    folder.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        sandbox_port = free_port()
        sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        base_env = {**os.environ, "CHANNEL_ROUTER_LOG_LEVEL": "warning"}
        sandbox = Child(
            "sandbox",
            [sys.executable, "-m", "server.cli", "sandbox", "--port", str(sandbox_port)],
            base_env,
            folder,
        )
        stack.callback(sandbox.stop)
        private = None
        if redis_url is None:
            private = PrivateRedis().start()
            redis_url = private.url
        prefix = f"cr-test-{secrets.token_hex(4)}"
        admin = "admin-" + secrets.token_urlsafe(16)
        run = Deployment(
            folder=folder,
            env=service_env(
                folder=folder,
                sandbox_url=sandbox_url,
                redis_url=redis_url,
                redis_prefix=prefix,
                database_url=database_url,
                admin_token=admin,
                extra=env,
            ),
            sandbox_url=sandbox_url,
            redis_url=redis_url,
            redis_prefix=prefix,
            database_url=database_url,
            admin_token=admin,
            redis=private,
            sandbox=sandbox,
        )
        stack.callback(lambda: run.redis.stop() if run.redis is not None else None)
        stack.callback(run.close)
        stack.callback(_stop_all, run.serves)
        stack.callback(_stop_all, run.workers)
        wait_for(
            lambda: _ready(sandbox_url + "/_sandbox/state") or run._exited(sandbox),
            timeout=START_SECONDS,
            what="sandbox ready",
            describe=sandbox.tail,
        )
        for _ in range(serves):
            run.start_serve()
        for _ in range(workers):
            run.start_worker()
        yield run
