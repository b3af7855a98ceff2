"""`POST /v1/execute?dry_run=true`: the pre-flight of a campaign (issue 11, item 3).

Makes the decision (written to the decision log, like /v1/decide), loads the merchant's
connected accounts and runs `connectors.preflight.preflight` on them: every check that can be
made without changing anything. Nothing else is written: no campaign, no idempotency key, no
listing, price or stock change, and a token refreshed on the way is not stored (refresh tokens
of eBay and Login with Amazon stay valid, so the stored account still works).
"""

from __future__ import annotations

import logging

import msgspec

from connectors.base import ChannelAccount, ExternalChannel, ListingProblem, StoreConnector
from connectors.config import ApiConfig
from connectors.http import ApiClient
from connectors.preflight import Plan, preflight
from connectors.registry import EXTERNAL_CHANNELS, STORES, external_channel, store
from engine.types import DecideRequest, Decision
from execution.sku import campaign_sku
from server.campaigns import generated_campaign_id
from server.db.credentials import CredentialStore
from server.db.decision_log import log_row
from server.errors import Unavailable
from server.services import Services

log = logging.getLogger(__name__)

DRY_RUN_CAMPAIGN = "dry-run"
"""The campaign id SKUs are shown for when the request names none (a real execute makes its
own id, so the SKUs of the campaign it makes differ)."""


class PreflightAnswer(msgspec.Struct, frozen=True):
    """The 200 body of a dry run: the decision, the plan and every problem found.

    `ok` is false when any problem is an error (the campaign would fail or list nothing on that
    channel); warnings (stock short, price changed on the store) leave it true."""

    dry_run: bool
    ok: bool
    merchant_id: str
    campaign_id: str | None
    decision: Decision
    plan: Plan
    problems: list[ListingProblem]


async def _account(
    credentials: CredentialStore, merchant_id: str, channel: str
) -> tuple[ChannelAccount | None, ListingProblem | None]:
    """The stored account of `channel`, None when not connected, or the problem reading it."""
    try:
        raw = await credentials.load(merchant_id, channel)
    except Unavailable as exc:  # no secret key: stored accounts cannot be opened
        return None, ListingProblem(channel, "credentials", str(exc), "UNREADABLE")
    if raw is None:
        return None, None
    try:
        return msgspec.json.decode(raw, type=ChannelAccount), None
    except msgspec.DecodeError:
        return None, ListingProblem(
            channel, "credentials", f"the stored {channel} account cannot be read", "UNREADABLE"
        )


def _decide_request(data: DecideRequest) -> DecideRequest:
    """The DecideRequest part of an execute body (the log keeps what /v1/decide would)."""
    part = getattr(data, "decide_request", None)
    if callable(part):
        found: DecideRequest = part()
        return found
    return data


async def dry_run(
    svc: Services, data: DecideRequest, idempotency_key: str | None = None
) -> PreflightAnswer:
    """Decide and pre-flight `data` (an execute body) for its merchant, changing nothing.

    The caller has authorized the merchant. With the `campaign_id` of an ExecuteRequest, or
    the Idempotency-Key the execute would be sent with, the SKUs in the plan are the ones that
    campaign would list under (server.campaigns derives the id from the key)."""
    request = _decide_request(data)
    merchant_id = request.merchant_id
    settings = await svc.merchants.settings(merchant_id)
    engine = svc.policies.engine
    decision = engine.decide(request, settings)
    decision_log = svc.decision_log
    await decision_log.record_rows(
        [log_row(request, decision, decision_log.created_at(), settings)]
    )
    svc.metrics.count_decision(decision)

    if svc.http is None:
        raise Unavailable("the service is not started")
    config = ApiConfig.from_env(svc.config.env)
    api = ApiClient(svc.http, config, budget=svc.rate_budget)
    credentials = CredentialStore(svc.tables, svc.secret_box)
    problems: list[ListingProblem] = []

    platform = next(iter(STORES))
    store_connector: StoreConnector | None = None
    store_account: ChannelAccount | None = None
    for name in STORES:
        account, problem = await _account(credentials, merchant_id, name)
        if problem is not None:
            problems.append(problem)
        if account is not None:
            platform, store_connector, store_account = name, store(name, api, config), account
            break

    external = [a.channel for a in decision.external_channels if a.allocated_units > 0]
    connectors: dict[str, ExternalChannel] = {}
    accounts: dict[str, ChannelAccount] = {}
    for channel in external:
        if channel in EXTERNAL_CHANNELS:
            connectors[channel] = external_channel(channel, api, config)
        account, problem = await _account(credentials, merchant_id, channel)
        if problem is not None:
            problems.append(problem)
        elif account is not None:
            accounts[channel] = account

    campaign_id: str | None = getattr(data, "campaign_id", None)
    if campaign_id is None and idempotency_key:
        campaign_id = generated_campaign_id(merchant_id, idempotency_key)
    product = request.product
    variant_id = product.variant_id or product.product_id  # as server.campaigns.execute
    skus = {
        channel: campaign_sku(merchant_id, campaign_id or DRY_RUN_CAMPAIGN, channel, variant_id)
        for channel in external
    }
    report = await preflight(
        decision=decision,
        product=request.product,
        proposal=request.proposal,
        store=store_connector,
        store_account=store_account,
        channels=connectors,
        accounts=accounts,
        sku=skus,
        platform=platform,
    )
    problems.extend(report.problems)
    ok = not any(p.severity == "error" for p in problems)
    log.info(
        "dry run for %s: %s, %d problem(s)", merchant_id, "ok" if ok else "not ok", len(problems)
    )
    return PreflightAnswer(
        dry_run=True,
        ok=ok,
        merchant_id=merchant_id,
        campaign_id=campaign_id,
        decision=decision,
        plan=report.plan,
        problems=problems,
    )


def encode_answer(answer: PreflightAnswer) -> bytes:
    """The JSON body of the answer."""
    return msgspec.json.encode(answer)
