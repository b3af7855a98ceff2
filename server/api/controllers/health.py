"""Liveness, readiness and metrics: open to anyone, no secrets in them."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get
from litestar.openapi.datastructures import ResponseSpec

from server.api.controllers.common import services
from server.api.types import Health, Readiness
from server.metrics import MEDIA_TYPE


class HealthController(Controller):
    tags = ["health"]

    @get("/health", sync_to_thread=False)
    def health(self) -> Health:
        """The process is up."""
        return Health(status="ok")

    @get(
        "/ready",
        responses={
            503: ResponseSpec(
                data_container=Readiness, description="A dependency is not usable; see checks"
            )
        },
    )
    async def ready(self, request: Request[Any, Any, Any]) -> Response[Readiness]:
        """200 when the database (read and write), Redis and policies are usable, else 503
        with the failing checks."""
        checks = await services(request).readiness()
        ok = all(v == "ok" for v in checks.values())
        return Response(
            Readiness(status="ok" if ok else "unavailable", checks=checks),
            status_code=200 if ok else 503,
        )

    @get("/metrics", media_type=MEDIA_TYPE)
    async def metrics(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        """Prometheus text format."""
        return Response(await services(request).metrics_text(), media_type=MEDIA_TYPE)
