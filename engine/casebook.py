"""Run the policy test cases kept beside the policies (like `opa test`).

Each case is a DecideRequest (optionally with "settings") and the expected
rule, store units and per-channel allocation; reviewers of a policy change
read these cases, and `channel-router policy test` runs them.
"""

from __future__ import annotations

from typing import Any

import msgspec

from engine.evaluate import Engine
from engine.model import PolicyCase, PolicyTests
from engine.types import DecideRequest, Decision, DecisionError, Settings


class CaseResult(msgspec.Struct, frozen=True):
    file: str
    line: int
    name: str
    mismatches: list[str]

    @property
    def passed(self) -> bool:
        return not self.mismatches


def run_cases(engine: Engine) -> list[CaseResult]:
    """Every case of every test file in the engine's policy set, in file order."""
    return [_run(engine, tests, case) for tests in engine.policy_set.tests for case in tests.cases]


def case_request(tests: PolicyTests, case: PolicyCase) -> tuple[DecideRequest, Settings | None]:
    """The request and settings of one case (its file's version pinned, if it names one)."""
    raw = dict(case.request)
    settings_raw = raw.pop("settings", None)
    if tests.version is not None and "policy_version" not in raw:
        raw["policy_version"] = tests.version
    request = msgspec.convert(raw, DecideRequest)
    settings = msgspec.convert(settings_raw, Settings) if settings_raw is not None else None
    return request, settings


def _run(engine: Engine, tests: PolicyTests, case: PolicyCase) -> CaseResult:
    request, settings = case_request(tests, case)
    try:
        decision = engine.decide(request, settings)
    except DecisionError as exc:
        return CaseResult(case.file, case.line, case.name, [f"decision failed: {exc}"])
    return CaseResult(case.file, case.line, case.name, compare(case.expect, decision))


def compare(expect: dict[str, Any], decision: Decision) -> list[str]:
    """Human-readable differences between an expectation and a decision."""
    actual: dict[str, Any] = {
        "rule_id": decision.rule_id,
        "store_units": decision.store_units,
        "external_priority": decision.external_priority,
        "external": {a.channel: a.allocated_units for a in decision.external_channels},
    }
    out = [
        f"{key}: expected {expect[key]!r}, got {actual[key]!r}"
        for key in actual
        if key in expect and expect[key] != actual[key]
    ]
    wanted = expect.get("reasoning_contains")
    if wanted is not None and wanted not in decision.reasoning:
        out.append(f"reasoning: expected to contain {wanted!r}, got {decision.reasoning!r}")
    return out
