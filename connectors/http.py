"""One place for timeouts, retries and error mapping of every marketplace call.

Transient failures (transport errors, timeouts, 5xx, 429, and 2xx answers a connector recognises as
throttled, like Shopify's GraphQL THROTTLED) are retried up to `max_attempts` with exponential
backoff and full jitter, capped at `backoff_max_seconds`; a Retry-After header (seconds or HTTP
date) or a throttle delay replaces the jittered wait. 2xx and 401 go back to the caller (401 so
the connector can refresh its token once); other 4xx raise PermanentChannelError with the API's
own message. Logs never carry headers or bodies.

With a `RateBudget` (connectors.rate_budget), every attempt first waits for room in the budgets the
call falls under (shared by all workers through Redis) and every answer is shown to the budget
(Shopify's throttleStatus); the retry policy above stays exactly as it is.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx

from connectors.config import ApiConfig
from connectors.errors import PermanentChannelError, TransientChannelError

if TYPE_CHECKING:
    from connectors.rate_budget import BudgetRequest, RateBudget

log = logging.getLogger(__name__)

MAX_RETRY_AFTER_SECONDS = 60.0
"""A longer server-requested wait is not slept through: the call fails as transient, with the
hint in `TransientChannelError.retry_after`, so a job queue can come back later."""

_SENSITIVE_HEADERS = frozenset({"authorization", "x-shopify-access-token", "x-amz-access-token"})
_SENSITIVE_FORM_FIELDS = frozenset({"client_secret", "refresh_token", "code", "access_token"})


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date; None if absent."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def default_error_message(response: httpx.Response) -> str:
    """The API's own error text from common JSON error shapes, else the status line."""
    try:
        body = response.json()
    except ValueError:
        body = None
    messages: list[str] = []
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, str) and errors:  # Shopify: {"errors": "..."}
            messages.append(errors)
        elif isinstance(errors, dict):  # Shopify 400: {"errors": {"query": "..."}}
            messages.extend(f"{key}: {value}" for key, value in errors.items())
        elif isinstance(errors, list):
            for error in errors:
                if isinstance(error, dict):
                    text = error.get("message") or error.get("longMessage") or ""
                    details = error.get("details")
                    if isinstance(details, str) and details:
                        text = f"{text} ({details})" if text else details
                    if text:
                        messages.append(str(text))
        for key in ("error_description", "message", "error"):
            if not messages and isinstance(body.get(key), str) and body[key]:
                messages.append(body[key])
    if messages:
        return "; ".join(messages)
    text = response.text.strip()
    if text and len(text) <= 300 and not text.startswith("<"):
        return text
    return f"HTTP {response.status_code} {response.reason_phrase}".strip()


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret value (of 6+ characters) replaced by ***."""
    for secret in sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _request_secrets(headers: Mapping[str, str] | None, data: Any) -> list[str]:
    """Token-like values this request carries, to keep them out of error messages."""
    found: list[str] = []
    for key, value in (headers or {}).items():
        if key.lower() in _SENSITIVE_HEADERS:
            found.append(value)
            found.extend(value.split(" ", 1)[1:])  # "Bearer <token>" / "Basic <creds>"
    if isinstance(data, Mapping):
        found.extend(str(v) for k, v in data.items() if k in _SENSITIVE_FORM_FIELDS)
    return found


class ApiClient:
    """Wraps one shared httpx.AsyncClient with the retry policy of `config`.

    `sleep` and `rng` are injectable so tests record the waits instead of sleeping. `budget`
    (optional) paces calls that say whose budget they spend (`budget_request`).
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        config: ApiConfig,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        budget: RateBudget | None = None,
    ) -> None:
        self.client = client
        self.config = config
        self.budget = budget
        self._sleep = sleep
        self._rng = rng or random.Random()

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential wait after failed attempt number `attempt` (1-based)."""
        cap = min(
            self.config.backoff_max_seconds,
            self.config.backoff_base_seconds * (2 ** (attempt - 1)),
        )
        return self._rng.uniform(0.0, cap)

    async def request(
        self,
        api: str,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Any = None,
        json: Any = None,
        data: Any = None,
        content: bytes | str | None = None,
        error_message: Callable[[httpx.Response], str] | None = None,
        is_throttled: Callable[[httpx.Response], float | None] | None = None,
        budget_request: BudgetRequest | None = None,
    ) -> httpx.Response:
        """Send with retries; returns a 2xx or 401 response, else raises a ChannelError.

        With a budget and a `budget_request`, each attempt waits for room first (BudgetExhausted,
        a TransientChannelError, when there is none in time)."""
        attempts = max(1, self.config.max_attempts)
        describe = error_message or default_error_message
        secrets = _request_secrets(headers, data)
        path = httpx.URL(url).path
        started = time.monotonic()
        for attempt in range(1, attempts + 1):
            hint: float | None = None
            status: int | None = None
            if self.budget is not None and budget_request is not None:
                await self.budget.acquire(api, method, path, budget_request)
            try:
                # httpx's timeout bounds each phase; asyncio.timeout bounds the whole attempt,
                # so a server trickling bytes cannot hold a call for longer either.
                async with asyncio.timeout(self.config.timeout_seconds):
                    response = await self.client.request(
                        method,
                        url,
                        headers=headers,
                        params=params,
                        json=json,
                        data=data,
                        content=content,
                        timeout=self.config.timeout_seconds,
                    )
            except (httpx.TimeoutException, TimeoutError):
                kind = "timeout"
                reason = f"timed out after {self.config.timeout_seconds:g}s"
            except httpx.TransportError as exc:
                kind = type(exc).__name__
                reason = f"connection failed ({kind})"
            else:
                if self.budget is not None and budget_request is not None:
                    await self.budget.observe(api, budget_request, response)
                status = response.status_code
                if 200 <= status < 300:
                    hint = is_throttled(response) if is_throttled is not None else None
                    if hint is None:
                        _log_call(api, method, path, f"{status}", started, attempt)
                        return response
                    kind = "throttled"
                    reason = describe(response) or "throttled"
                elif status == 401:
                    _log_call(api, method, path, "401", started, attempt)
                    return response
                elif status == 429 or status >= 500:
                    hint = parse_retry_after(response.headers.get("retry-after"))
                    kind = f"HTTP {status}"
                    reason = describe(response)
                else:
                    _log_call(api, method, path, f"{status}, not retried", started, attempt)
                    raise PermanentChannelError(
                        redact(describe(response), secrets), api=api, status=status
                    )
            if attempt == attempts or (hint is not None and hint > MAX_RETRY_AFTER_SECONDS):
                _log_call(api, method, path, f"{kind}, giving up", started, attempt)
                raise TransientChannelError(
                    redact(f"{reason} (after {attempt} attempt(s))", secrets),
                    api=api,
                    status=status,
                    retry_after=hint,
                )
            wait = hint if hint is not None else self.backoff(attempt)
            log.info(
                "%s %s %s: %s, retry %d/%d in %.2fs",
                api,
                method,
                path,
                kind,
                attempt,
                attempts - 1,
                wait,
            )
            await self._sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover


def _log_call(
    api: str, method: str, path: str, outcome: str, started: float, attempts: int
) -> None:
    """Our one line per marketplace call (httpx's own lines are DEBUG-only): API, method,
    path, outcome, time over all attempts. No query, header or body: they carry secrets."""
    log.info(
        "%s %s %s -> %s in %.0f ms (%d attempt%s)",
        api,
        method,
        path,
        outcome,
        (time.monotonic() - started) * 1000,
        attempts,
        "" if attempts == 1 else "s",
    )
