"""Request and response bodies of the HTTP API (docs/api.md).

Inputs forbid unknown fields; `DecideRequest`, `Decision` and `Settings` are
the engine's own Structs, so the engine and the API cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated

import msgspec

from connectors.ebay import MARKETPLACES as EBAY_MARKETPLACES
from engine.diff import DiffReport
from engine.types import END, TEXT_PATTERN, DecideRequest, Decision, Identifier, Settings

MAX_BATCH_ITEMS = 10_000

# Every text field refuses control characters (engine.types.TEXT_PATTERN).
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=TEXT_PATTERN)]
# OAuth codes and tokens are visible ASCII (RFC 6749 appendix A); they travel in headers.
TOKEN_PATTERN = r"^[\x21-\x7e]+" + END
Secret = Annotated[str, msgspec.Meta(min_length=1, max_length=4096, pattern=TOKEN_PATTERN)]
Short = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=TEXT_PATTERN)]


class Health(msgspec.Struct, frozen=True):
    status: str


class Readiness(msgspec.Struct, frozen=True):
    status: str
    checks: dict[str, str]


class CreateMerchant(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    merchant_id: Identifier
    name: Name
    settings: Settings | None = None


class EffectiveSettings(msgspec.Struct, frozen=True):
    """The settings a merchant has, with the API defaults filled in."""

    external_channels_enabled: bool
    enabled_external_channels: list[str]
    external_excluded_categories: list[str]

    @classmethod
    def of(cls, settings: Settings) -> EffectiveSettings:
        given = settings.given()
        return cls(
            external_channels_enabled=given.get("external_channels_enabled", True),
            enabled_external_channels=list(given.get("enabled_external_channels", [])),
            external_excluded_categories=list(given.get("external_excluded_categories", [])),
        )


class MerchantCreated(msgspec.Struct, frozen=True):
    merchant_id: str
    api_key: str
    settings: EffectiveSettings


class MerchantKey(msgspec.Struct, frozen=True):
    """A merchant's new API key (after a rotation); shown once."""

    merchant_id: str
    api_key: str


class DecideBatch(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    items: Annotated[list[DecideRequest], msgspec.Meta(min_length=1, max_length=MAX_BATCH_ITEMS)]


class DecisionBatch(msgspec.Struct, frozen=True):
    decisions: list[Decision]


def _one_of(names: Iterable[str]) -> str:
    return "^(" + "|".join(re.escape(n) for n in sorted(names)) + r")(?![\s\S])"


# As the Shopify connector checks them; `(?![\s\S])` ends the string (see TEXT_PATTERN).
SHOP_DOMAIN_PATTERN = r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9-]+)+(?![\s\S])"
SHOPIFY_API_VERSION_PATTERN = r"^([0-9]{4}-[0-9]{2}|unstable)(?![\s\S])"


Uri = Annotated[str, msgspec.Meta(min_length=1, max_length=2048, pattern=TOKEN_PATTERN)]
# Amazon ids appear in request paths: letters, digits and a few marks only.
AmazonId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9._-]{1,64}" + END)]


