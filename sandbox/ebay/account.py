"""Account API: list and create fulfillment, payment and return business policies."""

from __future__ import annotations

from typing import Any, Final

from litestar import Request, Response, get, post
from litestar.handlers import HTTPRouteHandler

from sandbox.ebay.checks import checked_body, missing
from sandbox.ebay.errors import ACCOUNT_DOMAIN, ebay_error
from sandbox.ebay.oauth import check_token
from sandbox.ebay.state import EbayState
from sandbox.state import SandboxState

ACCOUNT: Final = "/sell/account/v1"


def account_routes(state: SandboxState) -> list[HTTPRouteHandler]:
    """GET/POST /sell/account/v1/{fulfillment,payment,return}_policy."""

    def ebay() -> EbayState:
        return state.ebay

    def _list_policies(kind: str, request: Request[Any, Any, Any]) -> Response[Any]:
        denied = check_token(state, request)
        if denied:
            return denied
        marketplace = request.query_params.get("marketplace_id")
        if not marketplace:
            return ebay_error(
                400,
                20401,
                "Missing field marketplace_id.",
                domain=ACCOUNT_DOMAIN,
                parameters=[{"name": "fieldName", "value": "marketplace_id"}],
            )
        found = [p for p in ebay().policies[kind].values() if p["marketplaceId"] == marketplace]
        key = f"{kind}Policies"
        return Response(
            content={
                key: found,
                "href": str(request.url),
                "limit": 20,
                "offset": 0,
                "total": len(found),
            },
            status_code=200,
        )

    async def _create_policy(
        kind: str,
        operation_id: str,
        schema_required: tuple[str, ...],
        request: Request[Any, Any, Any],
    ) -> Response[Any]:
        denied = check_token(state, request)
        if denied:
            return denied
        body, bad = await checked_body(
            state,
            request,
            operation_id,
            (20401, ACCOUNT_DOMAIN),
            lambda b: missing(b, *schema_required) + _policy_rules(kind, b),
        )
        if bad:
            return bad
        store = ebay()
        for existing in store.policies[kind].values():
            if (
                existing["marketplaceId"] == body["marketplaceId"]
                and existing["name"] == body["name"]
            ):
                return ebay_error(
                    400,
                    20400,
                    "Invalid request. The policy name already exists.",
                    domain=ACCOUNT_DOMAIN,
                    long_message=f"A {kind} policy named {body['name']!r} already exists for "
                    f"{body['marketplaceId']}.",
                )
        policy_id = store.new_id()
        policy = {**body, f"{kind}PolicyId": policy_id}
        store.policies[kind][policy_id] = policy
        location = f"{request.base_url}{ACCOUNT.lstrip('/')}/{kind}_policy/{policy_id}"
        return Response(content=policy, status_code=201, headers={"Location": location})

    @get(f"{ACCOUNT}/fulfillment_policy")
    async def list_fulfillment(request: Request[Any, Any, Any]) -> Response[Any]:
        return _list_policies("fulfillment", request)

    @get(f"{ACCOUNT}/payment_policy")
    async def list_payment(request: Request[Any, Any, Any]) -> Response[Any]:
        return _list_policies("payment", request)

    @get(f"{ACCOUNT}/return_policy")
    async def list_return(request: Request[Any, Any, Any]) -> Response[Any]:
        return _list_policies("return", request)

    required = ("name", "marketplaceId", "categoryTypes")

    @post(f"{ACCOUNT}/fulfillment_policy/")
    async def create_fulfillment(request: Request[Any, Any, Any]) -> Response[Any]:
        return await _create_policy("fulfillment", "createFulfillmentPolicy", required, request)

    @post(f"{ACCOUNT}/payment_policy")
    async def create_payment(request: Request[Any, Any, Any]) -> Response[Any]:
        return await _create_policy("payment", "createPaymentPolicy", required, request)

    @post(f"{ACCOUNT}/return_policy")
    async def create_return(request: Request[Any, Any, Any]) -> Response[Any]:
        return await _create_policy(
            "return", "createReturnPolicy", (*required, "returnsAccepted"), request
        )

    return [
        list_fulfillment,
        list_payment,
        list_return,
        create_fulfillment,
        create_payment,
        create_return,
    ]


def _policy_rules(kind: str, body: dict[str, Any]) -> list[str]:
    """Conditional requirements from the Account API field docs."""
    problems: list[str] = []
    if kind == "return" and body.get("returnsAccepted") is True:
        problems += missing(body, "returnPeriod", "returnShippingCostPayer")
    if kind == "fulfillment":
        options = body.get("shippingOptions") or []
        if options and not body.get("localPickup") and not body.get("freightShipping"):
            problems += missing(body, "handlingTime")
        for index, option in enumerate(options):
            if not isinstance(option, dict):
                continue
            for name in ("optionType", "costType"):
                if not option.get(name):
                    problems.append(f"Missing field shippingOptions[{index}].{name}.")
            for s_index, service in enumerate(option.get("shippingServices") or []):
                if isinstance(service, dict) and not service.get("shippingServiceCode"):
                    problems.append(
                        f"Missing field shippingOptions[{index}].shippingServices[{s_index}]."
                        "shippingServiceCode."
                    )
    return problems
