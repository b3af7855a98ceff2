"""ApiClient retry policy against the real sandbox over loopback, with faults injected and waits
recorded instead of slept."""

from __future__ import annotations

import email.utils
import logging
import random
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import httpx
import msgspec
import pytest

from connectors.config import ApiConfig
from connectors.errors import PermanentChannelError, TransientChannelError
from connectors.http import ApiClient, parse_retry_after
from connectors.shopify import throttle_delay
from tests.connectors.conftest import Sandbox, free_port, inject

TOKEN = "good-shopify-token-7f3a9c"
GRAPHQL_PATH = "/admin/api/2025-01/graphql.json"
SHOP_QUERY = {"query": "{ shop { name } }"}


def graphql_url(sandbox: Sandbox) -> str:
    return sandbox.base_url + GRAPHQL_PATH


async def shop_request(api: ApiClient, sandbox: Sandbox, token: str = TOKEN) -> httpx.Response:
    """One GraphQL call through the ApiClient (a real endpoint that answers 200 when healthy)."""
    return await api.request(
        "shopify",
        "POST",
        graphql_url(sandbox),
        headers={"X-Shopify-Access-Token": token},
        json=SHOP_QUERY,
        is_throttled=throttle_delay,
    )


def attempts(sandbox: Sandbox, path: str = GRAPHQL_PATH) -> list[str | None]:
    """The fault kind applied to each request the sandbox saw on `path` (None = none)."""
    return [r.fault for r in sandbox.state.requests if r.path == path]


MakeApi = Callable[..., ApiClient]


@pytest.fixture
async def make_api(api_config: ApiConfig, sleeps: list[float]) -> AsyncIterator[MakeApi]:
    """Build an ApiClient with some config fields changed (recording sleep, fixed seed)."""
    clients: list[httpx.AsyncClient] = []

    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    def build(**changes: object) -> ApiClient:
        client = httpx.AsyncClient()
        clients.append(client)
        config = msgspec.structs.replace(api_config, **changes)
        return ApiClient(client, config, sleep=record, rng=random.Random(7))

    yield build
    for client in clients:
        await client.aclose()


async def test_healthy_call_returns_response_without_waiting(
    api: ApiClient, sandbox: Sandbox, sleeps: list[float]
) -> None:
    response = await shop_request(api, sandbox)
    assert response.status_code == 200
    assert response.json()["data"] == {"shop": {"name": "Sandbox Shop"}}
    assert sleeps == []
    assert attempts(sandbox) == [None]


async def test_5xx_is_retried_with_capped_full_jitter_backoff(
    api: ApiClient, api_config: ApiConfig, sandbox: Sandbox, sleeps: list[float]
) -> None:
    inject(sandbox, kind="status", api="shopify", status=503, times=3)
    response = await shop_request(api, sandbox)
    assert response.status_code == 200
    assert attempts(sandbox) == ["status", "status", "status", None]
    assert len(sleeps) == 3
    for attempt, wait in enumerate(sleeps, start=1):
        cap = min(
            api_config.backoff_max_seconds, api_config.backoff_base_seconds * 2 ** (attempt - 1)
        )
        assert 0.0 <= wait <= cap


async def test_backoff_grows_exponentially_is_jittered_and_capped(make_api: MakeApi) -> None:
    client = make_api(backoff_base_seconds=1.0, backoff_max_seconds=5.0)
    waits = {attempt: [client.backoff(attempt) for _ in range(300)] for attempt in (1, 2, 3, 8)}
    assert max(waits[1]) <= 1.0 and max(waits[2]) <= 2.0 and max(waits[3]) <= 4.0
    assert max(waits[8]) <= 5.0  # capped, though 2**7 would be 128
    assert max(waits[8]) > 4.0 and min(waits[8]) < 1.0  # full jitter spreads over [0, cap]
    assert len(set(waits[1])) == 300


