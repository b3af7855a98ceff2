"""`policy lint`: what a first-match policy does, found by reasoning over its conditions.

For each policy version (and again as each merchant override file changes its
parameters) the rules' input regions (engine.regions) are combined in file
order: rule k takes region(k) minus everything the rules before it took.

Findings, each with FILE:LINE:COL, a severity and a stable code:

| code | severity | what |
| --- | --- | --- |
| `masked` | error | a rule can never fire: earlier rules take all its inputs (named) |
| `never-holds` | error / warning | a condition can never hold (error when the whole rule is dead) |
| `always-holds` | warning | a comparison is true for every input |
| `gap` | info / error | inputs that reach the catch-all rule (error: no rule takes them) |
| `overlap` | info | two rules with different outcomes match a common input: order matters |
| `unused-param` | warning | a parameter (or an override of one) that no rule reads |
| `override-unreachable` | error | a merchant file's values make a rule unreachable |
| `schedule-past` | warning | a scheduled activation that has already happened |
| `schedule-pinned` | warning | a merchant pinned or staged elsewhere will not follow a schedule |
| `too-complex` | info | the analysis gave up on a policy (region too large) |

Loading problems (`policy validate`) are findings too, with their own codes
(`schedule-conflict`, `shadow-conflict`, `no-default-rule`) or `invalid`.
Every example input is checked against the real condition semantics
(engine.conditions) before it is shown.
"""

from __future__ import annotations

import ast
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

import msgspec

from engine.conditions import Check, compile_condition
from engine.evaluate import request_facts
from engine.model import (
    SETTINGS_PARAMS,
    All,
    Any_,
    Compare,
    Condition,
    Fact,
    Literal_,
    Member,
    MerchantOverride,
    Not,
    Operand,
    Param,
    Policy,
    Rule,
)
from engine.policy_set import Clock, PolicySet, rfc3339
from engine.problems import Problem
from engine.regions import (
    FREE_BOOL,
    Box,
    Env,
    Region,
    TooComplex,
    describe,
    meet,
    minus,
    region_of,
    sample,
    simplify,
)
from engine.types import DecideRequest, Settings

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")
MAX_GAP_REGIONS = 10


class Finding(msgspec.Struct, frozen=True, omit_defaults=True):
    """One thing a reviewer should know, at the YAML node to look at."""

    file: str
    line: int
    col: int
    severity: Severity
    code: str
    message: str
    policy: str = ""
    version: str = ""
    rule: str = ""
    # Requests as the CLI takes them (a DecideRequest, maybe with "settings").
    examples: list[dict[str, Any]] = []

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.severity} [{self.code}] {self.message}"


def lint(
    policy_set: PolicySet, problems: Sequence[Problem] = (), clock: Clock = time.time
) -> list[Finding]:
    """Every finding for a loaded set (engine.loader.load_for_review), sorted by place."""
    findings = [
        Finding(p.file, p.line, p.col, "error", p.code or "invalid", p.message) for p in problems
    ]
    for policy in policy_set.all_policies():
        base = _defaults(policy)
        findings += lint_policy(policy, base)
        findings += _unused(policy)
        for override in _overrides_of(policy_set, policy):
            findings += _lint_override(policy, base, override)
    findings += _lint_schedules(policy_set, clock)
    unique = {(f.file, f.line, f.col, f.code, f.message): f for f in findings}
    return sorted(
        unique.values(),
        key=lambda f: (f.file, f.line, f.col, SEVERITIES.index(f.severity), f.code, f.message),
    )


def _defaults(policy: Policy) -> dict[str, Any]:
    return {name: decl.default for name, decl in policy.params.items()}


# ---------------------------------------------------------------- first-match analysis


@dataclass
class Analysis:
    """The regions of one policy version under one set of parameter values."""

    policy: Policy
    params: dict[str, Any]
    regions: list[Region]  # what each rule's condition matches
    reach: list[Region]  # what each rule actually gets (first match)
    leftover: Region  # what no rule with a condition takes

    def masked(self, k: int) -> bool:
        return not self.reach[k]

    def takers(self, k: int) -> list[int]:
        """The earlier rules that take some of rule k's inputs."""
        return [j for j in range(k) if meet(self.regions[k], self.reach[j])]


