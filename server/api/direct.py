"""A route served straight from its ASGI messages, for the hottest handler (POST /v1/decide).

Litestar's handler pipeline costs a request more than our whole decision: a
`Request` object, the before_request hook, the kwargs model and signature
parsing, `to_response`. `direct(serve)` is a handler-level middleware that
answers the route itself with `serve(scope, receive)` (which returns the
answer as an ASGI app) and never calls Litestar's handler, whose declaration
stays for routing, OPTIONS and the OpenAPI document.

What stays the same: the app middleware around it (metrics, Server-Timing,
the client-disconnect check), routing, 404/405, and errors: whatever `serve`
raises goes through Litestar's exception middleware, to the same exception
handlers (server.api.problems) as every other route, inside the app
middleware (so metrics count the status answered). The middleware is built
for a failing request only: wrapping every request in it cost about 3% of a
decide. `serve` runs the checks of the before_request hook itself
(server.api.guards.check_request).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from litestar.middleware._internal.exceptions.middleware import ExceptionHandlerMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

Serve = Callable[[Scope, Receive], Awaitable[ASGIApp]]


def direct(serve: Serve) -> Callable[[ASGIApp], ASGIApp]:
    """A handler middleware that answers every request of its route with `serve`."""

    async def answer(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            app = await serve(scope, receive)
        except Exception as exc:  # before any byte of the answer: answered as Litestar would
            await _answer_error(exc, scope, receive, send)
            return
        await app(scope, receive, send)

    def middleware(app: ASGIApp) -> ASGIApp:
        return answer  # Litestar's handler (`app`) is not called

    return middleware


async def _answer_error(exc: Exception, scope: Scope, receive: Receive, send: Send) -> None:
    """The error answer of Litestar's exception middleware (as it wraps every route), given
    the exception `serve` raised. Only a failing request pays for the middleware."""

    async def fail(scope: Scope, receive: Receive, send: Send) -> None:
        raise exc

    await ExceptionHandlerMiddleware(app=fail, debug=None)(scope, receive, send)