async def test_429_retry_after_seconds_is_honoured(
    api: ApiClient, sandbox: Sandbox, sleeps: list[float]
) -> None:
    inject(sandbox, kind="rate_limit", api="lwa", retry_after=3)
    with pytest.raises(PermanentChannelError) as caught:  # after the 429, LWA refuses the form
        await api.request("lwa", "POST", sandbox.base_url + "/auth/o2/token", data={"code": "x"})
    assert caught.value.status == 400
    assert "grant_type" in caught.value.message
    assert sleeps == [3.0]
    assert attempts(sandbox, "/auth/o2/token") == ["rate_limit", None]


async def test_429_retry_after_http_date_is_honoured(
    api: ApiClient, sandbox: Sandbox, sleeps: list[float]
) -> None:
    when = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=5), usegmt=True)
    inject(sandbox, kind="status", api="shopify", status=429, headers={"Retry-After": when})
    response = await shop_request(api, sandbox)
    assert response.status_code == 200
    assert len(sleeps) == 1
    assert 3.0 < sleeps[0] <= 5.0


async def test_retry_after_beyond_the_limit_fails_transient_with_the_hint(
    api: ApiClient, sandbox: Sandbox, sleeps: list[float]
) -> None:
    inject(sandbox, kind="status", api="shopify", status=429, headers={"Retry-After": "3600"})
    with pytest.raises(TransientChannelError) as caught:
        await api.request(
            "shopify",
            "POST",
            graphql_url(sandbox),
            headers={"X-Shopify-Access-Token": TOKEN},
            json=SHOP_QUERY,
        )
    assert caught.value.retry_after == 3600.0
    assert caught.value.status == 429
    assert sleeps == []


async def test_shopify_throttle_with_http_200_is_retried_after_the_restore_time(
    api: ApiClient, sandbox: Sandbox, sleeps: list[float]
) -> None:
    inject(sandbox, kind="rate_limit", api="shopify", retry_after=1.5)
    response = await shop_request(api, sandbox)
    assert response.json()["data"] == {"shop": {"name": "Sandbox Shop"}}
    assert sleeps == [pytest.approx(1.5)]


async def test_exhausted_retries_raise_transient_with_the_api_message(
    api: ApiClient, api_config: ApiConfig, sandbox: Sandbox, sleeps: list[float]
) -> None:
    inject(
        sandbox,
        kind="status",
        api="ebay",
        status=502,
        times=10,
        body={"errors": [{"errorId": 25001, "message": "A system error has occurred."}]},
    )
    with pytest.raises(TransientChannelError) as caught:
        await api.request("ebay", "GET", sandbox.base_url + "/sell/inventory/v1/offer")
    error = caught.value
    assert error.status == 502 and error.api == "ebay" and error.transient
    assert "A system error has occurred." in str(error)
    assert len(sleeps) == api_config.max_attempts - 1
    assert attempts(sandbox, "/sell/inventory/v1/offer") == ["status"] * api_config.max_attempts


async def test_permanent_4xx_is_not_retried_and_carries_the_api_message(
    api: ApiClient, sandbox: Sandbox, sleeps: list[float]
) -> None:
    inject(
        sandbox,
        kind="status",
        api="amazon",
        status=400,
        body={"errors": [{"code": "InvalidInput", "message": "Invalid sku", "details": "sku"}]},
    )
    with pytest.raises(PermanentChannelError) as caught:
        await api.request("amazon", "GET", sandbox.base_url + "/orders/v0/orders")
    assert caught.value.status == 400 and not caught.value.transient
    assert caught.value.message == "Invalid sku (sku)"
    assert sleeps == []
    assert attempts(sandbox, "/orders/v0/orders") == ["status"]


async def test_real_sandbox_400_message_is_reported(api: ApiClient, sandbox: Sandbox) -> None:
    with pytest.raises(PermanentChannelError) as caught:
        await api.request(
            "shopify",
            "POST",
            graphql_url(sandbox),
            headers={"X-Shopify-Access-Token": TOKEN, "Content-Type": "application/json"},
            content=b"not json",
        )
    assert caught.value.message == "query: Required parameter missing or invalid"


