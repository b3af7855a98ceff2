"""Merchants and their settings.

Bodies arrive decoded and checked (server.api.decoding, server.api.validation):
channel names are registered connectors, each listed once.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post, put
from litestar.datastructures import ResponseHeader
from litestar.params import JSONBody

from engine.types import Settings
from server.api.controllers.common import BEARER, MerchantId, problem_responses, services
from server.api.types import CreateMerchant, EffectiveSettings, MerchantCreated, MerchantKey
from server.merchant_settings import replace_settings


class MerchantController(Controller):
    path = "/v1/merchants"
    tags = ["merchants"]
    security = BEARER

    @post(
        "/",
        status_code=201,
        opt={"admin": True},
        responses=problem_responses(400, 401, 403, 409, 413, 415, 422, 503),
    )
    async def create(
        self, request: Request[Any, Any, Any], data: JSONBody[CreateMerchant]
    ) -> MerchantCreated:
        """Create a merchant; its API key is in this answer and nowhere else, ever."""
        svc = services(request)
        await svc.authorize(request)
        settings = data.settings or Settings()
        key = await svc.merchants.create(data.merchant_id, data.name, settings)
        return MerchantCreated(
            merchant_id=data.merchant_id, api_key=key, settings=EffectiveSettings.of(settings)
        )

    @get("/{merchant_id:str}/settings", responses=problem_responses(400, 401, 403, 404, 422, 503))
    async def get_settings(
        self, request: Request[Any, Any, Any], merchant_id: MerchantId
    ) -> EffectiveSettings:
        """The merchant's settings with defaults filled in."""
        svc = services(request)
        await svc.authorize(request, merchant_id)
        return EffectiveSettings.of(await svc.merchants.settings(merchant_id))

    @put(
        "/{merchant_id:str}/settings",
        responses=problem_responses(400, 401, 403, 404, 413, 415, 422, 503),
    )
    async def put_settings(
        self, request: Request[Any, Any, Any], merchant_id: MerchantId, data: JSONBody[Settings]
    ) -> EffectiveSettings:
        """Replace the settings; fields left out fall back to the override file and policy."""
        svc = services(request)
        await svc.authorize(request, merchant_id)
        return EffectiveSettings.of(await replace_settings(svc.merchants, merchant_id, data))

    @post(
        "/{merchant_id:str}/api-key",
        status_code=200,
        response_headers=[ResponseHeader(name="Cache-Control", value="no-store")],
        responses=problem_responses(400, 401, 403, 404, 422, 503),
    )
    async def rotate_api_key(
        self, request: Request[Any, Any, Any], merchant_id: MerchantId
    ) -> MerchantKey:
        """A new API key for the merchant, shown in this answer only; the old key stops
        working on every worker before this answers. The admin or the merchant itself."""
        svc = services(request)
        await svc.authorize(request, merchant_id)
        key = await svc.merchants.rotate_key(merchant_id)
        return MerchantKey(merchant_id=merchant_id, api_key=key)
