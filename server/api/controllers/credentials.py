"""Channel credentials of a merchant (write-only: they are never returned)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, put
from litestar.params import JSONBody

from server.accounts import connect_account, credential_fields
from server.api.controllers.common import (
    BEARER,
    ChannelPath,
    MerchantId,
    problem_responses,
    services,
)
from server.api.types import ChannelCredentials
from server.db.credentials import CredentialStore
from server.errors import NotFound, Unavailable


class CredentialsController(Controller):
    path = "/v1/merchants/{merchant_id:str}/channels/{channel:str}/credentials"
    tags = ["merchants"]
    security = BEARER

    @put(
        "/",
        status_code=204,
        responses=problem_responses(400, 401, 403, 404, 413, 422, 502, 503),
    )
    async def put_credentials(
        self,
        request: Request[Any, Any, Any],
        merchant_id: MerchantId,
        channel: ChannelPath,
        data: JSONBody[ChannelCredentials],
    ) -> None:
        """Exchange the code or token with the channel and store the account encrypted."""
        svc = services(request)
        await svc.authorize(request, merchant_id)
        if not await svc.merchants.exists(merchant_id):
            raise NotFound(f"merchant {merchant_id!r} not found")
        fields = credential_fields(channel, data)
        store = CredentialStore(svc.tables, svc.secret_box)
        if svc.secret_box is None:
            raise Unavailable("credentials cannot be stored: CHANNEL_ROUTER_SECRET_KEY is not set")
        if svc.http is None:
            raise Unavailable("the service is not started")
        account = await connect_account(
            channel, fields, svc.http, svc.config.env, budget=svc.rate_budget
        )
        await store.save(merchant_id, channel, account)
