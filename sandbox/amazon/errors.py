"""The SP-API error shape and its 400 `InvalidInput` answer listing every problem."""

from __future__ import annotations

from litestar import Response

from sandbox.amazon.wire import json_response


def sp_error(status: int, code: str, message: str, details: str = "") -> Response[bytes]:
    """The SP-API error shape `{"errors": [{"code", "message", "details"}]}`."""
    return json_response(
        {"errors": [{"code": code, "message": message, "details": details}]}, status
    )


def invalid_input(problems: list[str]) -> Response[bytes]:
    """400 `InvalidInput` with one error per problem."""
    return json_response(
        {
            "errors": [
                {"code": "InvalidInput", "message": problem, "details": ""} for problem in problems
            ]
        },
        400,
        {"x-amzn-RateLimit-Limit": "5.0"},
    )
