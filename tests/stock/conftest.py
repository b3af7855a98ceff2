"""Fixtures of the stock-integrity tests (issue 11): the sandbox over real HTTP, a real database
of each backend, the test Redis, and the service objects started on them in the test's loop.

- `stock_config`: the server tests' config, with every marketplace pointed at the sandbox.
- `svc`: Services started on that config (migrated database, Redis, policies, HTTP client).
- `connected(svc, merchant_id, channels)`: create a merchant and connect its accounts through
  the same path the API uses (the sandbox exchanges the codes).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterable

import pytest

from engine.types import Settings
from server.accounts import connect_and_save
from server.config import ServiceConfig
from server.db.credentials import CredentialStore
from server.metrics import Metrics
from server.services import Services
from tests.connectors.conftest import Sandbox, sandbox, sandbox_server  # noqa: F401
from tests.server.conftest import config, database_url, policy_dir, postgres_url  # noqa: F401
from tests.server.helpers import connector_env

CREDENTIALS: dict[str, dict[str, str]] = {
    "shopify": {"shop_domain": "acme.myshopify.com", "access_token": "shpat_good_stock"},
    "ebay": {"authorization_code": "good-code-stock-ebay"},
    "amazon": {"authorization_code": "good-code-stock-amazon", "seller_id": "A1STOCK"},
}


@pytest.fixture
def stock_config(config: ServiceConfig, sandbox: Sandbox) -> ServiceConfig:  # noqa: F811
    """The test's service config, marketplaces in the sandbox."""
    return dataclasses.replace(config, env=connector_env(sandbox.base_url))


@pytest.fixture
async def svc(stock_config: ServiceConfig) -> AsyncIterator[Services]:
    """The service objects, started in this test's event loop."""
    services = Services(stock_config, Metrics())
    await services.start()
    try:
        yield services
    finally:
        await services.stop()


async def connected(
    svc: Services,
    merchant_id: str = "acme",
    channels: Iterable[str] = ("shopify", "ebay", "amazon"),
    enabled: tuple[str, ...] = ("ebay", "amazon"),
) -> None:
    """A merchant with `enabled` external channels and accounts connected for `channels`."""
    await svc.merchants.create(
        merchant_id, merchant_id.title(), Settings(enabled_external_channels=list(enabled))
    )
    store = CredentialStore(svc.tables, svc.secret_box)
    for channel in channels:
        await connect_and_save(
            store, merchant_id, channel, CREDENTIALS[channel], svc.http, svc.config.env
        )
