"""Routing decisions, one or a batch, each written to the decision log."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Controller, Request, post
from litestar.params import FromQuery, JSONBody

from engine.types import DecideRequest, Decision, DecisionError, Settings
from server.api.controllers.common import BEARER, problem_responses, services
from server.api.types import DecideBatch, DecisionBatch
from server.auth import Forbidden
from server.errors import InvalidInput

_YIELD_EVERY = 500


class DecideController(Controller):
    path = "/v1/decide"
    tags = ["decide"]
    security = BEARER

    @post("/", status_code=200, responses=problem_responses(400, 401, 403, 404, 413, 422, 503))
    async def decide(
        self, request: Request[Any, Any, Any], data: JSONBody[DecideRequest]
    ) -> Decision:
        """Decide where the product's clearance stock goes; no side effect but the log."""
        svc = services(request)
        await svc.authorize(request, data.merchant_id)
        settings = await svc.merchants.settings(data.merchant_id)
        engine = svc.policies.engine
        decision = engine.decide(data, settings)
        await svc.decision_log.record((data,), (decision,))
        svc.metrics.count_decisions((decision,))
        if engine.shadowing:
            await svc.shadow.observe(engine, (data,), (decision,), {data.merchant_id: settings})
        return decision

    @post("/batch", status_code=200, responses=problem_responses(400, 401, 403, 404, 413, 422, 503))
    async def decide_batch(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[DecideBatch],
        trace: FromQuery[bool] = False,
    ) -> DecisionBatch:
        """Decide up to 10,000 requests at once; answers in the order given.

        Each decision's `trace` is left empty unless `?trace=true`: it doubles
        the work and the size of a large answer, and /v1/decide gives it per item.
        """
        svc = services(request)
        principal = await svc.authenticate(request)
        settings: dict[str, Settings] = {}
        for item in data.items:
            if item.merchant_id not in settings:
                if not principal.may_act_for(item.merchant_id):
                    raise Forbidden(f"this token may not act for merchant {item.merchant_id!r}")
                settings[item.merchant_id] = await svc.merchants.settings(item.merchant_id)
        engine = svc.policies.engine  # one policy set for the whole batch, even across a reload
        decisions: list[Decision] = []
        for index, item in enumerate(data.items):
            if index and index % _YIELD_EVERY == 0:
                await asyncio.sleep(0)  # let other requests in between chunks of a large batch
            try:
                decisions.append(engine.decide(item, settings[item.merchant_id], trace=trace))
            except DecisionError as exc:
                raise InvalidInput(str(exc), f"items[{index}].{exc.field}") from exc
        await svc.decision_log.record(data.items, decisions)
        svc.metrics.count_decisions(decisions)
        if engine.shadowing:
            await svc.shadow.observe(engine, data.items, decisions, settings)
        return DecisionBatch(decisions=decisions)
