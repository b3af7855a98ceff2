"""Merchants and their settings."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, get, post, put
from litestar.params import JSONBody

from connectors.registry import EXTERNAL_CHANNELS
from engine.types import Settings
from server.api.controllers.common import BEARER, MerchantId, problem_responses, services
from server.api.types import CreateMerchant, EffectiveSettings, MerchantCreated
from server.errors import InvalidInput


def check_channels(settings: Settings | None, prefix: str = "") -> None:
    """Only channels with a connector may be enabled, each once: units routed to
    any other name could never be listed."""
    channels = settings.enabled_external_channels if settings else msgspec.UNSET
    if channels is msgspec.UNSET:
        return
    for i, name in enumerate(channels):
        field = f"{prefix}enabled_external_channels[{i}]"
        if name not in EXTERNAL_CHANNELS:
            known = ", ".join(sorted(EXTERNAL_CHANNELS))
            raise InvalidInput(f"unknown external channel {name!r} (known: {known})", field)
        if name in channels[:i]:
            raise InvalidInput(f"channel {name!r} is listed twice", field)


class MerchantController(Controller):
    path = "/v1/merchants"
    tags = ["merchants"]
    security = BEARER

    @post(
        "/",
        status_code=201,
        responses=problem_responses(400, 401, 403, 409, 413, 422),
    )
    async def create(
        self, request: Request[Any, Any, Any], data: JSONBody[CreateMerchant]
    ) -> MerchantCreated:
        """Create a merchant; its API key is in this answer and nowhere else, ever."""
        svc = services(request)
        await svc.authorize(request)
        check_channels(data.settings, "settings.")
        settings = data.settings or Settings()
        key = await svc.merchants.create(data.merchant_id, data.name, settings)
        return MerchantCreated(
            merchant_id=data.merchant_id, api_key=key, settings=EffectiveSettings.of(settings)
        )

    @get("/{merchant_id:str}/settings", responses=problem_responses(400, 401, 403, 404, 422))
    async def get_settings(
        self, request: Request[Any, Any, Any], merchant_id: MerchantId
    ) -> EffectiveSettings:
        """The merchant's settings with defaults filled in."""
        svc = services(request)
        await svc.authorize(request, merchant_id)
        return EffectiveSettings.of(await svc.merchants.settings(merchant_id))

    @put(
        "/{merchant_id:str}/settings",
        responses=problem_responses(400, 401, 403, 404, 413, 422),
    )
    async def put_settings(
        self, request: Request[Any, Any, Any], merchant_id: MerchantId, data: JSONBody[Settings]
    ) -> EffectiveSettings:
        """Replace the settings; fields left out fall back to the override file and policy."""
        svc = services(request)
        await svc.authorize(request, merchant_id)
        check_channels(data)
        return EffectiveSettings.of(await svc.merchants.put_settings(merchant_id, data))
