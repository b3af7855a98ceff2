"""The composition root: `create_app` wires config, services, controllers and errors.

Nothing is built at import time; the database, Redis pool and policy store
are opened in the app's on_startup (see `server.services.Services.start`).
"""

from __future__ import annotations

from litestar import Litestar
from litestar.datastructures import State
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from server.api import validation
from server.api.allow import fix_allow
from server.api.controllers.campaigns import CampaignController
from server.api.controllers.credentials import CredentialsController
from server.api.controllers.decide import DecideController
from server.api.controllers.health import HealthController
from server.api.controllers.merchants import MerchantController
from server.api.controllers.policies import PolicyController
from server.api.decoding import ApiRequest
from server.api.guards import api_guard
from server.api.openapi import (
    ParamValueSchema,
    docs_assets_router,
    docs_render_plugins,
    forget_document,
    serve_document,
)
from server.api.problems import exception_handlers
from server.config import ServiceConfig
from server.console import Console
from server.metrics import Metrics, metrics_middleware
from server.services import Services


def create_app(config: ServiceConfig | None = None) -> Litestar:
    """A Litestar app for `config` (default: from the environment)."""
    config = config or ServiceConfig.from_env()
    validation.install()
    metrics = Metrics(config.metrics_multiprocess_dir)
    services = Services(config, metrics)
    console = Console(services)
    app = Litestar(
        route_handlers=[
            HealthController,
            MerchantController,
            CredentialsController,
            DecideController,
            CampaignController,
            PolicyController,
            *console.route_handlers(),
            docs_assets_router(),
        ],
        template_config=console.template_config(),
        stores=console.stores(),
        on_startup=[services.start],
        on_shutdown=[services.stop],
        middleware=[metrics_middleware(metrics)],
        plugins=[ParamValueSchema()],
        # Auth and media type before any body is read; bodies decoded strictly.
        before_request=api_guard,
        request_class=ApiRequest,
        exception_handlers=exception_handlers(),
        request_max_body_size=config.max_body_bytes,
        state=State({"services": services, "console": console}),
        openapi_config=OpenAPIConfig(
            title="channel-router",
            version="1",
            description="Routing decisions for clearance stock (docs/api.md).",
            render_plugins=docs_render_plugins(),
            components=Components(
                security_schemes={
                    "bearer": SecurityScheme(
                        type="http",
                        scheme="bearer",
                        description="The admin token or a merchant API key.",
                    )
                }
            ),
        ),
        # The processes configure logging once (server.logs); Litestar adding its own
        # handler and format would print our lines twice, in two formats.
        logging_config=None,
        debug=False,
    )
    fix_allow(app)
    # The document names the loaded policies' parameters: build it again after a reload.
    serve_document(app)
    services.policies.on_reload.append(lambda engine: forget_document(app))
    return app
