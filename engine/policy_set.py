"""A loaded policy folder: every version of every policy, overrides and test cases.

Answers one question for evaluation: which policy version applies to this
merchant and request, and with which parameter values (and from where).
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import msgspec

from engine.model import MerchantOverride, Policy, PolicyTests
from engine.types import DecisionError, EffectiveParam, ParamValue, Settings

DEFAULT_POLICY = "channel-routing"


Clock = Callable[[], float]


class VersionInfo(msgspec.Struct, frozen=True):
    version: str
    sha256: str
    active: bool
    active_for: list[str]
    # RFC 3339 time at which this version takes over, if scheduled.
    active_from: str | None = None
    shadow: bool = False
    file: str = ""


class ScheduledVersion(msgspec.Struct, frozen=True):
    version: str
    active_from: str


class PolicySummary(msgspec.Struct, frozen=True):
    name: str
    # The version in force now (scheduled activations taken into account).
    active_version: str
    versions: list[VersionInfo]
    # Versions that take over later, soonest first.
    scheduled: list[ScheduledVersion] = []
    shadow_version: str | None = None


class PolicySet(msgspec.Struct, frozen=True):
    policies: dict[str, dict[str, Policy]]
    active: dict[str, str]
    staged: dict[str, dict[str, str]]
    overrides: dict[str, MerchantOverride]
    tests: tuple[PolicyTests, ...] = ()
    # policy -> ((unix time, version), ...) in time order: scheduled activations.
    schedule: dict[str, tuple[tuple[float, str], ...]] = {}
    # policy -> its shadow version (evaluated beside the active one).
    shadow: dict[str, str] = {}

    def all_policies(self) -> list[Policy]:
        return [p for versions in self.policies.values() for p in versions.values()]

    def active_version(self, name: str, clock: Clock = time.time) -> str:
        """The active version of `name` now: the latest schedule that has begun, else `active`.

        The clock is read only for a policy that has a schedule.
        """
        timeline = self.schedule.get(name)
        if timeline:
            started = bisect.bisect_right(timeline, (clock(), "\uffff"))
            if started:
                return timeline[started - 1][1]
        return self.active[name]

    def shadow_version(self, name: str, clock: Clock = time.time) -> str | None:
        """The shadow version of `name`, until it takes over by schedule (then None)."""
        version = self.shadow.get(name)
        if version is None:
            return None
        starts = self.policies[name][version].active_from
        if starts is not None and clock() >= starts.timestamp():
            return None
        return version

    def resolve(
        self, merchant_id: str, pinned: str | None = None, clock: Clock = time.time
    ) -> Policy:
        """The version for this merchant: request pin > override-file pin > staged > active now."""
        override = self.overrides.get(merchant_id)
        name = override.policy if override else DEFAULT_POLICY
        versions = self.policies.get(name)
        if versions is None:
            raise DecisionError(f"no policy named {name!r} is loaded", "policy_version")
        version = (
            pinned
            or (override.policy_version if override else None)
            or self.staged.get(name, {}).get(merchant_id)
            or self.active_version(name, clock)
        )
        policy = versions.get(version)
        if policy is None:
            loaded = ", ".join(sorted(versions))
            raise DecisionError(
                f"policy {name!r} has no version {version!r} (loaded: {loaded})", "policy_version"
            )
        return policy

    def base_params(self, policy: Policy, merchant_id: str) -> dict[str, EffectiveParam]:
        """Policy defaults with the merchant's override file on top."""
        params = {
            name: EffectiveParam(value=decl.default, source="policy")
            for name, decl in policy.params.items()
        }
        override = self.overrides.get(merchant_id)
        if override is not None and override.policy == policy.name:
            for name, value in override.params.items():
                if name in params:
                    params[name] = EffectiveParam(value=value, source="merchant_file")
        return params

    def summary(self, clock: Clock = time.time) -> list[PolicySummary]:
        """Each policy: what is active now, what is scheduled, every version."""
        now = clock()
        return [
            PolicySummary(
                name=name,
                active_version=self.active_version(name, lambda: now),
                versions=[
                    VersionInfo(
                        p.version,
                        p.sha256,
                        p.active,
                        sorted(p.active_for),
                        rfc3339(p.active_from) if p.active_from else None,
                        p.shadow,
                        p.source,
                    )
                    for p in versions.values()
                ],
                scheduled=[
                    ScheduledVersion(version, rfc3339(datetime.fromtimestamp(at, UTC)))
                    for at, version in self.schedule.get(name, ())
                    if at > now
                ],
                shadow_version=self.shadow_version(name, lambda: now),
            )
            for name, versions in sorted(self.policies.items())
        ]


def rfc3339(moment: datetime) -> str:
    """`2026-12-24T00:00:00Z`: UTC, seconds (and fractions only when there are any)."""
    text = moment.astimezone(UTC).isoformat()
    return text.removesuffix("+00:00") + "Z"


def layer_params(
    base: dict[str, EffectiveParam],
    settings: Settings | None,
    overrides: dict[str, ParamValue],
    check: Any,
) -> dict[str, EffectiveParam]:
    """Settings over `base`, request overrides over both; `check(name, value)` vets overrides."""
    params = dict(base)
    if settings is not None:
        for name, value in settings.given().items():
            params[name] = EffectiveParam(value=value, source="settings")
    for name, value in overrides.items():
        problem = check(name, value)
        if problem:
            raise DecisionError(problem, f"overrides.{name}")
        params[name] = EffectiveParam(value=value, source="request")
    return params
