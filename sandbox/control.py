"""Control and inspection endpoints under /_sandbox/ shared by every API.

POST /_sandbox/faults (add one, body = sandbox.faults.FaultSpec), GET /_sandbox/faults,
DELETE /_sandbox/faults (clear), POST /_sandbox/reset, POST /_sandbox/token-ttl {"seconds": N},
GET /_sandbox/requests (recent requests: api, method, path, fault applied, arrival time),
GET /_sandbox/state, GET /_sandbox/live (every store price and listing, creations per SKU:
sandbox.live).
Per-API inspection lives in each API's module under /_sandbox/<api>/.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, Router, delete, get, post

from sandbox.control_body import decode_control_body
from sandbox.faults import Fault, FaultSpec
from sandbox.live import live_view
from sandbox.state import SandboxState


class TokenTtl(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Body of POST /_sandbox/token-ttl."""

    seconds: int


def _fault_json(fault: Fault) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(fault.spec)
    return {"id": fault.id, "remaining": fault.remaining, **data}


def _bad_request(message: str) -> Response[dict[str, Any]]:
    return Response({"error": "invalid_request", "detail": message}, status_code=400)


def _summary(api_state: Any) -> Any:
    summary = getattr(api_state, "summary", None)
    return summary() if callable(summary) else {"state": type(api_state).__name__}


def state_summary(state: SandboxState) -> dict[str, Any]:
    """What GET /_sandbox/state (and the index page) show."""
    return {
        "validate": state.validate,
        "token_ttl_seconds": state.token_ttl_seconds,
        "tokens_issued": len(state.tokens),
        "faults": [_fault_json(fault) for fault in state.faults.all()],
        "requests_seen": len(state.requests),
        "ebay": _summary(state.ebay),
        "amazon": _summary(state.amazon),
        "shopify": _summary(state.shopify),
    }


def router(state: SandboxState) -> Router:
    """The /_sandbox/ control routes bound to `state`."""

    @post("/faults", status_code=201)
    async def add_fault(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
        """Add a fault (FaultSpec: status, 429 + Retry-After, delay or drop; per API or path)."""
        spec = await decode_control_body(request, FaultSpec)
        if isinstance(spec, Response):
            return spec
        return Response(_fault_json(state.faults.add(spec)), status_code=201)

    @get("/faults")
    async def list_faults() -> list[dict[str, Any]]:
        """The installed faults."""
        return [_fault_json(fault) for fault in state.faults.all()]

    @delete("/faults", status_code=204)
    async def clear_faults() -> None:
        """Remove every fault."""
        state.faults.clear()

    @post("/reset", status_code=204)
    async def reset() -> None:
        """Back to an empty sandbox."""
        state.reset()

    @post("/token-ttl", status_code=200)
    async def token_ttl(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
        """Lifetime of access tokens issued from now on: {"seconds": N}."""
        body = await decode_control_body(request, TokenTtl)
        if isinstance(body, Response):
            return body
        if body.seconds < 0:
            return _bad_request("seconds must not be negative")
        state.token_ttl_seconds = body.seconds
        return Response({"seconds": body.seconds}, status_code=200)

    @get("/requests")
    async def requests() -> list[dict[str, Any]]:
        """Recent requests: API, method, path, fault applied (no headers or bodies)."""
        return [
            {"api": r.api, "method": r.method, "path": r.path, "fault": r.fault, "at": r.at}
            for r in state.requests
        ]

    @get("/state")
    async def summary() -> dict[str, Any]:
        """Counts of what each API holds, faults, tokens."""
        return state_summary(state)

    @get("/live")
    async def live() -> dict[str, Any]:
        """Every store price and listing (live or not), and creations per SKU."""
        return live_view(state)

    return Router(
        path="/_sandbox",
        route_handlers=[
            add_fault,
            list_faults,
            clear_faults,
            reset,
            token_ttl,
            requests,
            summary,
            live,
        ],
    )
