"""Routing decisions, one or a batch, each written to the decision log.

The hot path of the service, kept lean (measured in bench/http.py against a
bare Litestar route of the same shapes): /v1/decide is answered from its ASGI
messages (server.api.direct), past Litestar's handler pipeline; the caller is
authenticated before the body is read, from the key cache; the body is decoded
by msgspec straight into its Struct; settings come from the per-merchant cache;
the answer is encoded once, to bytes. Nothing is built per request that can be
built once.

Bodies are decoded strictly and every refused field named (server.api.decoding);
every row a merchant key writes is counted against its budget
(server.write_budget) before any decision is made.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from litestar import Controller, Request, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromQuery
from litestar.types import ASGIApp, Receive, Scope
from msgspec.structs import replace

from engine.types import DecideRequest, Decision, DecisionError, Settings
from server.api.body import JsonAnswer, decode_body, documented, receive_decoded
from server.api.controllers.common import BEARER, problem_responses, services
from server.api.decoding import BodyDecoder
from server.api.direct import direct
from server.api.guards import check_request
from server.api.types import DecideBatch, DecisionBatch
from server.auth import Forbidden
from server.db.decision_log import log_row
from server.errors import InvalidFields
from server.services import Services

_YIELD_EVERY = 500
_JSON = "application/json"

_decide_decoder = BodyDecoder(DecideRequest)
_batch_decoder = BodyDecoder(DecideBatch)
_encode = msgspec.json.Encoder().encode


async def decide_one(scope: Scope, receive: Receive) -> ASGIApp:
    """POST /v1/decide from its ASGI messages: checks, body, decision, log row, answer."""
    svc: Services = scope["litestar_app"].state.services
    principal = await check_request(scope)
    if principal is None:  # pragma: no cover - /v1/ paths always name their caller
        raise Forbidden("a bearer token is required")
    data = await receive_decoded(scope, receive, _decide_decoder, svc.config.max_body_bytes)
    if not principal.may_act_for(data.merchant_id):
        raise Forbidden("this token may not act for that merchant")
    await svc.write_budget.spend(principal, 1)
    settings = await svc.merchants.settings(data.merchant_id)
    engine = svc.policies.engine
    decision = engine.decide(data, settings)
    log = svc.decision_log
    await log.record_rows([log_row(data, decision, log.created_at(), settings)])
    svc.metrics.count_decision(decision)
    if engine.shadowing:
        await svc.shadow.observe(engine, (data,), (decision,), {data.merchant_id: settings})
    return JsonAnswer(engine.encode(decision))


def _answers(data_type: type, description: str) -> dict[int, ResponseSpec]:
    return {
        200: ResponseSpec(data_container=data_type, description=description, media_type=_JSON),
        **problem_responses(400, 401, 403, 404, 413, 415, 422, 429, 503),
    }


class DecideController(Controller):
    path = "/v1/decide"
    tags = ["decide"]
    security = BEARER

    @post(
        "/",
        status_code=200,
        media_type=_JSON,
        dependencies=documented(DecideRequest),
        responses=_answers(Decision, "The decision, with its trace"),
        middleware=[direct(decide_one)],
    )
    async def decide(self, request: Request[Any, Any, Any]) -> ASGIApp:
        """Decide where the product's clearance stock goes; no side effect but the log."""
        # Served by `decide_one` before Litestar's handler pipeline (server.api.direct);
        # this declaration routes it and documents it, and answers alike if reached.
        return await decide_one(request.scope, request.receive)

    @post(
        "/batch",
        status_code=200,
        media_type=_JSON,
        dependencies=documented(DecideBatch),
        responses=_answers(DecisionBatch, "The decisions, in the order of the items"),
    )
    async def decide_batch(
        self,
        request: Request[Any, Any, Any],
        trace: FromQuery[bool] = False,
        parameters: FromQuery[bool] = False,
    ) -> ASGIApp:
        """Decide up to 10,000 requests at once; answers in the order given.

        Each decision's `trace` is left empty unless `?trace=true`, and its
        `parameters` unless `?parameters=true`: they would double the work and
        the size of a large answer, and /v1/decide gives both per item. A batch
        with refused items is refused whole, naming every refused item.
        """
        svc = services(request)
        principal = await svc.authenticate(request)
        data = await decode_body(request, _batch_decoder, svc.config.max_body_bytes)
        settings: dict[str, Settings] = {}
        for item in data.items:
            if item.merchant_id not in settings:
                if not principal.may_act_for(item.merchant_id):
                    raise Forbidden(f"this token may not act for merchant {item.merchant_id!r}")
                settings[item.merchant_id] = await svc.merchants.settings(item.merchant_id)
        await svc.write_budget.spend(principal, len(data.items))
        engine = svc.policies.engine  # one policy set for the whole batch, even across a reload
        decide = engine.decide
        log = svc.decision_log
        created_at = log.created_at()
        decisions: list[Decision] = []
        rows: list[tuple[Any, ...]] = []
        refused: list[tuple[str, str]] = []
        for index, item in enumerate(data.items):
            if index and index % _YIELD_EVERY == 0:
                await asyncio.sleep(0)  # let other requests in between chunks of a large batch
            merchant_settings = settings[item.merchant_id]
            try:
                decision = decide(item, merchant_settings, trace=trace)
            except DecisionError as exc:
                refused.append((f"items[{index}].{exc.field}", str(exc)))
                continue
            decisions.append(decision)
            rows.append(log_row(item, decision, created_at, merchant_settings))
        if refused:
            raise InvalidFields(f"{len(refused)} of {len(data.items)} items refused", refused)
        await log.record_rows(rows)
        svc.metrics.count_decisions(decisions)
        if engine.shadowing:
            await svc.shadow.observe(engine, data.items, decisions, settings)
        if not parameters:  # each decision's parameters are a dict shared per merchant
            decisions = [replace(d, parameters={}) for d in decisions]
        return JsonAnswer(_encode(DecisionBatch(decisions=decisions)))
