"""Campaigns: execute a decision, read one or a merchant's list, cancel (docs/api.md).

The work is in `server.campaigns`, shared with the console; this module is the HTTP
shape: the caller authenticated before the body is read (server.api.guards), the body
decoded strictly with the `Idempotency-Key` header checked beside it (every refused field
named at once), the merchant key's write budget spent, 403 for another merchant's
campaign and 404 for one that does not exist.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import ResponseHeader
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import PathParameter, QueryParameter

from engine.types import END, IDENTIFIER_PATTERN
from execution.states import CampaignStatus
from execution.store import CampaignRecord
from server.api.body import decode_body, documented
from server.api.controllers.common import BEARER, problem_responses, services
from server.api.decoding import BodyDecoder, BodyInvalid
from server.api.problems import InvalidParam
from server.api.types import MAX_PAGE, Campaign, CampaignPage, ExecuteRequest
from server.auth import Forbidden, Principal
from server.campaign_stock import campaign_stock
from server.campaigns import (
    body_sha256,
    campaign_view,
    cancel_campaign,
    execute,
    now_utc,
)
from server.errors import InvalidFields, InvalidInput, NotFound
from server.execute_preflight import PreflightAnswer
from server.execute_preflight import dry_run as preflight_dry_run
from server.services import Services

IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200
# Visible ASCII, inner spaces allowed (HTTP strips the outer ones).
KEY_PATTERN = r"^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?" + END
_KEY = re.compile(KEY_PATTERN)
KEY_DESCRIPTION = (
    "The client's key for this request (1 to 200 visible ASCII characters, inner spaces "
    "allowed): the same key and body give the same campaign, another body 409."
)
REPLAYED_HEADER = "Idempotent-Replayed"
DEFAULT_PAGE = 50
_JSON = "application/json"

CampaignId = Annotated[str, PathParameter(min_length=1, max_length=64, pattern=IDENTIFIER_PATTERN)]
_execute_decoder = BodyDecoder(ExecuteRequest)
_MERCHANT = re.compile(IDENTIFIER_PATTERN)


def _key_problem(request: Request[Any, Any, Any]) -> InvalidParam | None:
    """What is wrong with the Idempotency-Key header, or None."""
    values = request.headers.getall(IDEMPOTENCY_HEADER, [])
    if not values:
        return InvalidParam(name=IDEMPOTENCY_HEADER, reason="required (header)")
    if len(values) > 1:
        return InvalidParam(name=IDEMPOTENCY_HEADER, reason="give the header once")
    value = values[0]
    if len(value) > MAX_KEY_LENGTH:
        return InvalidParam(name=IDEMPOTENCY_HEADER, reason="at most 200 characters")
    if not _KEY.match(value):
        return InvalidParam(
            name=IDEMPOTENCY_HEADER, reason="1 to 200 visible ASCII characters (spaces inside)"
        )
    return None


async def _answer(
    svc: Services, record: CampaignRecord, headers: dict[str, str]
) -> Response[Campaign]:
    timeline = await svc.campaigns.timeline(record.campaign_id)
    stock = await campaign_stock(svc, record.campaign_id)
    return Response(
        campaign_view(record, timeline, stock), status_code=202, media_type=_JSON, headers=headers
    )


async def _own_campaign(svc: Services, principal: Principal, campaign_id: str) -> CampaignRecord:
    """The campaign; NotFound when there is none, Forbidden when it is another merchant's."""
    record = await svc.campaigns.get(campaign_id)
    if record is None:
        raise NotFound(f"campaign {campaign_id!r} not found")
    if not principal.may_act_for(record.merchant_id):
        raise Forbidden("this token may not act for that campaign's merchant")
    return record


_CAMPAIGN_202 = {
    202: ResponseSpec(
        data_container=Campaign,
        description="The campaign (see docs/execution.md)",
        media_type=_JSON,
    )
}
_DRY_RUN_200 = {
    200: ResponseSpec(
        data_container=PreflightAnswer,
        description="`?dry_run=true`: the plan and every problem; nothing was changed",
        media_type=_JSON,
    )
}


