"""The checks every SP-API route runs before its own work: the LWA access token, the query string
against the operation's Swagger parameters and, for PUT/PATCH, the JSON body against its schema."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response

from sandbox import specs
from sandbox.amazon.errors import invalid_input
from sandbox.amazon.lwa import token_refusal
from sandbox.amazon.params import query_problems
from sandbox.amazon.wire import decode_json
from sandbox.state import SandboxState


def call_refusal(
    state: SandboxState, spec_name: str, path: str, method: str, request: Request[Any, Any, Any]
) -> Response[bytes] | None:
    """Amazon's answer to a call without a valid token or with a bad query, else None."""
    refusal = token_refusal(state, request)
    if refusal is not None:
        return refusal
    problems = query_problems(state, spec_name, path, method, request)
    return invalid_input(problems) if problems else None


async def checked_body(
    state: SandboxState,
    request: Request[Any, Any, Any],
    *,
    spec_name: str,
    path: str,
    method: str,
    operation_id: str,
    key: str,
    kind: type,
    problem: str,
) -> dict[str, Any] | Response[bytes]:
    """The request's JSON object, or Amazon's refusal of its token, query or body.

    The body must hold a `kind` under `key` (else `problem` is reported). Query and body
    problems come back together, as Amazon reports them in one 400."""
    refusal = token_refusal(state, request)
    if refusal is not None:
        return refusal
    problems = query_problems(state, spec_name, path, method, request)
    try:
        body = decode_json(await request.body())
    except ValueError:
        return invalid_input([*problems, "Request body is not valid JSON."])
    if body is None:
        problems.append("Request body is required.")
    else:
        if state.validate:
            problems.extend(specs.validate_body("amazon", operation_id, body))
        if not problems and not (isinstance(body, dict) and isinstance(body.get(key), kind)):
            problems.append(problem)
    if problems:
        return invalid_input(problems)
    return body
