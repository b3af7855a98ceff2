"""Injected faults: error statuses, rate limiting, slow answers and dropped connections.

A fault matches a request by API (derived from the path), path prefix and method; the first
matching fault with requests left applies, and `times` counts down per affected request. With
`probability` below 1 a matching fault applies to that share of the requests only (drawn from
its own random generator, seeded by `seed` when given, so a test run can be repeated); the
requests it spares go on to the next fault, so four faults of 7.5 % each fault 30 % of calls.
It is applied by a Litestar middleware before the handler runs, so it affects the routes the
sandbox serves (an unknown path answers 404 without consuming a fault). /_sandbox/ paths are never
faulted. The API of a path: /admin/api/ shopify, /auth/o2/token lwa, /identity/, /sell/ and
/commerce/ ebay, /listings/ and /orders/ amazon.

- status: answer `status` with `body` (default: the API's usual error shape) and extra `headers`
  (e.g. a Retry-After given as an HTTP date).
- rate_limit: eBay/Amazon/LWA answer 429 with `Retry-After: <retry_after>` (whole seconds, when
  given); Shopify GraphQL answers like Shopify does, HTTP 200 with a THROTTLED error and an
  `extensions.cost` whose numbers give a wait of `retry_after` seconds (default 1).
- delay: wait `delay_seconds`, then handle the request normally (the client may time out first).
- drop: start a response announcing a Content-Length, send part of it and stop; uvicorn then closes
  the connection, so the client sees a broken connection (httpx: RemoteProtocolError, or ReadError
  when the close races the read). Uvicorn logs "ASGI callable returned without completing
  response" for it; that is expected.
- drop_after: the same broken answer, but only after the request was handled: the change it asked
  for is made and the client never hears so (the case that makes a retried create a duplicate).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import msgspec

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Receive

    from sandbox.state import SandboxState

Api = Literal["ebay", "amazon", "shopify", "lwa"]
FaultKind = Literal["status", "rate_limit", "delay", "drop", "drop_after"]


class FaultSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A fault as posted to POST /_sandbox/faults."""

    kind: FaultKind
    api: Api | None = None
    path_prefix: str | None = None
    method: str | None = None
    status: int = 500
    retry_after: float | None = None
    delay_seconds: float = 0.0
    times: int = 1
    body: dict[str, Any] | None = None
    headers: dict[str, str] | None = None
    probability: float = 1.0
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.times < 1:
            raise ValueError("times must be at least 1")
        if not 0 < self.probability <= 1:
            raise ValueError("probability must be above 0 and at most 1")
        if not 100 <= self.status <= 599:
            raise ValueError("status must be an HTTP status code")
        if self.delay_seconds < 0 or (self.retry_after is not None and self.retry_after < 0):
            raise ValueError("delays must not be negative")


class Fault(msgspec.Struct):
    """An installed fault with its id and the number of requests it still affects."""

    id: int
    spec: FaultSpec
    remaining: int
    rng: random.Random

    def strikes(self) -> bool:
        """Whether it applies to this matching request (always, at probability 1)."""
        return self.spec.probability >= 1 or self.rng.random() < self.spec.probability


def api_for_path(path: str) -> str | None:
    """Which API a request path belongs to (None for /_sandbox and unknown paths)."""
    if path.startswith("/admin/api/"):
        return "shopify"
    if path.startswith("/auth/o2/token"):
        return "lwa"
    if path.startswith(("/identity/", "/sell/", "/commerce/")):
        return "ebay"
    if path.startswith(("/listings/", "/orders/")):
        return "amazon"
    return None


class FaultTable:
    """Installed faults, in the order they were added."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)

    def add(self, spec: FaultSpec) -> Fault:
        """Install a fault after the existing ones."""
        fault = Fault(
            id=next(self._ids), spec=spec, remaining=spec.times, rng=random.Random(spec.seed)
        )
        self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Remove every fault."""
        self._faults.clear()

    def all(self) -> list[Fault]:
        """The installed faults with their remaining counts."""
        return list(self._faults)

    def take(self, method: str, path: str) -> FaultSpec | None:
        """The first fault matching this request, counted as used (removed when exhausted)."""
        api = api_for_path(path)
        if api is None:
            return None
        for fault in self._faults:
            spec = fault.spec
            if spec.api is not None and spec.api != api:
                continue
            if spec.path_prefix is not None and not path.startswith(spec.path_prefix):
                continue
            if spec.method is not None and spec.method.upper() != method.upper():
                continue
            if not fault.strikes():
                continue
            fault.remaining -= 1
            if fault.remaining <= 0:
                self._faults.remove(fault)
            return spec
        return None


