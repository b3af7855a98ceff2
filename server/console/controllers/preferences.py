"""Routing preferences: external channels on or off, excluded categories, channel order.

Each form changes one setting and goes through the API's settings path, so a value
the API would refuse is refused here too, with the message next to the field.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post

from connectors.registry import EXTERNAL_CHANNELS
from server.console import pages, settings_form
from server.console.oauth import FLOWS

MAX_CATEGORY = 200


class PreferencesController(Controller):
    path = "/preferences"

    @get("/")
    async def index(self, request: Request[Any, Any, Any]) -> Response[Any]:
        user, merchant_id = await pages.acting_merchant(request)
        return await _page(request, user, merchant_id)

    @post("/external")
    async def external(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """Master switch: with it off, every product stays on the store."""
        _, merchant_id = await pages.acting_merchant(request)
        form = await request.form()
        on = form.get("external_channels_enabled") == "on"
        await settings_form.change(request, merchant_id, external_channels_enabled=on)
        pages.flash(request, f"External channels are now {'on' if on else 'off'}.")
        return pages.see_other("/console/preferences#external")

    @post("/categories/add")
    async def add_category(self, request: Request[Any, Any, Any]) -> Response[Any]:
        user, merchant_id = await pages.acting_merchant(request)
        form = await request.form()
        category = " ".join(str(form.get("category", "")).split())
        current = (await settings_form.effective(request, merchant_id)).external_excluded_categories
        problem = None
        if not category:
            problem = "Enter a category name."
        elif len(category) > MAX_CATEGORY:
            problem = f"A category name has at most {MAX_CATEGORY} characters."
        elif category in current:
            problem = f"{category} is already excluded."
        if problem is None:
            try:
                await settings_form.change(
                    request, merchant_id, external_excluded_categories=[*current, category]
                )
            except settings_form.SettingsRejected as exc:
                problem = str(exc)
        if problem is not None:
            return await _page(
                request,
                user,
                merchant_id,
                status=422,
                errors={"category": problem},
                typed=category,
            )
        pages.flash(request, f"{category} is now excluded from external channels.")
        return pages.see_other("/console/preferences#categories")

    @post("/categories/remove")
    async def remove_category(self, request: Request[Any, Any, Any]) -> Response[Any]:
        _, merchant_id = await pages.acting_merchant(request)
        form = await request.form()
        category = str(form.get("category", ""))
        current = (await settings_form.effective(request, merchant_id)).external_excluded_categories
        if category in current:
            await settings_form.change(
                request,
                merchant_id,
                external_excluded_categories=[c for c in current if c != category],
            )
            pages.flash(request, f"{category} may go to external channels again.")
        return pages.see_other("/console/preferences#categories")

    @post("/order")
    async def order(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """Move an enabled channel up or down: earlier channels get the remainder units."""
        _, merchant_id = await pages.acting_merchant(request)
        form = await request.form()
        channel = str(form.get("channel", ""))
        step = -1 if form.get("direction") == "up" else 1
        current = (await settings_form.effective(request, merchant_id)).enabled_external_channels
        if channel in current:
            i = current.index(channel)
            j = i + step
            if 0 <= j < len(current):
                current[i], current[j] = current[j], current[i]
                await settings_form.change(request, merchant_id, enabled_external_channels=current)
                label = FLOWS[channel].label if channel in FLOWS else channel
                pages.flash(request, f"{label} is now number {j + 1} of {len(current)}.")
        return pages.see_other(f"/console/preferences#order-{channel}")


async def _page(
    request: Request[Any, Any, Any],
    user: pages.ConsoleUser,
    merchant_id: str,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    typed: str = "",
) -> Response[Any]:
    settings = await settings_form.effective(request, merchant_id)
    labels = {c: (FLOWS[c].label if c in FLOWS else c) for c in EXTERNAL_CHANNELS}
    disabled = [c for c in EXTERNAL_CHANNELS if c not in settings.enabled_external_channels]
    return pages.render(
        request,
        "preferences.html",
        active="preferences",
        user=user,
        merchant_id=merchant_id,
        settings=settings,
        labels=labels,
        disabled=disabled,
        errors=errors or {},
        typed=typed,
        status=status,
    )
