"""External channels and the store: a card each, with the routing switch, the connection
state, "Connect account" (the channel's OAuth consent) and "Disconnect"."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import PathParameter

from connectors.errors import ChannelError
from connectors.registry import EXTERNAL_CHANNELS, STORES
from server.accounts import Connection, connect_and_save, connection, credential_fields
from server.api.types import ChannelCredentials
from server.console import pages, sessions, settings_form
from server.console.oauth import FLOWS, ConsentRefused, FlowContext, query_dict
from server.db.credentials import CredentialStore
from server.errors import InvalidInput, Unavailable

Channel = Annotated[str, PathParameter(max_length=32, pattern=r"^[a-z][a-z0-9_-]*$")]


def _label(channel: str) -> str:
    flow = FLOWS.get(channel)
    return flow.label if flow else channel.title()


class ChannelsController(Controller):
    path = "/channels"

    @get("/")
    async def index(self, request: Request[Any, Any, Any]) -> Response[Any]:
        user, merchant_id = await pages.acting_merchant(request)
        return await _page(request, user, merchant_id)

    @post("/{channel:str}/enabled")
    async def set_enabled(self, request: Request[Any, Any, Any], channel: Channel) -> Response[Any]:
        """The card's switch: the channel is in the merchant's enabled channels or not."""
        user, merchant_id = await pages.acting_merchant(request)
        if channel not in EXTERNAL_CHANNELS:
            return await _page(request, user, merchant_id, status=404)
        form = await request.form()
        on = form.get("enabled") == "on"
        current = (await settings_form.effective(request, merchant_id)).enabled_external_channels
        wanted = [c for c in current if c != channel] + ([channel] if on else [])
        if on and channel in current:
            wanted = current
        try:
            await settings_form.change(request, merchant_id, enabled_external_channels=wanted)
        except settings_form.SettingsRejected as exc:
            return await _page(request, user, merchant_id, status=422, errors={channel: str(exc)})
        state = "on" if on else "off"
        pages.flash(request, f"{_label(channel)} is now {state} for routing.")
        return pages.see_other(f"/console/channels#channel-{channel}")

    @post("/{channel:str}/connect")
    async def connect(self, request: Request[Any, Any, Any], channel: Channel) -> Response[Any]:
        """Send the merchant to the marketplace's consent page, with a fresh state."""
        user, merchant_id = await pages.acting_merchant(request)
        flow = FLOWS.get(channel)
        console = pages.console(request)
        if flow is None or flow.missing_setting(console.config, console.api_config):
            return await _page(request, user, merchant_id, status=404)
        form = await request.form()
        asked = {name: str(form.get(name, "")).strip() for name in flow.asks}
        problems = flow.check_asked(asked, console.api_config)
        if problems:
            errors = {f"{channel}.{name}": text for name, text in problems.items()}
            return await _page(request, user, merchant_id, status=422, errors=errors, asked=asked)
        state = await console.states.issue(
            sessions.session_key(request), merchant_id, channel, asked
        )
        url = flow.consent_url(_context(request, channel), state, asked)
        return Response(content=b"", status_code=303, headers={"Location": url})

    @get("/{channel:str}/callback")
    async def callback(self, request: Request[Any, Any, Any], channel: Channel) -> Response[Any]:
        """The marketplace sends the merchant back here with `code` and `state`."""
        user = await pages.current_user(request)
        console = pages.console(request)
        svc = console.services
        flow = FLOWS.get(channel)
        query = query_dict(request.query_params)
        try:
            if flow is None:
                raise ConsentRefused("no connect flow for this channel")
            pending = await console.states.consume(
                query.get("state", ""), sessions.session_key(request), channel
            )
            if not user.is_admin and user.merchant_id != pending.merchant_id:
                raise ConsentRefused("this connect was started for another merchant")
            fields = await flow.credentials(_context(request, channel), query, pending)
            checked = credential_fields(channel, msgspec.convert(fields, ChannelCredentials))
            store = CredentialStore(svc.tables, svc.secret_box)
            await connect_and_save(
                store,
                pending.merchant_id,
                channel,
                checked,
                svc.http,
                svc.config.env,
                budget=svc.rate_budget,
            )
        except (ConsentRefused, ChannelError, InvalidInput, msgspec.ValidationError) as exc:
            pages.flash(request, f"{_label(channel)} was not connected: {_reason(exc)}", "error")
            return pages.see_other(f"/console/channels#channel-{channel}")
        pages.flash(request, f"{flow.label} account connected.")
        return pages.see_other(f"/console/channels#channel-{channel}")

    @post("/{channel:str}/disconnect")
    async def disconnect(self, request: Request[Any, Any, Any], channel: Channel) -> Response[Any]:
        """Forget the stored account (its listings are not touched)."""
        _, merchant_id = await pages.acting_merchant(request)
        svc = pages.services(request)
        removed = await CredentialStore(svc.tables, svc.secret_box).delete(merchant_id, channel)
        if removed:
            pages.flash(request, f"{_label(channel)} account disconnected.")
        else:
            pages.flash(request, f"No {_label(channel)} account was connected.", "error")
        return pages.see_other(f"/console/channels#channel-{channel}")


def _reason(exc: Exception) -> str:
    if isinstance(exc, ChannelError):
        return exc.message
    return str(exc)


def _context(request: Request[Any, Any, Any], channel: str) -> FlowContext:
    """The flow's settings and our redirect URI for `channel`, as browsers reach us."""
    console = pages.console(request)
    client = console.services.http
    if client is None:
        raise Unavailable("the service is not started")
    base = console.config.public_url or str(request.base_url).rstrip("/")
    callback = f"{base}/console/channels/{channel}/callback"
    return FlowContext(console.config, console.api_config, callback, client)


async def _page(
    request: Request[Any, Any, Any],
    user: pages.ConsoleUser,
    merchant_id: str,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    asked: dict[str, str] | None = None,
) -> Response[Any]:
    console = pages.console(request)
    svc = console.services
    settings = await settings_form.effective(request, merchant_id)
    store = CredentialStore(svc.tables, svc.secret_box)

    async def card(channel: str, external: bool) -> dict[str, Any]:
        flow = FLOWS.get(channel)
        state: Connection = await connection(store, merchant_id, channel)
        enabled = channel in settings.enabled_external_channels
        return {
            "channel": channel,
            "label": _label(channel),
            "external": external,
            "enabled": enabled,
            "position": (
                settings.enabled_external_channels.index(channel) + 1 if enabled else None
            ),
            "connection": state,
            "flow": flow,
            "missing": flow.missing_setting(console.config, console.api_config) if flow else None,
        }

    externals = [await card(c, True) for c in EXTERNAL_CHANNELS]
    stores = [await card(c, False) for c in STORES]
    return pages.render(
        request,
        "channels.html",
        active="channels",
        user=user,
        merchant_id=merchant_id,
        settings=settings,
        externals=externals,
        stores=stores,
        errors=errors or {},
        asked=asked or {},
        status=status,
    )