class EbayCredentials(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Connect an eBay account: exactly one of a code to exchange or a refresh token."""

    authorization_code: Secret | None = None
    refresh_token: Secret | None = None
    redirect_uri: Uri | None = None
    marketplace_id: Annotated[str, msgspec.Meta(pattern=_one_of(EBAY_MARKETPLACES))] | None = None


class AmazonCredentials(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Connect an Amazon seller: exactly one of a code to exchange or a refresh token."""

    seller_id: AmazonId
    authorization_code: Secret | None = None
    refresh_token: Secret | None = None
    redirect_uri: Uri | None = None
    marketplace_id: AmazonId | None = None


class ShopifyCredentials(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Connect the merchant's Shopify store with an Admin API access token."""

    shop_domain: Annotated[str, msgspec.Meta(max_length=255, pattern=SHOP_DOMAIN_PATTERN)]
    access_token: Secret
    api_version: Annotated[str, msgspec.Meta(pattern=SHOPIFY_API_VERSION_PATTERN)] | None = None


class ChannelCredentials(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Union of the fields of all channels, for callers that connect accounts in code
    (`server.accounts.credential_fields` checks one channel's set)."""

    authorization_code: Secret | None = None
    refresh_token: Secret | None = None
    redirect_uri: Uri | None = None
    marketplace_id: Short | None = None
    seller_id: Short | None = None
    shop_domain: Short | None = None
    access_token: Secret | None = None
    api_version: Annotated[str, msgspec.Meta(max_length=20, pattern=TEXT_PATTERN)] | None = None


class RuleHits(msgspec.Struct, frozen=True):
    rule_id: str
    hits: int
    file: str = ""
    line: int = 0


class VersionHits(msgspec.Struct, frozen=True):
    version: str
    loaded: bool
    decisions: int
    rules: list[RuleHits]
    # Rules of a loaded version that no decision in the window landed on.
    never_fired: list[str]


class MerchantHits(msgspec.Struct, frozen=True):
    merchant_id: str
    decisions: int
    rules: dict[str, dict[str, int]]  # version -> rule_id -> hits


class PolicyStats(msgspec.Struct, frozen=True):
    policy: str
    since: datetime
    until: datetime
    decisions: int
    versions: list[VersionHits]
    merchants: list[MerchantHits] | None = None


class ShadowReport(msgspec.Struct, frozen=True):
    policy: str
    since: datetime
    until: datetime
    # The shadow version loaded now, and the ones whose divergences the window holds.
    shadow_version: str | None
    shadow_versions_seen: list[str]
    report: DiffReport


# Campaigns (CONTRACT §4, docs/execution.md) ---------------------------------------------

MAX_CAMPAIGN_DAYS = 90  # `ends_at` at most this far ahead
MAX_PAGE = 200
# Timestamps in bodies carry their offset (RFC 3339): a naive time names no instant.
Instant = Annotated[datetime, msgspec.Meta(tz=True)]


class ExecuteRequest(DecideRequest, frozen=True, forbid_unknown_fields=True):
    """`POST /v1/execute`: a DecideRequest, plus the campaign's id and end if the caller
    chooses them (default: a generated id, and now + `proposal.duration_hours`)."""

    campaign_id: Identifier | None = None
    ends_at: Instant | None = None

    def decide_request(self) -> DecideRequest:
        """The DecideRequest part, as /v1/decide would take it."""
        return DecideRequest(
            merchant_id=self.merchant_id,
            product=self.product,
            proposal=self.proposal,
            overrides=self.overrides,
            policy_version=self.policy_version,
        )


class CampaignStorePrice(msgspec.Struct, frozen=True, omit_defaults=True):
    """The store price change: `price_before` once read, `error` when it failed."""

    status: str
    price_before: str | None = None
    error: str | None = None


class CampaignListing(msgspec.Struct, frozen=True):
    channel: str
    sku: str
    external_listing_id: str | None
    status: str
    allocated_units: int
    units_sold: int
    error: str | None = None


class CampaignEnd(msgspec.Struct, frozen=True):
    """The end once requested; `verified_at` once read back, `outstanding` what is left."""

    reason: str
    requested_at: datetime
    verified_at: datetime | None
    outstanding: list[str]


class CampaignEvent(msgspec.Struct, frozen=True):
    """One step or attempt on the campaign's timeline (never a secret)."""

    at: datetime
    step: str
    outcome: str
    attempt: int
    channel: str | None
    call: str
    detail: str | None


class ChannelStock(msgspec.Struct, frozen=True):
    """One channel's units on the store (docs/execution.md, "Stock holds"): `held` moved
    available -> reserved for it, `sold` left reserved as sold, `returned` went back to
    available; `reported_sold` is what the marketplace reports, `oversold` the part of it
    that no held unit covered."""

    channel: str
    held: int
    sold: int
    returned: int
    still_held: int
    reported_sold: int
    oversold: int


class CampaignStock(msgspec.Struct, frozen=True):
    """The campaign's units held off the store, in all and per channel; `reason` says why
    fewer were held than allocated; `conflicts` name moves someone else interfered with."""

    held: int
    sold: int
    returned: int
    still_held: int
    oversold: int
    channels: list[ChannelStock]
    reason: str | None = None
    conflicts: list[str] = []


class CampaignDrift(msgspec.Struct, frozen=True):
    """A difference between the campaign and what the store or a marketplace shows
    (docs/execution.md, "Drift"): found by the worker, never corrected silently."""

    at: datetime
    kind: str
    channel: str | None
    detail: str | None


class Campaign(msgspec.Struct, frozen=True):
    """CONTRACT §4's Campaign, with its timeline, its end and its listings' SKUs, and (issue
    11) its units held on the store (`stock`, null while nothing is held) and its `drift`."""

    campaign_id: str
    merchant_id: str
    status: str
    original_price: str | None
    clearance_price: str
    ends_at: datetime
    decision: Decision
    store: CampaignStorePrice
    listings: list[CampaignListing]
    end: CampaignEnd | None
    events: list[CampaignEvent]
    created_at: datetime
    updated_at: datetime
    stock: CampaignStock | None = None
    drift: list[CampaignDrift] = []


class CampaignPage(msgspec.Struct, frozen=True):
    """`GET /v1/campaigns`: newest first; `next_cursor` fetches the next page (null: no more).
    Listed campaigns leave `events` empty: `GET /v1/campaigns/{id}` gives the timeline."""

    campaigns: list[Campaign]
    next_cursor: str | None
