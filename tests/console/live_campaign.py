"""A campaign run for real behind the console: the merchant's accounts connected through the
API (the sandbox issues their tokens), a store variant seeded in the sandbox, the campaign
made by `POST /v1/execute`, and `channel-router worker` run as a subprocess against the
site's database, Redis queue and sandbox, so its jobs set prices, list and end."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tests.console.conftest import Site
from tests.server.helpers import connector_env

REPO = Path(__file__).resolve().parents[2]
PRODUCT_ID, VARIANT_ID = "8812", "4410"
ORIGINAL_PRICE, CLEARANCE_PRICE = "49.99", "19.99"
FAST_WORKER = {
    "CHANNEL_ROUTER_WORKER_REFRESH_SECONDS": "1",
    "CHANNEL_ROUTER_WORKER_SALES_SECONDS": "1",
    "CHANNEL_ROUTER_WORKER_SWEEP_SECONDS": "1",
    "CHANNEL_ROUTER_WORKER_RETRY_BASE_SECONDS": "0.2",
    "CHANNEL_ROUTER_WORKER_RETRY_MAX_SECONDS": "1",
}
ACCOUNTS = {
    "shopify": {"shop_domain": "acme.myshopify.com", "access_token": "shpat_good_console"},
    "ebay": {"authorization_code": "good-code-console"},
    "amazon": {"authorization_code": "good-code-console", "seller_id": "A1CONSOLE"},
}


def connect_accounts(site: Site, merchant_id: str) -> None:
    for channel, body in ACCOUNTS.items():
        path = f"/v1/merchants/{merchant_id}/channels/{channel}/credentials"
        answer = site.api.put(path, json=body, headers=site.admin)
        assert answer.status_code == 204, answer.text


def seed_variant(site: Site) -> None:
    body = {
        "product_id": PRODUCT_ID,
        "variant_id": VARIANT_ID,
        "price": ORIGINAL_PRICE,
        "available": 60,
    }
    answer = site.api.post(site.sandbox_url + "/_sandbox/shopify/variants", json=body)
    assert answer.status_code == 201, answer.text


def store_price(site: Site) -> str:
    answer = site.api.get(site.sandbox_url + f"/_sandbox/shopify/variants/{VARIANT_ID}")
    assert answer.status_code == 200, answer.text
    return str(answer.json()["price"])


def execute(site: Site, key: str, merchant_id: str, title: str) -> dict[str, Any]:
    """POST /v1/execute for 60 units of dead stock: 18 stay, 21 to eBay, 21 to Amazon."""
    body = {
        "merchant_id": merchant_id,
        "product": {
            "product_id": PRODUCT_ID,
            "variant_id": VARIANT_ID,
            "title": title,
            "category": "Apparel",
            "stock_quantity": 60,
            "days_since_last_sale": 45,
            "current_price": ORIGINAL_PRICE,
        },
        "proposal": {"proposed_price": CLEARANCE_PRICE, "duration_hours": 168},
    }
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": f"console-{title}"}
    answer = site.api.post("/v1/execute", json=body, headers=headers)
    assert answer.status_code == 202, answer.text
    campaign: dict[str, Any] = answer.json()
    return campaign


def campaign(site: Site, key: str, campaign_id: str) -> dict[str, Any]:
    """GET /v1/campaigns/{id} as the merchant."""
    answer = site.api.get(
        f"/v1/campaigns/{campaign_id}", headers={"Authorization": f"Bearer {key}"}
    )
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def wait_for(
    site: Site,
    key: str,
    campaign_id: str,
    done: Callable[[dict[str, Any]], bool],
    what: str,
    log: Path,
    timeout: float = 60.0,
) -> dict[str, Any]:
    """Poll the API until `done(campaign)`; fail with the campaign and the worker's log."""
    deadline = time.monotonic() + timeout
    found = campaign(site, key, campaign_id)
    while not done(found):
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-4000:] if log.exists() else ""
            raise AssertionError(f"{what}: not within {timeout:g} s: {found}\n{tail}")
        time.sleep(0.2)
        found = campaign(site, key, campaign_id)
    return found


@contextlib.contextmanager
def worker(site: Site, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`channel-router worker` on the site's database and queue; stopped afterwards."""
    config = site.config
    assert config.redis_url is not None and config.secret_key is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHANNEL_ROUTER_")}
    env.update(connector_env(site.sandbox_url))
    env.update(FAST_WORKER)
    env.update(
        {
            "CHANNEL_ROUTER_DATABASE_URL": config.database_url,
            "CHANNEL_ROUTER_REDIS_URL": config.redis_url,
            "CHANNEL_ROUTER_REDIS_PREFIX": config.redis_prefix,
            "CHANNEL_ROUTER_SECRET_KEY": config.secret_key,
            "CHANNEL_ROUTER_DATA_DIR": str(log.parent),
            "PYTHONUNBUFFERED": "1",
        }
    )
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "worker"],
            env=env,
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
