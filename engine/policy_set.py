"""A loaded policy folder: every version of every policy, overrides and test cases.

Answers one question for evaluation: which policy version applies to this
merchant and request, and with which parameter values (and from where).
"""

from __future__ import annotations

from typing import Any

import msgspec

from engine.model import MerchantOverride, Policy, PolicyTests
from engine.types import DecisionError, EffectiveParam, ParamValue, Settings

DEFAULT_POLICY = "channel-routing"


class VersionInfo(msgspec.Struct, frozen=True):
    version: str
    sha256: str
    active: bool
    active_for: list[str]


class PolicySummary(msgspec.Struct, frozen=True):
    name: str
    active_version: str
    versions: list[VersionInfo]


class PolicySet(msgspec.Struct, frozen=True):
    policies: dict[str, dict[str, Policy]]
    active: dict[str, str]
    staged: dict[str, dict[str, str]]
    overrides: dict[str, MerchantOverride]
    tests: tuple[PolicyTests, ...] = ()

    def all_policies(self) -> list[Policy]:
        return [p for versions in self.policies.values() for p in versions.values()]

    def resolve(self, merchant_id: str, pinned: str | None = None) -> Policy:
        """The version for this merchant: request pin > override-file pin > staged > active."""
        override = self.overrides.get(merchant_id)
        name = override.policy if override else DEFAULT_POLICY
        versions = self.policies.get(name)
        if versions is None:
            raise DecisionError(f"no policy named {name!r} is loaded", "policy_version")
        version = (
            pinned
            or (override.policy_version if override else None)
            or self.staged.get(name, {}).get(merchant_id)
            or self.active[name]
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

    def summary(self) -> list[PolicySummary]:
        return [
            PolicySummary(
                name=name,
                active_version=self.active[name],
                versions=[
                    VersionInfo(p.version, p.sha256, p.active, sorted(p.active_for))
                    for p in versions.values()
                ],
            )
            for name, versions in sorted(self.policies.items())
        ]


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
