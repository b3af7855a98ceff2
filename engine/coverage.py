"""`policy test --coverage`: which rules and which comparisons the test cases exercise.

Like OPA's coverage, but per branch: every comparison of every rule that a
case evaluated (the rules before the match, and the match) counts as seen
true or seen false; a rule counts as covered when some case lands on it. The
score is (rules hit + comparison outcomes seen) / (rules + 2 x comparisons),
per policy version and overall.
"""

from __future__ import annotations

import msgspec

from engine.casebook import case_request
from engine.conditions import leaf_truth
from engine.evaluate import Engine, request_facts
from engine.lint import render
from engine.loader import iter_conditions
from engine.model import Policy
from engine.types import DecisionError


class BranchCount(msgspec.Struct, frozen=True):
    file: str
    line: int
    col: int
    rule_id: str
    text: str
    true: int
    false: int


class RuleCount(msgspec.Struct, frozen=True):
    file: str
    line: int
    rule_id: str
    hits: int


class VersionCoverage(msgspec.Struct, frozen=True):
    policy: str
    version: str
    file: str
    rules: list[RuleCount]
    branches: list[BranchCount]
    covered: int
    total: int

    @property
    def percent(self) -> float:
        return 100.0 * self.covered / self.total if self.total else 100.0


class Coverage(msgspec.Struct, frozen=True):
    versions: list[VersionCoverage]
    covered: int
    total: int

    @property
    def percent(self) -> float:
        return 100.0 * self.covered / self.total if self.total else 100.0


def measure(engine: Engine) -> Coverage:
    """Run every case of the engine's policy set and count what each exercised."""
    policy_set = engine.policy_set
    hits: dict[str, list[int]] = {}
    branches: dict[str, list[list[int]]] = {}
    tested: dict[str, Policy] = {}
    for tests in policy_set.tests:
        version = tests.version or policy_set.active.get(tests.policy)
        known = policy_set.policies.get(tests.policy, {})
        if version in known:
            tested.setdefault(known[version].sha256, known[version])
        for case in tests.cases:
            request, settings = case_request(tests, case)
            try:
                decision = engine.decide(request, settings, trace=False)
            except DecisionError:
                continue  # reported as a failed case by `policy test`
            policy = policy_set.policies[decision.policy.name][decision.policy.version]
            tested.setdefault(policy.sha256, policy)
            rule_hits = hits.setdefault(policy.sha256, [0] * len(policy.rules))
            seen = branches.setdefault(policy.sha256, _empty(policy))
            facts = request_facts(request)
            params = {name: p.value for name, p in decision.parameters.items()}
            index = next(i for i, r in enumerate(policy.rules) if r.id == decision.rule_id)
            rule_hits[index] += 1
            for i, rule in enumerate(policy.rules[: index + 1]):
                for j, leaf in enumerate(iter_conditions(rule.when)):
                    seen[i][2 * j + (0 if leaf_truth(leaf, False, facts, params) else 1)] += 1
    versions = [
        _version(p, hits.get(sha, [0] * len(p.rules)), branches.get(sha) or _empty(p))
        for sha, p in sorted(tested.items(), key=lambda kv: (kv[1].name, kv[1].version))
    ]
    return Coverage(versions, sum(v.covered for v in versions), sum(v.total for v in versions))


def _empty(policy: Policy) -> list[list[int]]:
    return [[0, 0] * len(list(iter_conditions(r.when))) for r in policy.rules]


def _version(policy: Policy, hits: list[int], seen: list[list[int]]) -> VersionCoverage:
    rules = [
        RuleCount(policy.file, rule.line, rule.id, n)
        for rule, n in zip(policy.rules, hits, strict=True)
    ]
    counts = [
        BranchCount(
            policy.file,
            leaf.line or rule.line,
            leaf.col or rule.col,
            rule.id,
            render(leaf),
            seen[i][2 * j],
            seen[i][2 * j + 1],
        )
        for i, rule in enumerate(policy.rules)
        for j, leaf in enumerate(iter_conditions(rule.when))
    ]
    covered = sum(1 for r in rules if r.hits) + sum((b.true > 0) + (b.false > 0) for b in counts)
    total = len(rules) + 2 * len(counts)
    return VersionCoverage(policy.name, policy.version, policy.file, rules, counts, covered, total)
