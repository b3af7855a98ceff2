"""Channel credentials of a merchant (write-only: they are never returned)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get, put
from litestar.params import JSONBody

from server.accounts import (
    CONNECTABLE,
    Connection,
    connect_and_save,
    connection,
    credential_fields,
)
from server.api.controllers.common import (
    BEARER,
    ChannelPath,
    MerchantId,
    problem_responses,
    services,
)
from server.api.types import ChannelCredentials
from server.db.credentials import CredentialStore
from server.errors import NotFound

_CHANNEL_PROBLEMS = (400, 401, 403, 404, 422, 503)


class CredentialsController(Controller):
    path = "/v1/merchants/{merchant_id:str}/channels/{channel:str}/credentials"
    tags = ["merchants"]
    security = BEARER

    @put(
        "/",
        status_code=204,
        responses=problem_responses(400, 401, 403, 404, 413, 415, 422, 502, 503),
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
        await connect_and_save(
            store, merchant_id, channel, fields, svc.http, svc.config.env, budget=svc.rate_budget
        )

    @get("/", responses=problem_responses(*_CHANNEL_PROBLEMS))
    async def get_connection(
        self, request: Request[Any, Any, Any], merchant_id: MerchantId, channel: ChannelPath
    ) -> Connection:
        """Whether an account is connected: seller, marketplace, token expiry; never a secret."""
        svc = services(request)
        await _known(request, merchant_id, channel)
        return await connection(CredentialStore(svc.tables, svc.secret_box), merchant_id, channel)

    @delete("/", status_code=204, responses=problem_responses(*_CHANNEL_PROBLEMS))
    async def delete_credentials(
        self, request: Request[Any, Any, Any], merchant_id: MerchantId, channel: ChannelPath
    ) -> None:
        """Disconnect: forget the stored account (404 when none was connected)."""
        svc = services(request)
        await _known(request, merchant_id, channel)
        store = CredentialStore(svc.tables, svc.secret_box)
        if not await store.delete(merchant_id, channel):
            raise NotFound(f"no {channel} account is connected")


async def _known(request: Request[Any, Any, Any], merchant_id: str, channel: str) -> None:
    """Authorize for the merchant; NotFound for an unknown merchant or channel."""
    svc = services(request)
    await svc.authorize(request, merchant_id)
    if not await svc.merchants.exists(merchant_id):
        raise NotFound(f"merchant {merchant_id!r} not found")
    if channel not in CONNECTABLE:
        raise NotFound(f"unknown channel {channel!r}")
