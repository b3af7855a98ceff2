"""eBay's error shapes: `{"errors": [{"errorId", "domain", "category", "message", ...}]}`."""

from __future__ import annotations

from typing import Any, Final

from litestar import Response

INVENTORY_DOMAIN: Final = "API_INVENTORY"
ACCOUNT_DOMAIN: Final = "API_ACCOUNT"
FULFILLMENT_DOMAIN: Final = "API_FULFILLMENT"


def ebay_error(
    status: int,
    error_id: int,
    message: str,
    *,
    domain: str = INVENTORY_DOMAIN,
    long_message: str | None = None,
    parameters: list[dict[str, str]] | None = None,
    category: str = "REQUEST",
) -> Response[Any]:
    """An answer in eBay's error shape (the `Error` schema of the Sell OAS3 files)."""
    error: dict[str, Any] = {
        "errorId": error_id,
        "domain": domain,
        "category": category,
        "message": message,
    }
    if long_message:
        error["longMessage"] = long_message
    if parameters:
        error["parameters"] = parameters
    return Response(content={"errors": [error]}, status_code=status, media_type="application/json")


def problems_response(problems: list[str], error_id: int, domain: str) -> Response[Any]:
    """400 listing every problem: one `errors[]` entry each, as eBay reports several at once."""
    errors = [
        {
            "errorId": error_id,
            "domain": domain,
            "category": "REQUEST",
            "message": problem,
            "longMessage": problem,
        }
        for problem in problems
    ]
    return Response(content={"errors": errors}, status_code=400, media_type="application/json")


def unauthorized() -> Response[Any]:
    """eBay's 401 for an unknown or expired access token (errorId 1001)."""
    return Response(
        content={
            "errors": [
                {
                    "errorId": 1001,
                    "domain": "OAuth",
                    "category": "REQUEST",
                    "message": "Invalid access token",
                    "longMessage": "Invalid access token. Check the value of the Authorization "
                    "HTTP request header.",
                }
            ]
        },
        status_code=401,
        media_type="application/json",
        headers={"WWW-Authenticate": 'Bearer realm="ebay"'},
    )


def publish_error(issues: list[tuple[int, str]]) -> Response[Any]:
    """400 listing every publish rule the offer breaks, each with its own errorId."""
    errors = [
        {
            "errorId": error_id,
            "domain": INVENTORY_DOMAIN,
            "category": "REQUEST",
            "message": message,
            "longMessage": message,
        }
        for error_id, message in issues
    ]
    return Response(content={"errors": errors}, status_code=400, media_type="application/json")