class CampaignController(Controller):
    path = "/v1"
    tags = ["campaigns"]
    security = BEARER

    @post(
        "/execute",
        status_code=202,
        media_type=_JSON,
        dependencies=documented(ExecuteRequest),
        response_headers=[
            ResponseHeader(
                name=REPLAYED_HEADER,
                description="true when this key and body made the campaign before",
                documentation_only=True,
            )
        ],
        responses={
            **_CAMPAIGN_202,
            **_DRY_RUN_200,
            **problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 429, 503),
        },
    )
    async def execute(
        self,
        request: Request[Any, Any, Any],
        dry_run: Annotated[
            bool,
            QueryParameter(
                description="Check everything without changing anything: 200 with the plan "
                'and every problem (docs/execution.md, "Dry run"); the key is not spent'
            ),
        ] = False,
    ) -> Response[Any]:
        """Carry a decision out: decide as /v1/decide does, store the campaign, queue its
        start and its end. Always 202: a new campaign (`Idempotent-Replayed: false`), or
        the one this key and body made before (`true`). The same key with another body,
        or a `campaign_id` made under another key, is 409. With `?dry_run=true`: 200 with
        the plan and every problem found, nothing written but the decision log."""
        svc = services(request)
        principal = await svc.authenticate(request)
        key_problem = _key_problem(request)
        try:
            data: ExecuteRequest = await decode_body(
                request, _execute_decoder, svc.config.max_body_bytes
            )
        except BodyInvalid as exc:
            if key_problem is not None:
                exc.params.insert(0, key_problem)
            raise
        if key_problem is not None:
            raise InvalidFields(
                "the Idempotency-Key header is missing or invalid",
                [(key_problem.name, key_problem.reason)],
            )
        if not principal.may_act_for(data.merchant_id):
            raise Forbidden("this token may not act for that merchant")
        await svc.write_budget.spend(principal, 1)
        if dry_run:
            answer = await preflight_dry_run(svc, data, request.headers.get(IDEMPOTENCY_HEADER))
            return Response(answer, status_code=200, media_type=_JSON)
        key = request.headers[IDEMPOTENCY_HEADER]
        record, created = await execute(svc, data, key, body_sha256(data))
        return await _answer(svc, record, {REPLAYED_HEADER: "false" if created else "true"})

    @get(
        "/campaigns/{campaign_id:str}",
        responses=problem_responses(400, 401, 403, 404, 422, 503),
    )
    async def get_campaign(
        self, request: Request[Any, Any, Any], campaign_id: CampaignId
    ) -> Campaign:
        """The campaign: its state, listings, end and timeline (`events`)."""
        svc = services(request)
        record = await _own_campaign(svc, await svc.authenticate(request), campaign_id)
        timeline = await svc.campaigns.timeline(campaign_id)
        return campaign_view(record, timeline, await campaign_stock(svc, campaign_id))

    @post(
        "/campaigns/{campaign_id:str}/cancel",
        status_code=202,
        media_type=_JSON,
        responses={**_CAMPAIGN_202, **problem_responses(400, 401, 403, 404, 422, 503)},
    )
    async def cancel(
        self, request: Request[Any, Any, Any], campaign_id: CampaignId
    ) -> Response[Campaign]:
        """End the campaign now: listings withdrawn, store price reverted, by the worker;
        the answer shows the end requested (`end`), and `status` turns `cancelled` once
        the end is verified. A campaign already ended is answered as it is."""
        svc = services(request)
        await _own_campaign(svc, await svc.authenticate(request), campaign_id)
        record = await cancel_campaign(svc, campaign_id, now_utc(svc))
        return await _answer(svc, record, {})

    @get("/campaigns", responses=problem_responses(400, 401, 403, 404, 422, 503))
    async def list_campaigns(
        self,
        request: Request[Any, Any, Any],
        merchant_id: Annotated[
            str | None,
            QueryParameter(
                max_length=64,
                description="Whose campaigns (the admin must say; a merchant key: itself)",
            ),
        ] = None,
        status: Annotated[
            CampaignStatus | None, QueryParameter(description="Only campaigns in this status")
        ] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
        cursor: Annotated[
            str | None,
            QueryParameter(max_length=400, description="`next_cursor` of the previous page"),
        ] = None,
    ) -> CampaignPage:
        """A merchant's campaigns, newest first, `limit` per page; follow `next_cursor`
        (null on the last page). Campaigns made while paging never repeat or skip one
        already listed. Listed campaigns leave `events` empty."""
        svc = services(request)
        principal = await svc.authenticate(request)
        merchant = _merchant_scope(principal, merchant_id)
        before = None
        if cursor is not None:
            before = decode_cursor(cursor)
            if before is None:
                raise InvalidInput("not a cursor this service gave (next_cursor)", "cursor")
        await svc.merchants.settings(merchant)  # NotFound for an unknown merchant
        rows = await svc.campaigns.for_merchant(
            merchant,
            status=status,
            before=before,
            limit=limit + 1,
        )
        page, more = rows[:limit], len(rows) > limit
        return CampaignPage(
            campaigns=[campaign_view(record, []) for record in page],
            next_cursor=encode_cursor(page[-1]) if more else None,
        )


def _merchant_scope(principal: Principal, merchant_id: str | None) -> str:
    """The merchant listed: the admin names one, a merchant key is itself."""
    if merchant_id is not None and not _MERCHANT.match(merchant_id):
        raise InvalidInput("merchant_id must be 1-64 of A-Z a-z 0-9 . _ -", "merchant_id")
    if principal.is_admin:
        if merchant_id is None:
            raise InvalidInput("the admin token must name the merchant_id", "merchant_id")
        return merchant_id
    assert principal.merchant_id is not None
    if merchant_id is not None and merchant_id != principal.merchant_id:
        raise Forbidden("this token may not read another merchant's campaigns")
    return principal.merchant_id


class _Cursor(msgspec.Struct, array_like=True, forbid_unknown_fields=True):
    created_at: Annotated[datetime, msgspec.Meta(tz=True)]
    campaign_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


def encode_cursor(record: CampaignRecord) -> str:
    """Where the next page starts: after this campaign (created_at, campaign_id)."""
    raw = msgspec.json.encode(_Cursor(record.created_at, record.campaign_id))
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> tuple[datetime, str] | None:
    """The (created_at, campaign_id) of a cursor, or None when it is not one."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        cursor = msgspec.json.decode(raw, type=_Cursor)
        return cursor.created_at.astimezone(UTC), cursor.campaign_id
    except (binascii.Error, ValueError, OverflowError, msgspec.DecodeError):
        return None