def analyse(policy: Policy, params: Mapping[str, Any]) -> Analysis:
    """First-match regions of `policy` with these constant parameter values."""
    env = Env(params)
    regions = [region_of(rule.when, env) for rule in policy.rules]
    taken: Region = []
    reach: list[Region] = []
    for region in regions:
        reach.append(minus(region, taken))
        taken += region
    rules = policy.rules
    leftover = minus(
        [{}], [b for rule, r in zip(rules, regions, strict=True) if rule.when for b in r]
    )
    return Analysis(policy, dict(params), regions, reach, leftover)


class Router:
    """The rules of a policy as plain Python checks (engine.conditions): which rule an
    example request goes to, to verify every example before it is shown."""

    def __init__(self, policy: Policy, params: Mapping[str, Any]) -> None:
        self.policy = policy
        self.params = dict(params)
        self.checks: list[Check] = [compile_condition(r.when)[0] for r in policy.rules]

    def values(self, example: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
        raw = dict(example)
        settings = raw.pop("settings", {})
        try:
            request = msgspec.convert(raw, DecideRequest)
            given = msgspec.convert(settings, Settings).given()
        except msgspec.ValidationError:
            return None
        params = {**self.params, **given, **request.overrides}
        return request_facts(request), params

    def route(self, example: dict[str, Any]) -> int | None:
        """Index of the first rule the example matches; None if none (or invalid)."""
        values = self.values(example)
        if values is None:
            return None
        return next((i for i, check in enumerate(self.checks) if check(*values)), None)

    def matches(self, example: dict[str, Any], k: int) -> bool:
        values = self.values(example)
        return values is not None and self.checks[k](*values)

    def first_and_also(self, example: dict[str, Any], first: int, also: int) -> bool:
        """The example goes to rule `first` and matches rule `also` too."""
        return self.route(example) == first and self.matches(example, also)


def example_of(box: Box, env: Env, merchant_id: str = "example") -> dict[str, Any]:
    """A request (as the CLI takes them) inside `box`; free settings go in "settings"."""
    point = sample(box)
    product: dict[str, Any] = {
        "product_id": point.get("product_id", "example"),
        "title": point.get("title", "Example product"),
        "category": point.get("category", "Apparel"),
        "stock_quantity": point.get("stock_quantity", 0),
        "days_since_last_sale": point.get("days_since_last_sale", 0),
    }
    if "current_price" not in point:
        product["current_price"] = "49.99"
    elif point["current_price"] is not None:
        product["current_price"] = point["current_price"]
    proposal = {
        "proposed_price": point.get("proposed_price", "19.99"),
        "duration_hours": point.get("duration_hours", 168),
    }
    settings: dict[str, Any] = {}
    if f"param:{FREE_BOOL}" in point:
        settings[FREE_BOOL] = point[f"param:{FREE_BOOL}"]
    lists: dict[str, list[str]] = {}
    facts = {**product, **proposal}
    for var, truth in sorted(point.items()):
        if not var.startswith("atom:"):
            continue
        _realize(var[len("atom:") :], bool(truth), facts, lists)
    settings.update(lists)
    request: dict[str, Any] = {"merchant_id": merchant_id, "product": product, "proposal": proposal}
    if settings:
        request["settings"] = settings
    return request


def _realize(atom: str, truth: bool, facts: dict[str, Any], lists: dict[str, list[str]]) -> None:
    """Set up list settings so that the atom has the wanted truth (best effort; verified)."""

    def value(side: str) -> Any:
        if side in facts:
            return facts[side]
        if side in SETTINGS_PARAMS:
            return lists.setdefault(side, [])
        try:
            return ast.literal_eval(side)
        except (ValueError, SyntaxError):
            return side

    if " in " in atom:
        subject, listed = atom.split(" in ", 1)
        item = value(subject)
        target = lists.setdefault(listed, [])
        if truth and isinstance(item, str) and item not in target:
            target.append(item)
        elif not truth and item in target:
            target.remove(item)
        return
    left, right = atom.split(" == ", 1)
    free = [s for s in (left, right) if s in SETTINGS_PARAMS]
    if not free:
        return
    other = right if free[0] == left else left
    wanted = value(other)
    if truth:
        lists[free[0]] = list(wanted) if isinstance(wanted, list) else []
    else:
        lists[free[0]] = [*wanted, "x-other"] if isinstance(wanted, list) else ["x-other"]


def verified_example(
    region: Region,
    env: Env,
    ok: Callable[[dict[str, Any]], bool],
    merchant_id: str = "example",
) -> dict[str, Any] | None:
    """The first box's example that `ok` confirms, trying a few boxes."""
    for box in region[:20]:
        example = example_of(box, env, merchant_id)
        if ok(example):
            return example
    return None


# ---------------------------------------------------------------- one policy version


def lint_policy(
    policy: Policy, params: Mapping[str, Any], merchant_id: str = "example"
) -> list[Finding]:
    """Findings about the rules of one version with these parameter values."""
    try:
        analysis = analyse(policy, params)
    except TooComplex as exc:
        return [_at(policy, None, "info", "too-complex", f"not analysed: {exc}")]
    env = Env(params)
    router = Router(policy, params)
    out: list[Finding] = []
    rules = policy.rules
    for k, rule in enumerate(rules):
        if rule.when is None:
            continue
        if not analysis.regions[k]:
            out += _never_holds(policy, rule, env, whole=True)
            continue
        out += _never_holds(policy, rule, env, whole=False)
        if analysis.masked(k):
            names = ", ".join(f"'{rules[j].id}' (line {rules[j].line})" for j in analysis.takers(k))
            example = verified_example(
                analysis.regions[k], env, partial(router.matches, k=k), merchant_id
            )
            out.append(
                _at(
                    policy,
                    rule,
                    "error",
                    "masked",
                    f"rule '{rule.id}' can never fire: earlier rules take all its inputs: {names}",
                    [example] if example else [],
                )
            )
    out += _gaps(policy, analysis, env, router, merchant_id)
    for j, later in enumerate(rules):
        if later.when is None or analysis.masked(j):
            continue
        for i in range(j):
            if rules[i].outcome == later.outcome or not analysis.reach[i]:
                continue
            both = meet(analysis.reach[i], analysis.regions[j])
            if not both:
                continue
            example = verified_example(
                both,
                env,
                partial(router.first_and_also, first=i, also=j),
                merchant_id,
            )
            out.append(
                _at(
                    policy,
                    later,
                    "info",
                    "overlap",
                    f"rules '{rules[i].id}' (line {rules[i].line}) and '{later.id}' both match "
                    f"some inputs with different outcomes; '{rules[i].id}' wins because it "
                    f"comes first ({describe(simplify(both)[0])})",
                    [example] if example else [],
                )
            )
    return out


def _gaps(
    policy: Policy, analysis: Analysis, env: Env, router: Router, merchant_id: str
) -> list[Finding]:
    if not analysis.leftover:
        return []
    default = policy.rules[-1] if policy.rules[-1].when is None else None
    boxes = simplify(analysis.leftover)
    out = []
    target = len(policy.rules) - 1 if default else None
    for box in boxes[:MAX_GAP_REGIONS]:
        example = verified_example([box], env, lambda e: router.route(e) == target, merchant_id)
        where = describe(box)
        if default is not None:
            message = f"falls through to the catch-all rule '{default.id}': {where}"
            out.append(_at(policy, default, "info", "gap", message, [example] if example else []))
        else:
            message = f"no rule takes these inputs: {where}"
            out.append(
                _at(policy, policy.rules[-1], "error", "gap", message, [example] if example else [])
            )
    if len(boxes) > MAX_GAP_REGIONS:
        rule = default or policy.rules[-1]
        more = len(boxes) - MAX_GAP_REGIONS
        out.append(_at(policy, rule, "info", "gap", f"... and {more} more such regions"))
    return out


def _never_holds(policy: Policy, rule: Rule, env: Env, *, whole: bool) -> list[Finding]:
    """Conditions that can never hold (the culprit nodes), and comparisons always true."""
    out: list[Finding] = []

    def culprits(node: Condition) -> Iterator[Condition]:
        # The smallest parts that are impossible by themselves; else the node itself.
        children: tuple[Condition, ...] = ()
        if isinstance(node, All):
            children = node.children
        elif isinstance(node, Not):
            children = ()
        empty = [c for c in children if not region_of(c, env)]
        if empty:
            for child in empty:
                yield from culprits(child)
        else:
            yield node

    def walk(node: Condition) -> None:
        if not region_of(node, env):
            for culprit in culprits(node):
                out.append(
                    _node(
                        policy,
                        rule,
                        culprit,
                        "warning",
                        "never-holds",
                        f"this condition can never hold: {render(culprit, env)}",
                    )
                )
            return
        if isinstance(node, Compare | Member):
            if not region_of(node, env, negate=True):
                out.append(
                    _node(
                        policy,
                        rule,
                        node,
                        "warning",
                        "always-holds",
                        f"this comparison is true for every input: {render(node, env)}",
                    )
                )
            return
        for child in node.children if isinstance(node, All | Any_) else (node.child,):
            walk(child)

    assert rule.when is not None
    if whole:
        for culprit in culprits(rule.when):
            out.append(
                _node(
                    policy,
                    rule,
                    culprit,
                    "error",
                    "never-holds",
                    f"rule '{rule.id}' can never fire: this condition can never hold: "
                    f"{render(culprit, env)}",
                )
            )
        return out
    walk(rule.when)
    return out


def render(node: Condition, env: Env | None = None) -> str:
    """A condition in one line; with an Env, parameters are shown with their values."""
    if isinstance(node, Not):
        return f"not ({render(node.child, env)})"
    if isinstance(node, All | Any_):
        word = " and " if isinstance(node, All) else " or "
        return "(" + word.join(render(c, env) for c in node.children) + ")"
    symbol = ("not in" if node.negated else "in") if isinstance(node, Member) else _SYMBOL[node.op]
    return f"{_operand(node.subject, env)} {symbol} {_operand(node.operand, env)}"


_SYMBOL = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


def _operand(operand: Operand, env: Env | None) -> str:
    if isinstance(operand, Fact):
        return operand.name
    if isinstance(operand, Param):
        if env is None or env.free(operand):
            return operand.name
        return f"{operand.name} ({env.const(operand)!r})"
    assert isinstance(operand, Literal_)
    return repr(operand.value)


def _at(
    policy: Policy,
    rule: Rule | None,
    severity: Severity,
    code: str,
    message: str,
    examples: Sequence[dict[str, Any]] = (),
) -> Finding:
    line, col = (rule.line, rule.col) if rule else (1, 1)
    return Finding(
        policy.file,
        line,
        col,
        severity,
        code,
        message,
        policy.name,
        policy.version,
        rule.id if rule else "",
        list(examples),
    )


def _node(
    policy: Policy, rule: Rule, node: Condition, severity: Severity, code: str, message: str
) -> Finding:
    return Finding(
        policy.file,
        node.line or rule.line,
        node.col or rule.col,
        severity,
        code,
        message,
        policy.name,
        policy.version,
        rule.id,
    )


# ---------------------------------------------------------------- parameters and overrides


def used_params(policy: Policy) -> set[str]:
    """Parameters a rule's condition or outcome reads."""
    used: set[str] = set()

    def visit(node: Condition | None) -> None:
        if node is None:
            return
        if isinstance(node, All | Any_):
            for child in node.children:
                visit(child)
        elif isinstance(node, Not):
            visit(node.child)
        else:
            for operand in (node.subject, node.operand):
                if isinstance(operand, Param):
                    used.add(operand.name)

    for rule in policy.rules:
        visit(rule.when)
        if isinstance(rule.outcome.external_percent, Param):
            used.add(rule.outcome.external_percent.name)
    return used


def _unused(policy: Policy) -> list[Finding]:
    used = used_params(policy)
    return [
        Finding(
            policy.file,
            decl.line or 1,
            decl.col or 1,
            "warning",
            "unused-param",
            f"parameter {name!r} is declared but no rule reads it",
            policy.name,
            policy.version,
        )
        for name, decl in policy.params.items()
        if name not in SETTINGS_PARAMS and name not in used
    ]


def _overrides_of(policy_set: PolicySet, policy: Policy) -> list[MerchantOverride]:
    """Override files whose merchant this version can decide for."""
    out = []
    for override in policy_set.overrides.values():
        if override.policy != policy.name or not override.params:
            continue
        if override.policy_version is not None:
            if override.policy_version == policy.version:
                out.append(override)
        elif (
            policy.active
            or policy.active_from is not None
            or override.merchant_id in policy.active_for
        ):
            out.append(override)
    return out


def _lint_override(
    policy: Policy, base: dict[str, Any], override: MerchantOverride
) -> list[Finding]:
    params = {**base, **override.params}
    out: list[Finding] = []
    used = used_params(policy)
    for name in override.params:
        if name not in SETTINGS_PARAMS and name not in used:
            message = (
                f"{name} is overridden but no rule of {policy.name} version "
                f"{policy.version} reads it"
            )
            out.append(_in_override(override, name, policy, "warning", "unused-param", message))
    try:
        before, after = analyse(policy, base), analyse(policy, params)
    except TooComplex:
        return out
    for k, rule in enumerate(policy.rules):
        if rule.when is None or not after.masked(k) or before.masked(k):
            continue
        involved = _params_in(rule.when) | {
            p for j in after.takers(k) for p in _params_in(policy.rules[j].when)
        }
        changed = [n for n in override.params if n in involved] or list(override.params)
        values = ", ".join(f"{n}={override.params[n]!r}" for n in changed)
        if not after.regions[k]:
            why = "its condition can never hold"
        else:
            takers = after.takers(k)
            why = "earlier rules take all its inputs: " + ", ".join(
                f"'{policy.rules[j].id}'" for j in takers
            )
        out.append(
            _in_override(
                override,
                changed[0],
                policy,
                "error",
                "override-unreachable",
                f"with {values}, rule '{rule.id}' ({policy.file}:{rule.line}) of "
                f"{policy.name} version {policy.version} can never fire for merchant "
                f"{override.merchant_id!r}: {why}",
                rule.id,
            )
        )
    return out


def _params_in(node: Condition | None) -> set[str]:
    if node is None:
        return set()
    if isinstance(node, All | Any_):
        return set().union(*(_params_in(c) for c in node.children))
    if isinstance(node, Not):
        return _params_in(node.child)
    return {o.name for o in (node.subject, node.operand) if isinstance(o, Param)}


def _in_override(
    override: MerchantOverride,
    name: str,
    policy: Policy,
    severity: Severity,
    code: str,
    message: str,
    rule: str = "",
) -> Finding:
    line, col = override.param_at.get(name, (1, 1))
    return Finding(
        override.file, line, col, severity, code, message, policy.name, policy.version, rule
    )


# ---------------------------------------------------------------- schedules


def _lint_schedules(policy_set: PolicySet, clock: Clock) -> list[Finding]:
    """Schedules already past, and merchants a schedule will not reach (pinned or staged)."""
    now = clock()
    out: list[Finding] = []

    def warn(file: str, at: tuple[int, int], code: str, message: str, name: str, v: str) -> None:
        out.append(Finding(file, at[0], at[1], "warning", code, message, name, v))

    for name, timeline in policy_set.schedule.items():
        versions = policy_set.policies[name]
        for at, version in timeline:
            policy = versions[version]
            when = rfc3339(policy.active_from) if policy.active_from else ""
            if at <= now:
                message = (
                    f"version {version} took over at {when}; make it the active version "
                    "(active: true) and retire the old one"
                )
                where = policy.at.get("active_from", (1, 1))
                warn(policy.file, where, "schedule-past", message, name, version)
                continue
            for override in policy_set.overrides.values():
                pinned = override.policy_version
                if override.policy == name and pinned is not None and pinned != version:
                    message = (
                        f"merchant {override.merchant_id!r} is pinned to version {pinned} "
                        f"and will not take version {version} at {when}"
                    )
                    where = override.param_at.get("policy_version", (1, 1))
                    warn(override.file, where, "schedule-pinned", message, name, version)
            for merchant, staged in policy_set.staged.get(name, {}).items():
                if staged != version:
                    other = versions[staged]
                    message = (
                        f"merchant {merchant!r} is staged on version {staged} (active_for) "
                        f"and will not take version {version} at {when}"
                    )
                    where = other.at.get("active_for", (1, 1))
                    warn(other.file, where, "schedule-pinned", message, name, staged)
    return out