async def test_401_goes_back_to_the_caller_unretried(
    api: ApiClient, sandbox: Sandbox, sleeps: list[float]
) -> None:
    response = await shop_request(api, sandbox, token="wrong-token-abcdef")
    assert response.status_code == 401
    assert sleeps == []
    assert attempts(sandbox) == [None]


async def test_timeout_is_retried(make_api: MakeApi, sandbox: Sandbox, sleeps: list[float]) -> None:
    api = make_api(timeout_seconds=0.3)
    inject(sandbox, kind="delay", api="shopify", delay_seconds=1.0)
    response = await shop_request(api, sandbox)
    assert response.status_code == 200
    assert attempts(sandbox) == ["delay", None]
    assert len(sleeps) == 1


async def test_timeouts_exhausted_raise_transient(make_api: MakeApi, sandbox: Sandbox) -> None:
    api = make_api(timeout_seconds=0.2, max_attempts=2)
    inject(sandbox, kind="delay", api="shopify", delay_seconds=0.8, times=2)
    with pytest.raises(TransientChannelError) as caught:
        await shop_request(api, sandbox)
    assert caught.value.status is None
    assert "timed out after 0.2s (after 2 attempt(s))" in caught.value.message


async def test_dropped_connection_is_retried(
    api: ApiClient, sandbox: Sandbox, sleeps: list[float]
) -> None:
    inject(sandbox, kind="drop", api="shopify", times=2)
    response = await shop_request(api, sandbox)
    assert response.status_code == 200
    assert attempts(sandbox) == ["drop", "drop", None]
    assert len(sleeps) == 2


async def test_dropped_connections_exhausted_raise_transient(
    api: ApiClient, sandbox: Sandbox
) -> None:
    inject(sandbox, kind="drop", api="shopify", times=4)
    with pytest.raises(TransientChannelError) as caught:
        await shop_request(api, sandbox)
    # the early close reaches httpx as an incomplete body or, when it races the read, a reset
    assert caught.value.message.startswith(
        ("connection failed (RemoteProtocolError)", "connection failed (ReadError)")
    )
    assert caught.value.status is None


async def test_connection_refused_is_a_transient_transport_error(
    api: ApiClient, sleeps: list[float]
) -> None:
    url = f"http://127.0.0.1:{free_port()}/sell/inventory/v1/offer"
    with pytest.raises(TransientChannelError) as caught:
        await api.request("ebay", "GET", url)
    assert "connection failed (ConnectError)" in caught.value.message
    assert len(sleeps) == 3


async def test_tokens_never_reach_error_text_or_logs(
    api: ApiClient, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "good-very-secret-token-123456"
    echo = {"errors": [{"message": f"token {secret} is not allowed here"}]}
    inject(sandbox, kind="status", api="shopify", status=503, body=echo)
    inject(sandbox, kind="status", api="shopify", status=403, body=echo)
    caplog.set_level(logging.DEBUG, logger="connectors")
    with pytest.raises(PermanentChannelError) as caught:
        await shop_request(api, sandbox, token=secret)
    assert secret not in str(caught.value) and secret not in repr(caught.value.args)
    assert str(caught.value) == "shopify HTTP 403: token *** is not allowed here"
    assert "retry 1/3" in caplog.text
    assert secret not in caplog.text


async def test_bearer_and_form_secrets_are_redacted(api: ApiClient, sandbox: Sandbox) -> None:
    body = {"error": "invalid_grant", "error_description": "bad code good-code-998877 for Atzr|abc"}
    inject(sandbox, kind="status", api="lwa", status=400, body=body)
    with pytest.raises(PermanentChannelError) as caught:
        await api.request(
            "lwa",
            "POST",
            sandbox.base_url + "/auth/o2/token",
            headers={"Authorization": "Bearer Atzr|abc"},
            data={"grant_type": "authorization_code", "code": "good-code-998877"},
        )
    assert caught.value.message == "bad code *** for ***"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("7", 7.0),
        ("0.5", 0.5),
        ("-3", 0.0),
        ("", None),
        (None, None),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # in the past: no wait
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


def test_parse_retry_after_http_date_relative_to_now() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now=now) == 30.0
