"""GET /commerce/identity/v1/user/ (Commerce Identity `getUser`): who the token's seller is.

The stand-in holds one seller, so it answers the same user for every valid eBay token, with
the fields eBay returns without the personal-data scopes (no name, address or email). Scopes
are not checked per token here, as elsewhere in the stand-in.
"""

from __future__ import annotations

from typing import Any, Final

from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler

from sandbox.ebay.new_orders import SELLER
from sandbox.ebay.oauth import check_token
from sandbox.state import SandboxState

USER_PATH: Final = "/commerce/identity/v1/user/"
USER_ID: Final = "nY2JvFxMTw2"  # shaped like eBay's immutable user ids


def identity_routes(state: SandboxState) -> list[HTTPRouteHandler]:
    @get(USER_PATH)
    async def get_user(request: Request[Any, Any, Any]) -> Response[Any]:
        refused = check_token(state, request)
        if refused is not None:
            return refused
        return Response(
            content={
                "userId": USER_ID,
                "username": SELLER,
                "accountType": "BUSINESS",
                "registrationMarketplaceId": "EBAY_US",
                "status": "CONFIRMED",
            },
            status_code=200,
        )

    return [get_user]
