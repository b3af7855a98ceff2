"""Wiring of the console into the service's Litestar app (see the package docstring)."""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from litestar import Router
from litestar.config.csrf import CSRFConfig
from litestar.middleware import DefineMiddleware
from litestar.middleware.csrf import CSRFMiddleware
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.stores.base import Store
from litestar.template.config import TemplateConfig
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from connectors.config import ApiConfig
from server.console import pages
from server.console.config import ConsoleConfig
from server.console.controllers.campaigns import CampaignsController
from server.console.controllers.channels import ChannelsController
from server.console.controllers.explorer import ExplorerController
from server.console.controllers.preferences import PreferencesController
from server.console.controllers.session import SessionController
from server.console.oauth import OAuthStates
from server.console.sessions import STORE_NAME, DatabaseSessionStore, session_config

if TYPE_CHECKING:
    from server.services import Services

log = logging.getLogger(__name__)

PACKAGE = Path(__file__).resolve().parent
CSRF_COOKIE = "cr_console_csrf"


def _derived_secret(services: Services) -> str:
    """The CSRF signing secret: derived from the service's secret key (or the admin
    token), so every worker of one deployment agrees; random when neither is set."""
    root = services.config.secret_key or services.config.admin_token
    if not root:
        log.warning(
            "neither CHANNEL_ROUTER_SECRET_KEY nor CHANNEL_ROUTER_ADMIN_TOKEN is set: console "
            "forms are signed with a per-process key (run one worker)"
        )
        return secrets.token_hex(32)
    return hashlib.sha256(b"channel-router console csrf\x00" + root.encode()).hexdigest()


def security_headers(csp: str) -> Any:
    """ASGI middleware factory: no caching, no framing, no referrer, a strict CSP."""
    extra = [
        (b"content-security-policy", csp.encode()),
        (b"cache-control", b"no-store"),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
    ]

    def middleware(app: ASGIApp) -> ASGIApp:
        async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
            async def send_with_headers(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [*message.get("headers", []), *extra]
                await send(message)

            await app(scope, receive, send_with_headers)

        return wrapped

    return middleware


class Console:
    """Everything the console pages share; one per app (in `app.state.console`)."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.config = ConsoleConfig.from_env(services.config.env)
        self.api_config = ApiConfig.from_env(services.config.env)
        self.sessions = DatabaseSessionStore(services)
        self._csrf_secret = _derived_secret(services)

    @property
    def states(self) -> OAuthStates:
        return OAuthStates(self.services.tables, timedelta(minutes=self.config.oauth_state_minutes))

    def csp(self) -> str:
        form_targets = " ".join(["'self'", *self.config.auth_origins()])
        return (
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"form-action {form_targets}; frame-ancestors 'none'; base-uri 'none'"
        )

    def route_handlers(self) -> list[Router]:
        """The console's pages (sessions, CSRF, security headers) and its static assets."""
        secure = self.config.secure_cookies
        csrf = CSRFConfig(
            secret=self._csrf_secret,
            cookie_name=CSRF_COOKIE,
            cookie_path="/console",
            cookie_secure=secure,
            cookie_httponly=True,
            cookie_samesite="lax",
            header_name="x-csrftoken",
        )
        sessions = session_config(
            max_age_seconds=int(self.config.session_hours * 3600), secure=secure
        )
        pages_router = Router(
            path="/console",
            route_handlers=[
                SessionController,
                ChannelsController,
                PreferencesController,
                ExplorerController,
                CampaignsController,
            ],
            middleware=[
                security_headers(self.csp()),
                sessions.middleware,
                DefineMiddleware(CSRFMiddleware, config=csrf),
            ],
            exception_handlers=pages.exception_handlers(),
            include_in_schema=False,
        )
        static = create_static_files_router(
            path="/console/static",
            directories=[PACKAGE / "static"],
            name="console-static",
            include_in_schema=False,
            middleware=[security_headers(self.csp())],
        )
        return [pages_router, static]

    def template_config(self) -> TemplateConfig[JinjaTemplateEngine]:
        return TemplateConfig(directory=PACKAGE / "templates", engine=JinjaTemplateEngine)

    def stores(self) -> dict[str, Store]:
        return {STORE_NAME: self.sessions}
