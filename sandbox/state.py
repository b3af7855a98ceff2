"""Everything the sandbox holds in memory, in one object shared by all its routers.

Each API module defines its own state dataclass (`EbayState`, `AmazonState`, `ShopifyState`) with a
`reset()` that clears it in place (routers keep a reference to it, so it is never replaced).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandbox.faults import FaultTable

DEFAULT_TOKEN_TTL_SECONDS = 7200
REQUEST_LOG_SIZE = 1000


@dataclass(frozen=True)
class RequestRecord:
    """One request the sandbox saw (no headers or bodies: they carry tokens); `at` is when it
    arrived (epoch seconds), so tests can measure request rates."""

    api: str | None
    method: str
    path: str
    fault: str | None
    at: float = field(default_factory=time.time)


def _api_states() -> tuple[Any, Any, Any]:
    """Fresh per-API states; imported here because those modules import this one."""
    from sandbox.amazon import AmazonState
    from sandbox.ebay import EbayState
    from sandbox.shopify import ShopifyState

    return EbayState(), AmazonState(), ShopifyState()


class SandboxState:
    """Per-API states, the fault table, issued access tokens and a short request log."""

    def __init__(self, *, validate: bool = True) -> None:
        self.validate = validate
        self.ebay, self.amazon, self.shopify = _api_states()
        self.faults = FaultTable()
        self.tokens: dict[str, tuple[str, datetime]] = {}
        self.token_ttl_seconds: int = DEFAULT_TOKEN_TTL_SECONDS
        self.requests: deque[RequestRecord] = deque(maxlen=REQUEST_LOG_SIZE)

    def reset(self) -> None:
        """Back to an empty sandbox (the `validate` switch stays as the app was built)."""
        for api_state in (self.ebay, self.amazon, self.shopify):
            api_state.reset()
        self.faults.clear()
        self.tokens.clear()
        self.token_ttl_seconds = DEFAULT_TOKEN_TTL_SECONDS
        self.requests.clear()

    def token_api(self, token: str | None, now: datetime) -> str | None:
        """The API a still-valid access token was issued for, or None (unknown or expired)."""
        entry = self.tokens.get(token) if token else None
        if entry is None or entry[1] <= now:
            return None
        return entry[0]
