"""Logging in with an API key (or the admin token), the admin's merchant picker, logging out."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.response import Redirect, Template

from server import auth
from server.console import pages, sessions


class SessionController(Controller):
    path = "/"

    @get("/", sync_to_thread=False)
    def home(self) -> Redirect:
        return pages.see_other("/console/channels")

    @get("/login")
    async def login_page(self, request: Request[Any, Any, Any]) -> Template:
        return pages.render(request, "login.html", next=request.query_params.get("next", ""))

    @post("/login")
    async def login(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """The key proves who you are once; the session remembers it, never the key itself."""
        form = await request.form()
        key = str(form.get("api_key", "")).strip()
        target = pages.safe_next(str(form.get("next", "")))
        svc = pages.services(request)
        store = pages.console(request).sessions
        if key and auth.is_admin_token(key, svc.config.admin_token):
            await sessions.begin(
                request,
                store,
                {"kind": "admin", "admin": pages.admin_fingerprint(svc.config.admin_token)},
            )
            return pages.see_other("/console/merchant?next=" + target)
        merchant_id = (
            await svc.merchants.merchant_for_key(key)
            if key.startswith(auth.API_KEY_PREFIX) and len(key) <= 200
            else None
        )
        if merchant_id is None:
            return pages.render(
                request,
                "login.html",
                status=401,
                next=target,
                errors={
                    "api_key": "This key is not valid. Use the API key you got when the "
                    "merchant was created, or the admin token."
                },
            )
        await sessions.begin(request, store, {"kind": "merchant", "merchant_id": merchant_id})
        return pages.see_other(target)

    @post("/logout")
    async def logout(self, request: Request[Any, Any, Any]) -> Response[Any]:
        request.clear_session()
        return pages.see_other("/console/login")

    @get("/merchant")
    async def pick_page(self, request: Request[Any, Any, Any]) -> Response[Any]:
        user = await pages.current_user(request)
        if not user.is_admin:
            return pages.see_other("/console/channels")
        merchants = await pages.services(request).merchants.directory()
        return pages.render(
            request,
            "merchant.html",
            user=user,
            merchants=merchants,
            next=pages.safe_next(request.query_params.get("next")),
        )

    @post("/merchant")
    async def pick(self, request: Request[Any, Any, Any]) -> Response[Any]:
        user = await pages.current_user(request)
        if not user.is_admin:
            return pages.see_other("/console/channels")
        form = await request.form()
        chosen = str(form.get("merchant_id", ""))
        svc = pages.services(request)
        if not chosen or not await svc.merchants.exists(chosen):
            return pages.render(
                request,
                "merchant.html",
                status=422,
                user=user,
                merchants=await svc.merchants.directory(),
                next=pages.safe_next(str(form.get("next", ""))),
                errors={"merchant_id": "Choose one of the merchants listed."},
            )
        request.session["merchant_id"] = chosen
        return pages.see_other(pages.safe_next(str(form.get("next", ""))))
