"""The policies in force, and their atomic reload."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, get, post

from engine import PolicySummary
from engine.problems import PolicyProblems
from server.api.controllers.common import BEARER, problem_responses, services


class PolicyList(msgspec.Struct, frozen=True):
    policies: list[PolicySummary]


class PolicyController(Controller):
    path = "/v1/policies"
    tags = ["policies"]
    security = BEARER

    @get("/", responses=problem_responses(401, 503))
    async def list_policies(self, request: Request[Any, Any, Any]) -> PolicyList:
        """Loaded policies: name, versions, active version, sha256."""
        svc = services(request)
        await svc.authenticate(request)
        return PolicyList(policies=svc.policies.summary())

    @post("/reload", status_code=200, responses=problem_responses(401, 403, 422))
    async def reload(self, request: Request[Any, Any, Any]) -> PolicyList:
        """Re-read the policy folder; on any problem the previous policies stay in force.

        Every other worker sharing the Redis reloads too (server.policy_sync).
        """
        svc = services(request)
        await svc.authorize(request)
        try:
            summary = await svc.policies.reload()
        except PolicyProblems:
            svc.metrics.reloads.labels("refused").inc()
            raise
        svc.metrics.reloads.labels("ok").inc()
        if svc.policy_sync is not None:
            await svc.policy_sync.announce()
        return PolicyList(policies=summary)
