"""What the campaign pages say: statuses, the store price, listings and the timeline in
plain words, and the list's keyset cursor. Pure functions of a stored campaign, so the
wording is tested for every input without a page (tests/console/test_console_campaign_words.py).

Step and status names come from the execution code; a name this module does not know yet
is still shown (spelled out), never dropped or an error.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from execution.states import STATUSES, CampaignState, CampaignStatus
from execution.store import CampaignRecord, TimelineEntry

CHANNEL_LABELS = {"ebay": "eBay", "amazon": "Amazon", "shopify": "Shopify", "store": "the store"}

STATUS_WORDS: dict[str, str] = {
    "pending": "Pending",
    "executing": "Starting",
    "active": "Running",
    "failed": "Failed",
    "completed": "Completed",
    "cancelled": "Cancelled",
}

# What the store price is, by StoreState.status.
STORE_WORDS: dict[str, str] = {
    "pending": "not changed yet",
    "setting": "being changed to the clearance price",
    "applied": "the clearance price is on the store",
    "failed": "could not be set",
    "skipped": "never changed (the campaign ended first)",
    "reverted": "back to the price before",
    "kept": "kept: changed by hand during the campaign, so the end left it alone",
}

LISTING_WORDS: dict[str, str] = {
    "pending": "not listed yet",
    "submitted": "accepted, not buyable yet",
    "active": "live",
    "failed": "failed",
    "rejected": "refused by the marketplace",
    "skipped": "never listed",
    "ended": "ended",
}

# Timeline steps, as execution/jobs.py and execution/crons.py record them (`-` and `_` are
# the same here), and what they do; `{where}` is the channel's name.
STEP_WORDS: dict[str, str] = {
    "start_campaign": "Starting the campaign",
    "store_price": "Setting the store price",
    "list": "Listing on {where}",
    "list_on_channel": "Listing on {where}",
    "refresh": "Checking the listing on {where}",
    "sales": "Fetching sales from {where}",
    "sold_out": "Ending the sold-out listing on {where}",
    "end": "Ending the campaign",
    "end_campaign": "Ending the campaign",
    "revert_price": "Putting the store price back",
    "withdraw": "Withdrawing the listing on {where}",
    "sweep": "Overdue check",
}

OUTCOME_WORDS: dict[str, str] = {
    "started": "started",
    "ok": "done",
    "retry": "did not work, will try again",
    "failed": "failed",
    "skipped": "skipped",
    "info": "",
}

PAGE_SIZE = 20


def label(channel: str | None) -> str:
    """A channel's name as merchants know it."""
    if not channel:
        return ""
    return CHANNEL_LABELS.get(channel, channel)


def spelled(name: str) -> str:
    """An unknown machine name made readable: `store_price` -> `Store price`."""
    text = " ".join(name.replace("_", " ").replace("-", " ").split())
    return text[:1].upper() + text[1:] if text else "Step"


def status_words(state: CampaignState) -> str:
    """The status a merchant reads; a campaign asked to end says so until it has ended."""
    base = STATUS_WORDS.get(state.status, spelled(state.status))
    if state.end is not None and not state.final:
        return "Cancelling" if state.end.reason == "cancelled" else "Ending"
    return base


def store_words(state: CampaignState) -> str:
    return STORE_WORDS.get(state.store.status, spelled(state.store.status))


def listing_words(status: str) -> str:
    return LISTING_WORDS.get(status, spelled(status))


def cancellable(state: CampaignState) -> bool:
    """A running campaign not yet asked to end can be cancelled."""
    return not state.final and state.end is None


@dataclass(frozen=True)
class TimelineLine:
    at: datetime
    words: str  # "Listing on eBay: failed (attempt 2)"
    detail: str | None  # the marketplace's message, shown as it came
    call: str  # the connector call, e.g. "ebay create_listing"
    kind: str  # "ok", "bad", "retry" or "info": how the line is marked


def timeline_line(entry: TimelineEntry) -> TimelineLine:
    """One timeline row in plain words: what was done, where, and how it went."""
    known = STEP_WORDS.get(entry.step.replace("-", "_"))
    where = label(entry.channel) or "the channel"
    if known is None:
        what = spelled(entry.step) + (f" ({where})" if entry.channel else "")
    elif "{where}" in known:
        what = known.format(where=where)
    else:
        what = known + (f" ({where})" if entry.channel else "")
    outcome = OUTCOME_WORDS.get(entry.outcome, spelled(entry.outcome).lower())
    words = f"{what}: {outcome}" if outcome else what
    if entry.attempt > 1:
        words += f" (attempt {entry.attempt})"
    kind = {"ok": "ok", "failed": "bad", "retry": "retry"}.get(entry.outcome, "info")
    return TimelineLine(
        at=entry.at, words=words, detail=entry.detail or None, call=entry.call, kind=kind
    )


def price_before(record: CampaignRecord) -> str | None:
    """The store price before the campaign: read from the store, else the price the request
    gave (until the store step ran), else None."""
    if record.state.store.price_before is not None:
        return record.state.store.price_before
    product = record.request.get("product") or {}
    given = product.get("current_price")
    return str(given) if given is not None else None


def product_name(record: CampaignRecord) -> str:
    product = record.request.get("product") or {}
    return str(product.get("title") or product.get("product_id") or record.product_id)


def units(record: CampaignRecord) -> list[tuple[str, int, int]]:
    """(where, allocated, sold) for the store and each channel, store first."""
    store_units = record.decision.get("store_units")
    rows = []
    if isinstance(store_units, int):
        rows.append(("Store", store_units, 0))
    rows += [(label(i.channel), i.allocated_units, i.units_sold) for i in record.state.listings]
    return rows


def parse_status(raw: str | None) -> CampaignStatus | None:
    """The filter's status; None for all; ValueError for a value that is not a status."""
    if not raw:
        return None
    for status in STATUSES:
        if raw == status:
            return status
    raise ValueError(raw)


def cursor(record: CampaignRecord) -> str:
    """The `older` link's value after `record`: opaque, URL-safe."""
    at = record.created_at
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    raw = json.dumps([at.isoformat(), record.campaign_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_cursor(value: str) -> tuple[datetime, str]:
    """(created_at, campaign_id) of a cursor; ValueError for anything this module did not make."""
    if len(value) > 400:
        raise ValueError("cursor too long")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        at_text, campaign_id = json.loads(raw)
        at = datetime.fromisoformat(at_text)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise ValueError("not a cursor") from exc
    if not isinstance(campaign_id, str) or at.tzinfo is None:
        raise ValueError("not a cursor")
    return at, campaign_id


def summary(record: CampaignRecord) -> dict[str, Any]:
    """What the list shows of one campaign."""
    state = record.state
    return {
        "id": record.campaign_id,
        "product": product_name(record),
        "status": state.status,
        "status_words": status_words(state),
        "before": price_before(record),
        "after": state.clearance_price,
        "kept": state.store.status == "kept",
        "units": units(record),
        "ends_at": state.ends_at,
        "created_at": record.created_at,
    }
