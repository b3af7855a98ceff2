"""Request and response bodies of the HTTP API (docs/api.md).

Inputs forbid unknown fields; `DecideRequest`, `Decision` and `Settings` are
the engine's own Structs, so the engine and the API cannot drift apart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from engine.diff import DiffReport
from engine.types import DecideRequest, Decision, Identifier, Settings

MAX_BATCH_ITEMS = 10_000

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Secret = Annotated[str, msgspec.Meta(min_length=1, max_length=4096)]
Short = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


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


class ChannelCredentials(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Union of the fields of the channels' credentials bodies (docs/api.md); each
    channel checks its own set (see `server.accounts`)."""

    authorization_code: Secret | None = None
    refresh_token: Secret | None = None
    redirect_uri: Annotated[str, msgspec.Meta(max_length=2048)] | None = None
    marketplace_id: Short | None = None
    seller_id: Short | None = None
    shop_domain: Short | None = None
    access_token: Secret | None = None
    api_version: Annotated[str, msgspec.Meta(max_length=20)] | None = None


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
