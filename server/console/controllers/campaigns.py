"""Campaigns: the merchant's campaigns newest first (status filter, "older" pages), one
campaign's detail with its timeline, and cancelling a running one after a confirmation.

A merchant reaches only its own campaigns: another merchant's campaign id is answered
exactly like an unknown one (the 404 page), so the page reveals nothing of it.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import PathParameter

from execution.states import LIVE_LISTINGS, STATUSES
from execution.store import CampaignRecord, CampaignStore
from server import campaigns
from server.console import campaign_words as words
from server.console import pages

CampaignId = Annotated[
    str, PathParameter(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
]


def _store(request: Request[Any, Any, Any]) -> CampaignStore:
    return pages.services(request).campaigns


async def _own(
    request: Request[Any, Any, Any], merchant_id: str, campaign_id: str
) -> CampaignRecord:
    """The campaign if it is the acting merchant's; the 404 page otherwise."""
    record = await _store(request).get(campaign_id)
    if record is None or record.merchant_id != merchant_id:
        raise NotFoundException()
    return record


class CampaignsController(Controller):
    path = "/campaigns"

    @get("/")
    async def index(self, request: Request[Any, Any, Any]) -> Response[Any]:
        user, merchant_id = await pages.acting_merchant(request)
        raw_status = request.query_params.get("status") or ""
        raw_older = request.query_params.get("older") or ""
        errors: dict[str, str] = {}
        status = None
        before = None
        try:
            status = words.parse_status(raw_status)
        except ValueError:
            errors["status"] = "Choose one of the statuses listed."
        if raw_older:
            try:
                before = words.parse_cursor(raw_older)
            except ValueError:
                errors["older"] = "This page link is not valid; the list starts again here."
        found = (
            []
            if "status" in errors
            else await _store(request).for_merchant(
                merchant_id, status=status, before=before, limit=words.PAGE_SIZE + 1
            )
        )
        page, more = found[: words.PAGE_SIZE], len(found) > words.PAGE_SIZE
        older = None
        if more:
            older = {"older": words.cursor(page[-1])}
            if status:
                older["status"] = status
        return pages.render(
            request,
            "campaigns.html",
            active="campaigns",
            user=user,
            merchant_id=merchant_id,
            campaigns=[words.summary(r) for r in page],
            statuses=[(s, words.STATUS_WORDS[s]) for s in STATUSES],
            chosen=raw_status if "status" in errors else (status or ""),
            paged=before is not None,
            older=older,
            errors=errors,
            status=400 if errors else 200,
        )

    @get("/{campaign_id:str}")
    async def detail(
        self, request: Request[Any, Any, Any], campaign_id: CampaignId
    ) -> Response[Any]:
        user, merchant_id = await pages.acting_merchant(request)
        record = await _own(request, merchant_id, campaign_id)
        timeline = await _store(request).timeline(campaign_id)
        return _detail_page(request, user, merchant_id, record, timeline)

    @get("/{campaign_id:str}/cancel")
    async def confirm(
        self, request: Request[Any, Any, Any], campaign_id: CampaignId
    ) -> Response[Any]:
        """The confirmation step: what cancelling does, and a button that does it."""
        user, merchant_id = await pages.acting_merchant(request)
        record = await _own(request, merchant_id, campaign_id)
        if not words.cancellable(record.state):
            pages.flash(request, _not_cancellable(record), "error")
            return pages.see_other(f"/console/campaigns/{campaign_id}")
        return pages.render(
            request,
            "campaign_cancel.html",
            active="campaigns",
            user=user,
            merchant_id=merchant_id,
            c=words.summary(record),
            listings=[
                (words.label(i.channel), words.listing_words(i.status))
                for i in record.state.listings
                if i.status in LIVE_LISTINGS
            ],
        )

    @post("/{campaign_id:str}/cancel")
    async def cancel(
        self, request: Request[Any, Any, Any], campaign_id: CampaignId
    ) -> Response[Any]:
        """Cancel (the form is CSRF-checked by the middleware); back to the campaign."""
        _, merchant_id = await pages.acting_merchant(request)
        record = await _own(request, merchant_id, campaign_id)
        if not words.cancellable(record.state):
            pages.flash(request, _not_cancellable(record), "error")
            return pages.see_other(f"/console/campaigns/{campaign_id}")
        svc = pages.services(request)
        record = await campaigns.cancel_campaign(svc, campaign_id, campaigns.now_utc(svc))
        if record.state.final:
            pages.flash(request, f"The campaign is {record.state.status} already.", "error")
        else:
            pages.flash(
                request,
                "Cancel requested. The store price goes back and the listings are withdrawn; "
                "this page shows when that is done.",
            )
        return pages.see_other(f"/console/campaigns/{campaign_id}#status")


def _not_cancellable(record: CampaignRecord) -> str:
    state = record.state
    if state.final:
        return f"This campaign is {words.status_words(state).lower()}: there is nothing to cancel."
    return "This campaign is ending already."


def _detail_page(
    request: Request[Any, Any, Any],
    user: pages.ConsoleUser,
    merchant_id: str,
    record: CampaignRecord,
    timeline: list[Any],
) -> Response[Any]:
    state = record.state
    end = None
    if state.end is not None:
        end = {
            "reason": "cancelled on request" if state.end.reason == "cancelled" else "scheduled",
            "requested_at": state.end.requested_at,
            "verified_at": state.end.verified_at,
            "outstanding": [
                words.label(item) if item != "store price" else "the store price"
                for item in state.outstanding()
            ]
            if not state.final
            else [],
        }
    decision = record.decision
    return pages.render(
        request,
        "campaign.html",
        active="campaigns",
        user=user,
        merchant_id=merchant_id,
        c=words.summary(record),
        record=record,
        store_words=words.store_words(state),
        store=state.store,
        listings=[
            {
                "label": words.label(item.channel),
                "channel": item.channel,
                "sku": record.skus.get(item.channel, ""),
                "listing_id": item.external_listing_id,
                "status": item.status,
                "words": words.listing_words(item.status),
                "allocated": item.allocated_units,
                "sold": item.units_sold,
                "error": item.error,
            }
            for item in state.listings
        ],
        end=end,
        timeline=[words.timeline_line(e) for e in timeline],
        rule_id=decision.get("rule_id"),
        reasoning=decision.get("reasoning"),
        cancellable=words.cancellable(state),
    )
