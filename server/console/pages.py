"""What every console page shares: who is logged in, the navigation, rendering,
flash messages, and turning errors into pages instead of problem+json."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, PermissionDeniedException
from litestar.response import Redirect, Template

from server.errors import Unavailable

if TYPE_CHECKING:
    from server.console.app import Console
    from server.services import Services

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NavItem:
    key: str
    label: str
    href: str


# The console's sections, in menu order. A new section adds its controller and one line here.
NAV: list[NavItem] = [
    NavItem("channels", "Channels", "/console/channels"),
    NavItem("preferences", "Routing preferences", "/console/preferences"),
    NavItem("explorer", "Decision explorer", "/console/explorer"),
    NavItem("campaigns", "Campaigns", "/console/campaigns"),
]


@dataclass(frozen=True)
class ConsoleUser:
    """Who is logged in, and which merchant the pages act for (None: the admin must pick)."""

    is_admin: bool
    merchant_id: str | None


class LoginRequired(Exception):
    """No valid login: the browser is sent to the login page."""


class PickMerchant(Exception):
    """The admin has not chosen a merchant yet."""


def console(request: Request[Any, Any, Any]) -> Console:
    found: Console = request.app.state.console
    return found


def services(request: Request[Any, Any, Any]) -> Services:
    return console(request).services


def admin_fingerprint(token: str | None) -> str | None:
    """What an admin session remembers of the admin token: changing the token ends it."""
    if not token:
        return None
    return hashlib.sha256(b"console admin\x00" + token.encode()).hexdigest()


async def current_user(request: Request[Any, Any, Any]) -> ConsoleUser:
    """The logged-in user; LoginRequired when the session is missing or no longer valid."""
    session = request.session if "session" in request.scope else {}
    kind = session.get("kind")
    svc = services(request)
    if kind == "admin":
        expected = admin_fingerprint(svc.config.admin_token)
        if expected is not None and session.get("admin") == expected:
            return ConsoleUser(is_admin=True, merchant_id=session.get("merchant_id"))
    elif kind == "merchant":
        merchant_id = session.get("merchant_id")
        if isinstance(merchant_id, str) and await svc.merchants.exists(merchant_id):
            return ConsoleUser(is_admin=False, merchant_id=merchant_id)
    if session:
        request.clear_session()
    raise LoginRequired


async def acting_merchant(request: Request[Any, Any, Any]) -> tuple[ConsoleUser, str]:
    """The user and the merchant the page acts for; PickMerchant for an admin without one."""
    user = await current_user(request)
    if user.merchant_id is None:
        raise PickMerchant
    if user.is_admin and not await services(request).merchants.exists(user.merchant_id):
        raise PickMerchant
    return user, user.merchant_id


def flash(request: Request[Any, Any, Any], text: str, kind: str = "ok") -> None:
    """A message shown once, on the next page rendered (after a redirect)."""
    messages = list(request.session.get("flash", []))
    messages.append([kind, text])
    request.session["flash"] = messages[-5:]


def render(
    request: Request[Any, Any, Any],
    template: str,
    *,
    active: str | None = None,
    user: ConsoleUser | None = None,
    status: int = 200,
    **context: Any,
) -> Template:
    """A page of the console, with navigation, the user and pending flash messages."""
    flashes: list[Any] = []
    if "session" in request.scope and request.session.get("flash"):
        flashes = request.session.pop("flash")
    return Template(
        template_name=f"console/{template}",
        context={
            "nav": NAV,
            "active": active,
            "user": user,
            "flashes": flashes,
            **context,
        },
        status_code=status,
    )


def see_other(path: str) -> Redirect:
    """The answer to a successful form post: load `path` with GET (no resubmission)."""
    return Redirect(path=path, status_code=303)


def safe_next(raw: str | None) -> str:
    """Where to go after login: only a console path of ours, never another site."""
    if raw and raw.startswith("/console/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return "/console/channels"


def _error_page(
    request: Request[Any, Any, Any], status: int, title: str, detail: str
) -> Template | Response[Any]:
    return render(request, "error.html", status=status, title=title, detail=detail)


def handle(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Console errors as pages (or a redirect to the login), never problem+json."""
    if isinstance(exc, (LoginRequired, NotAuthorizedException)):
        target = request.url.path
        if request.method == "GET" and request.url.query:
            target += "?" + request.url.query
        return Redirect(path=f"/console/login?next={quote(target, safe='')}", status_code=303)
    if isinstance(exc, PickMerchant):
        return Redirect(path="/console/merchant", status_code=303)
    if isinstance(exc, PermissionDeniedException):
        return _error_page(
            request,
            403,
            "This form could not be verified",
            "The page it came from was not sent by this console, or it is too old. "
            "Go back, reload the page and try again.",
        )
    if isinstance(exc, HTTPException):
        status = exc.status_code
        detail = "There is no such page." if status == 404 else str(exc.detail)
        return _error_page(request, status, "Not found" if status == 404 else "Error", detail)
    if isinstance(exc, Unavailable):
        return _error_page(request, 503, "Unavailable", str(exc))
    log.exception("console error on %s %s", request.method, request.url.path)
    return _error_page(
        request, 500, "Something went wrong", "The error has been logged; try again."
    )


def exception_handlers() -> dict[type[Exception] | int, Any]:
    return {Exception: handle, 404: handle, 405: handle}
