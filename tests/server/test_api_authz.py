"""The authorization matrix: every endpoint x admin, own merchant, other
merchant, no token, bad token; and no secret in any answer or log line."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.server.helpers import Api, decide_body

WHO = ("admin", "own", "other", "none", "bad")

# (method, path, body, expected status for admin, own, other, none, bad).
# "own" is merchant acme's key, "other" is merchant zeta's key.
MATRIX: list[tuple[str, str, Any, tuple[int, int, int, int, int]]] = [
    ("GET", "/health", None, (200, 200, 200, 200, 200)),
    ("GET", "/ready", None, (200, 200, 200, 200, 200)),
    ("GET", "/metrics", None, (200, 200, 200, 200, 200)),
    (
        "POST",
        "/v1/merchants",
        {"merchant_id": "new-{who}", "name": "New"},
        (201, 403, 403, 401, 401),
    ),
    ("GET", "/v1/merchants/acme/settings", None, (200, 200, 403, 401, 401)),
    (
        "PUT",
        "/v1/merchants/acme/settings",
        {"enabled_external_channels": ["ebay"]},
        (200, 200, 403, 401, 401),
    ),
    # An incomplete body: past authorization it is a 422 (no marketplace needed).
    (
        "PUT",
        "/v1/merchants/acme/channels/shopify/credentials",
        {"api_version": "2025-01"},
        (422, 422, 403, 401, 401),
    ),
    ("POST", "/v1/decide", decide_body("acme"), (200, 200, 403, 401, 401)),
    ("POST", "/v1/decide/batch", {"items": [decide_body("acme")]}, (200, 200, 403, 401, 401)),
    ("GET", "/v1/policies", None, (200, 200, 200, 401, 401)),
    ("POST", "/v1/policies/reload", None, (200, 403, 403, 401, 401)),
]


def _headers(who: str, keys: dict[str, str]) -> dict[str, str]:
    if who == "none":
        return {}
    if who == "bad":
        return {"Authorization": "Bearer cr_not-a-real-key"}
    return {"Authorization": f"Bearer {keys[who]}"}


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"), MATRIX, ids=[f"{m} {p}" for m, p, _, _ in MATRIX]
)
def test_authorization_matrix(
    api: Api,
    caplog: pytest.LogCaptureFixture,
    method: str,
    path: str,
    body: Any,
    expected: tuple[int, ...],
) -> None:
    keys = {
        "admin": str(api.config.admin_token),
        "own": api.create_merchant("acme"),
        "other": api.create_merchant("zeta"),
    }
    caplog.set_level(logging.DEBUG)
    got: dict[str, int] = {}
    for who in WHO:
        payload = body
        if isinstance(body, dict) and "merchant_id" in body and "{who}" in str(body["merchant_id"]):
            payload = {**body, "merchant_id": body["merchant_id"].format(who=who)}
        r = api.http.request(method, path, json=payload, headers=_headers(who, keys))
        got[who] = r.status_code
        for secret in keys.values():
            assert secret not in r.text, f"{who}: a secret leaked into the answer"
        if r.status_code >= 400:
            assert r.headers["content-type"].startswith("application/problem+json")
            problem = r.json()
            assert problem["status"] == r.status_code and problem["title"] and problem["detail"]
    assert got == dict(zip(WHO, expected, strict=True))
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in keys.values():
        assert secret not in logged


def test_malformed_authorization_headers_are_401(api: Api) -> None:
    for value in ("", "Bearer", "Basic abc", "Token x", "Bearer cr_", "Bearer a b"):
        r = api.http.get("/v1/policies", headers={"Authorization": value})
        assert r.status_code == 401, value
    r = api.http.get("/v1/policies", headers=[(b"Authorization", b"Bearer \xff\xfe")])
    assert r.status_code == 401
