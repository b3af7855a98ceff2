"""The one error mapping, tested as a table: domain error -> status, problem+json."""

from __future__ import annotations

import sqlite3

import asyncpg
import httpx
import msgspec
import pytest
from litestar.exceptions import NotFoundException, ValidationException
from litestar.testing import RequestFactory

from engine.problems import PolicyProblems, Problem
from engine.types import DecisionError
from server import auth, errors
from server.api.decoding import BodyInvalid, BodyMalformed
from server.api.problems import PROBLEM_JSON, InvalidParam, handle_exception, problem_map

TABLE: list[tuple[Exception, int]] = [
    (auth.Unauthenticated("no token"), 401),
    (auth.Forbidden("not yours"), 403),
    (errors.NotFound("no merchant"), 404),
    (errors.Conflict("exists"), 409),
    (errors.InvalidInput("bad", "field"), 422),
    (errors.InvalidFields("bad items", [("items[5].x", "bad"), ("items[9].y", "bad")]), 422),
    (errors.RateLimited("too many", retry_after=3), 429),
    (DecisionError("unknown version", "policy_version"), 422),
    (PolicyProblems([Problem("a.yaml", 3, 5, "bad value")]), 422),
    (errors.UpstreamFailed("ebay down"), 502),
    (errors.Unavailable("db down"), 503),
    (NotFoundException(), 404),
    (ValidationException(extra=[{"message": "Input data was truncated", "key": "data"}]), 400),
    (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), 400),
    (RecursionError("too deep"), 400),
    (BodyMalformed("not JSON"), 400),
    (BodyInvalid([InvalidParam("a", "bad"), InvalidParam("b", "bad")]), 422),
    (sqlite3.OperationalError("database is locked"), 503),
    (sqlite3.OperationalError("attempt to write a readonly database"), 503),
    (asyncpg.exceptions.ReadOnlySQLTransactionError("read-only"), 503),
    (asyncpg.exceptions.LockNotAvailableError("lock timeout"), 503),
    (ConnectionRefusedError("no postgres"), 503),
    (sqlite3.IntegrityError("UNIQUE constraint failed"), 500),
    (RuntimeError("token=supersecret"), 500),
]

# Statuses that must tell the client when to come back.
RETRY_AFTER = {429, 503}


@pytest.mark.parametrize(("exc", "status"), TABLE, ids=[type(e).__name__ for e, _ in TABLE])
def test_error_maps_to_problem(exc: Exception, status: int) -> None:
    request = RequestFactory().get("/x")
    response = handle_exception(request, exc)
    assert response.status_code == status
    assert response.media_type == PROBLEM_JSON
    body = msgspec.to_builtins(response.content)
    assert body["status"] == status and body["title"] and body["detail"]
    assert "supersecret" not in body["detail"]  # unexpected errors never echo their text
    if status in RETRY_AFTER:
        assert int(response.headers["Retry-After"]) >= 1
    if status == 401:
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_field_errors_name_the_field() -> None:
    request = RequestFactory().get("/x")
    body = msgspec.to_builtins(
        handle_exception(request, DecisionError("unknown version", "policy_version")).content
    )
    assert body["invalid_params"] == [{"name": "policy_version", "reason": "unknown version"}]
    body = msgspec.to_builtins(
        handle_exception(
            request,
            ValidationException(
                extra=[
                    {
                        "message": "Expected `int`, got `str` - at `$.product.stock_quantity`",
                        "key": "product",
                    }
                ]
            ),
        ).content
    )
    assert body["status"] == 422
    assert body["invalid_params"] == [
        {"name": "product.stock_quantity", "reason": "Expected `int`, got `str`"}
    ]


def test_policy_problems_are_listed_as_file_line_col() -> None:
    exc = PolicyProblems([Problem("p.yaml", 2, 1, "x"), Problem("q.yaml", 7, 9, "y")])
    body = msgspec.to_builtins(handle_exception(RequestFactory().get("/x"), exc).content)
    assert body["problems"] == ["p.yaml:2:1: x", "q.yaml:7:9: y"]


def test_every_domain_error_has_a_row_in_the_table() -> None:
    mapped = set(problem_map())
    tested = {type(e) for e, _ in TABLE}
    assert mapped - tested <= _connector_errors()


def _connector_errors() -> set[type[Exception]]:
    from connectors import errors as channel

    return {
        httpx.TransportError,
        channel.ChannelError,
        channel.AuthenticationError,
        channel.PermanentChannelError,
        channel.TransientChannelError,
    }


def test_connector_errors_map_to_422_and_502() -> None:
    from connectors import errors as errors_module

    request = RequestFactory().get("/x")
    refused = errors_module.AuthenticationError(
        "invalid_grant: code expired", api="ebay", status=400
    )
    assert handle_exception(request, refused).status_code == 422
    flaky = errors_module.TransientChannelError(
        "503 after 4 attempts", api="ebay", status=503, transient=True
    )
    assert handle_exception(request, flaky).status_code == 502
    assert handle_exception(request, httpx.ConnectError("refused")).status_code == 502
