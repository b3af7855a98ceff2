"""Request bodies decoded by msgspec straight into their Struct, once.

Litestar's typed `data` decodes JSON into Python objects and then converts
them into the Struct; the hot routes (decide, batch) read the body themselves
and decode it in one strict pass with `server.api.decoding.BodyDecoder`, the
decoder every JSON body goes through (400 for what is not JSON, 422 naming
every refused field).

`documented(Type)` keeps such a route's request body in the OpenAPI document:
Litestar reads the schema from a dependency's `data` parameter, and the
dependency is never called because the handler does not ask for it.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.di import Provide
from litestar.exceptions import ValidationException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.types import HTTPResponseBodyEvent, HTTPResponseStartEvent, Receive, Scope, Send

from server.api.decoding import BodyDecoder
from server.errors import ClientDisconnected


async def read_body(request: Request[Any, Any, Any], limit: int) -> bytes:
    """The whole body, read from the ASGI messages; 413 past `limit` bytes.

    What `Request.body()` does, without building every header to find the
    length; the body is kept on the request like Litestar keeps it.
    """
    body = await receive_body(request.scope, request.receive, limit)
    request._body = body  # what Request.body() answers from now on
    return body


async def receive_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole body of a request known by its ASGI scope and receive; 413 past `limit`."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            if value.isdigit() and int(value) > limit:
                raise RequestEntityTooLarge
            break
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        chunk: bytes = message.get("body", b"")  # type: ignore[assignment]
        if chunk:
            size += len(chunk)
            if size > limit:
                raise RequestEntityTooLarge
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def decode_body(request: Request[Any, Any, Any], decoder: BodyDecoder, limit: int) -> Any:
    """The request body as `decoder`'s type; 413 past `limit` bytes, 400/422 when refused
    (strictly decoded, every refused field named: server.api.decoding)."""
    return decode(await read_body(request, limit), decoder)


async def receive_decoded(scope: Scope, receive: Receive, decoder: BodyDecoder, limit: int) -> Any:
    """`decode_body` for a request known by its ASGI scope and receive."""
    return decode(await receive_body(scope, receive, limit), decoder)


def decode(body: bytes, decoder: BodyDecoder) -> Any:
    """A body as `decoder`'s type; a missing body is refused as Litestar refuses it."""
    if not body:
        # As Litestar words a missing `data` (server.api.problems answers 400).
        raise ValidationException(
            "a JSON body is required", extra=[{"key": "data", "message": "'data'"}]
        )
    return decoder.decode(body)


class JsonAnswer:
    """A 200 `application/json` answer of ready bytes, as an ASGI app.

    A handler annotated `-> ASGIApp` hands it to the server as it is: no
    Response object, no header merging, the body encoded once by the handler.
    """

    __slots__ = ("body",)

    def __init__(self, body: bytes) -> None:
        self.body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = self.body
        start: HTTPResponseStartEvent = {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(body)),
            ],
        }
        await send(start)
        answer: HTTPResponseBodyEvent = {
            "type": "http.response.body",
            "body": body,
            "more_body": False,
        }
        await send(answer)


def documented(body_type: Any) -> dict[str, Provide]:
    """Dependencies that make OpenAPI show `body_type` as the route's request body."""

    def request_body(data: Any) -> None:  # pragma: no cover - documentation only
        """Never called: the handler does not take it."""

    request_body.__annotations__["data"] = body_type
    return {"request_body": Provide(request_body, sync_to_thread=False)}
