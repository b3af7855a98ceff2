"""Helpers shared by the controllers: the services of the app and problem docs."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import PathParameter

from engine.types import CHANNEL_NAME_PATTERN, IDENTIFIER_PATTERN
from server.api.problems import PROBLEM_JSON, ProblemDetails
from server.services import Services

# Path segments naming a merchant or a channel: the same shape as in bodies.
MerchantId = Annotated[str, PathParameter(min_length=1, max_length=64, pattern=IDENTIFIER_PATTERN)]
ChannelPath = Annotated[str, PathParameter(max_length=32, pattern=CHANNEL_NAME_PATTERN)]

BEARER: list[dict[str, list[str]]] = [{"bearer": []}]

_DESCRIPTIONS = {
    400: "Malformed request body",
    401: "No valid bearer token",
    403: "The token may not do this",
    404: "Not found",
    409: "Already exists",
    413: "Request body too large",
    415: "The body is not application/json",
    422: "Invalid input; invalid_params names every offending field",
    429: "Over the key's decision budget; retry after Retry-After seconds",
    502: "The marketplace failed",
    503: "A dependency is unavailable; retry after Retry-After seconds",
}


def services(request: Request[Any, Any, Any]) -> Services:
    """The Services of the app serving this request."""
    found: Services = request.app.state.services
    return found


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI documentation of the problem+json answers a handler can give."""
    return {
        status: ResponseSpec(
            data_container=ProblemDetails,
            description=_DESCRIPTIONS[status],
            media_type=PROBLEM_JSON,
        )
        for status in statuses
    }