def default_error_body(api: str, status: int) -> dict[str, Any]:
    """The API's usual error shape for an injected status."""
    if api == "ebay":
        if status == 429:
            return {
                "errors": [
                    {
                        "errorId": 2001,
                        "domain": "ACCESS",
                        "category": "REQUEST",
                        "message": "Too many requests. The request limit has been reached "
                        "for the resource.",
                    }
                ]
            }
        return {
            "errors": [
                {
                    "errorId": 25001,
                    "domain": "API_INVENTORY",
                    "category": "APPLICATION",
                    "message": "A system error has occurred.",
                }
            ]
        }
    if api == "amazon":
        if status == 429:
            code, message = "QuotaExceeded", "You exceeded your quota for the requested resource."
        elif status >= 500:
            code, message = "InternalFailure", "We encountered an internal error. Please try again."
        else:
            code, message = "InvalidInput", "Request has missing or invalid parameters."
        return {"errors": [{"code": code, "message": message, "details": ""}]}
    if api == "lwa":
        if status >= 500:
            return {"error": "server_error", "error_description": "Internal server error"}
        return {"error": "invalid_request", "error_description": "Request rejected"}
    if status == 429:
        return {"errors": "Exceeded 2 calls per second for api client. Reduce request rates."}
    return {"errors": "Internal Server Error" if status >= 500 else "Bad Request"}


def shopify_cost(
    requested: float, available: float, maximum: float = 2000.0, restore_rate: float = 100.0
) -> dict[str, Any]:
    """Shopify's `extensions.cost` object."""
    return {
        "requestedQueryCost": requested,
        "actualQueryCost": None,
        "throttleStatus": {
            "maximumAvailable": maximum,
            "currentlyAvailable": available,
            "restoreRate": restore_rate,
        },
    }


def shopify_throttled_body(requested: float, cost: dict[str, Any]) -> dict[str, Any]:
    """Shopify's HTTP-200 THROTTLED answer with its cost extension."""
    return {
        "errors": [
            {
                "message": "Throttled",
                "extensions": {
                    "code": "THROTTLED",
                    "documentation": "https://shopify.dev/api/usage/rate-limits",
                },
            }
        ],
        "extensions": {"cost": cost},
    }


def _throttled_for(wait_seconds: float) -> dict[str, Any]:
    """A THROTTLED answer whose cost numbers imply a wait of `wait_seconds`."""
    restore_rate = 100.0
    requested = max(1.0, round(wait_seconds * restore_rate, 3))
    available = max(0.0, requested - wait_seconds * restore_rate)
    return shopify_throttled_body(
        requested, shopify_cost(requested, available, restore_rate=restore_rate)
    )


def _fault_response(spec: FaultSpec, api: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    headers: list[tuple[bytes, bytes]] = [(b"content-type", b"application/json")]
    headers.extend((k.lower().encode(), v.encode()) for k, v in (spec.headers or {}).items())
    if spec.kind == "rate_limit":
        if api == "shopify":
            wait = spec.retry_after if spec.retry_after is not None else 1.0
            body = spec.body or _throttled_for(wait)
            return 200, headers, json.dumps(body).encode()
        if spec.retry_after is not None:
            headers.append((b"retry-after", str(math.ceil(spec.retry_after)).encode()))
        return 429, headers, json.dumps(spec.body or default_error_body(api, 429)).encode()
    status = spec.status
    return status, headers, json.dumps(spec.body or default_error_body(api, status)).encode()


async def _swallow(message: Any) -> None:
    """An ASGI `send` that throws the handler's answer away (drop_after)."""


async def _broken_answer(send: Any) -> None:
    """Announce 64 bytes, send 11 and stop: the client sees the connection break."""
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
        }
    )
    await send({"type": "http.response.body", "body": b'{"partial":', "more_body": True})


def fault_middleware(state: SandboxState) -> Callable[[ASGIApp], ASGIApp]:
    """A Litestar middleware factory applying `state.faults` and logging requests."""
    from sandbox.state import RequestRecord

    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Any, receive: Receive, send: Any) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            method, path = scope["method"], scope["path"]
            spec = state.faults.take(method, path)
            api = api_for_path(path)
            if path != "/":  # the index page (and `up`'s health probe of it) is no API call
                state.requests.append(
                    RequestRecord(
                        api=api, method=method, path=path, fault=spec.kind if spec else None
                    )
                )
            if spec is None or api is None:
                await app(scope, receive, send)
                return
            if spec.kind == "delay":
                await asyncio.sleep(spec.delay_seconds)
                await app(scope, receive, send)
                return
            if spec.kind == "drop":
                await _broken_answer(send)
                return
            if spec.kind == "drop_after":
                await app(scope, receive, _swallow)  # handled: the change is made
                await _broken_answer(send)
                return
            status, headers, body = _fault_response(spec, api)
            headers.append((b"content-length", str(len(body)).encode()))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        return middleware

    return factory
