"""The sandbox app: Shopify, eBay and Amazon stand-ins, /_sandbox/ control and an index page (/)."""

from __future__ import annotations

from litestar import Litestar

from sandbox import amazon, consent, control, ebay, shopify
from sandbox.faults import fault_middleware
from sandbox.index import index_route
from sandbox.state import SandboxState


def warm_up() -> None:
    """Build Shopify's GraphQL schema and run one document on a throwaway shop before serving.

    Building the 2025-01 schema and the first validation take seconds; done on the first request
    instead, that request outlasts a client's timeout."""
    throwaway = shopify.ShopifyState()
    shopify.run_graphql(throwaway, shopify.GraphqlRequest(query="query Warm { shop { name } }"))


def create_app(state: SandboxState | None = None, *, validate: bool = True) -> Litestar:
    """Build the app around `state` (a fresh one by default); `validate=False` skips spec checks."""
    if state is None:
        state = SandboxState(validate=validate)
    else:
        state.validate = validate
    app = Litestar(
        route_handlers=[
            shopify.router(state),
            ebay.router(state),
            amazon.router(state),
            consent.router(state),
            control.router(state),
            index_route(state),
        ],
        middleware=[fault_middleware(state)],
        on_startup=[warm_up],
        openapi_config=None,
        logging_config=None,  # the process's own set-up (server.logs) stays in force
        debug=False,
    )
    app.state.sandbox = state
    return app
