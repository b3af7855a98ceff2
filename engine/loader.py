"""Load a policy folder: YAML -> schema -> model, checking everything in one pass.

Folder layout (any depth below the root):
- `merchants/<merchant_id>.yaml`: per-merchant override files;
- `tests/*.yaml`: policy test cases;
- every other `*.yaml` / `*.yml`: one version of one policy.

Every problem is collected, never just the first, and each names the file, line
and column of the YAML node to change. A set either loads whole or raises.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from engine.model import (
    FACT_TYPES,
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
    Outcome,
    Param,
    ParamDecl,
    ParamType,
    Policy,
    PolicyCase,
    PolicyTests,
    Rule,
)
from engine.policy_set import PolicySet
from engine.problems import PolicyProblems, Problem
from engine.schemas import FileKind, schema_errors
from engine.types import DecideRequest, ParamValue, Settings
from engine.yamlmarks import Marked, YamlError, load_marked
from engine.yamlmarks import Path as NodePath

YAML_SUFFIXES = (".yaml", ".yml")
MERCHANT_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
MERCHANT_RULE = "1 to 64 letters, digits, '.', '_' or '-'"
COMPARE_OPS = ("eq", "ne", "lt", "le", "gt", "ge")
ORDERING_OPS = ("lt", "le", "gt", "ge")


def load_policy_dir(path: Path | str) -> PolicySet:
    """Load every file under a policy folder into a PolicySet, or raise PolicyProblems."""
    return load_paths([Path(path)])


def load_paths(paths: Iterable[Path]) -> PolicySet:
    """Load files and folders as one set (`policy validate PATH...`), or raise PolicyProblems.

    A file's kind comes from the folder it sits in below the folder given:
    `merchants/` holds override files, `tests/` policy test cases, anything
    else is a policy. A file given by itself is judged by its parent's name.
    """
    builder = _read(paths)
    policy_set = builder.assemble()
    if builder.problems:
        raise PolicyProblems(builder.problems)
    return policy_set


def load_for_review(paths: Iterable[Path]) -> tuple[PolicySet, list[Problem]]:
    """Everything that loads, plus every problem, without raising (`policy lint`).

    A policy whose only problem is a missing catch-all rule still loads here, so
    lint can show the inputs that no rule takes.
    """
    builder = _read(paths)
    policy_set = builder.assemble()
    return policy_set, sorted(set(builder.problems))


def _read(paths: Iterable[Path]) -> _SetBuilder:
    builder = _SetBuilder([])
    for path in paths:
        if path.is_dir():
            for file, problem in policy_files(path):
                if problem is not None:
                    builder.problems.append(Problem(str(file), 1, 1, problem))
                    continue
                relative = file.relative_to(path)
                parents = relative.parts[:-1]
                source = str(Path(path.resolve().name) / relative)
                builder.add_file(file, _kind_of(parents[-1] if parents else ""), source)
        elif path.is_file():
            source = str(path) if not path.is_absolute() else f"{path.parent.name}/{path.name}"
            builder.add_file(path, _kind_of(path.parent.name), source)
        else:
            builder.problems.append(Problem(str(path), 1, 1, "no such file or folder"))
    return builder


def policy_files(root: Path) -> Iterator[tuple[Path, str | None]]:
    """Every YAML file under `root`, in order, with the reason it cannot be read (or None).

    Symbolic links are read only when they stay inside the folder: a link that
    leaves it is reported and never opened, so nothing outside the policy folder
    is read or shown. Links to folders are not followed (they are reported).
    """
    base = Path(os.path.realpath(root))
    found: list[tuple[Path, str | None]] = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        here = Path(folder)
        for name in dirs:
            entry = here / name
            if entry.is_symlink():
                found.append((entry, "a symbolic link to a folder; it is not followed"))
            elif entry.suffix in YAML_SUFFIXES:
                found.append((entry, "a folder, not a YAML file"))
        for name in files:
            entry = here / name
            if entry.suffix in YAML_SUFFIXES:
                found.append((entry, _unreadable(entry, base)))
    yield from sorted(found, key=lambda item: str(item[0]))


def _unreadable(file: Path, base: Path) -> str | None:
    if not file.is_symlink():
        return None
    target = Path(os.path.realpath(file))
    if not target.is_relative_to(base):
        return "a symbolic link that leaves the policy folder; it is not read"
    if not target.exists():
        return "a symbolic link to a file that does not exist"
    if target.is_dir():
        return "a symbolic link to a folder, not a YAML file"
    return None


def _kind_of(folder: str) -> FileKind:
    if folder == "merchants":
        return "merchant-override"
    if folder == "tests":
        return "policy-test"
    return "policy"


class _FileContext:
    """A file being loaded: its marks and the problems found in it."""

    def __init__(self, name: str, doc: Marked, problems: list[Problem]) -> None:
        self.name = name
        self.doc = doc
        self._problems = problems

    def problem(self, path: NodePath, message: str, code: str = "") -> None:
        line, col = self.doc.where(path)
        self._problems.append(Problem(self.name, line, col, message, code))

    @property
    def count(self) -> int:
        return len(self._problems)


class _SetBuilder:
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        self.policies: list[tuple[Policy, _FileContext]] = []
        self.overrides: list[tuple[MerchantOverride, _FileContext]] = []
        self.tests: list[tuple[PolicyTests, _FileContext]] = []
        # Policies whose own file has problems: files referring to them say nothing more.
        self.broken: set[str] = set()

    def add_file(self, file: Path, kind: FileKind, source: str = "") -> None:
        name = str(file)
        try:
            raw = file.read_bytes()
        except OSError as exc:
            self.problems.append(Problem(name, 1, 1, f"cannot be read: {exc.strerror or exc}"))
            return
        try:
            self._add(file, kind, raw, source)
        except RecursionError:
            self.problems.append(Problem(name, 1, 1, "nested too deeply to be checked"))

    def _add(self, file: Path, kind: FileKind, raw: bytes, source: str) -> None:
        name = str(file)
        try:
            text = raw.decode("utf-8")
            doc = load_marked(text)
        except UnicodeDecodeError as exc:
            self.problems.append(Problem(name, 1, 1, f"not UTF-8 text: {exc.reason}"))
            return
        except YamlError as exc:
            self.problems.append(Problem(name, exc.line, exc.col, str(exc)))
            return
        ctx = _FileContext(name, doc, self.problems)
        errors = schema_errors(kind, doc)
        for line, col, message in errors:
            self.problems.append(Problem(name, line, col, message))
        if kind == "policy" and (errors or doc.data is None):
            if isinstance(doc.data, dict) and isinstance(doc.data.get("policy"), str):
                self.broken.add(doc.data["policy"])
            return
        if errors:
            return
        if kind == "policy":
            policy = _build_policy(ctx, hashlib.sha256(raw).hexdigest(), source or name)
            if policy is not None:
                self.policies.append((policy, ctx))
            if policy is None or policy.rules[-1].when is not None:
                self.broken.add(doc.data["policy"])
        elif kind == "merchant-override":
            # The file name names the merchant; merchant_id, when given, must agree with it.
            data = {"merchant_id": file.stem, **doc.data}
            if data["merchant_id"] != file.stem:
                ctx.problem(("merchant_id",), f"merchant_id must match the file name {file.stem!r}")
            elif not MERCHANT_ID.fullmatch(file.stem):
                ctx.problem((), f"file name {file.stem!r} is not a merchant id ({MERCHANT_RULE})")
            at = {p: doc.key_where(("params", p)) for p in data.get("params", {})}
            at["policy_version"] = doc.key_where(("policy_version",))
            override = msgspec.convert({**data, "file": name}, MerchantOverride)
            self.overrides.append((msgspec.structs.replace(override, param_at=at), ctx))
        else:
            self.tests.append((_build_tests(ctx), ctx))

    def assemble(self) -> PolicySet:
        """The set from every file that loaded; problems found on the way are recorded."""
        by_name: dict[str, dict[str, Policy]] = {}
        for policy, ctx in self.policies:
            versions = by_name.setdefault(policy.name, {})
            if policy.version in versions:
                other = versions[policy.version].file
                ctx.problem(("version",), f"version {policy.version!r} is also defined in {other}")
                continue
            versions[policy.version] = policy
        active: dict[str, str] = {}
        staged: dict[str, dict[str, str]] = {}
        ctx_of = {id(p): c for p, c in self.policies}
        for name, versions in by_name.items():
            if name in self.broken:
                continue
            actives = [p for p in versions.values() if p.active]
            if len(actives) != 1:
                for p in actives[1:] or list(versions.values())[:1]:
                    ctx_of[id(p)].problem(
                        ("active",) if actives else ("version",),
                        f"policy {name!r} needs exactly one active version, found {len(actives)}"
                        + (" (" + ", ".join(a.version for a in actives) + ")" if actives else ""),
                    )
            else:
                active[name] = actives[0].version
            for p in versions.values():
                for i, merchant in enumerate(p.active_for):
                    where = ("active_for", i)
                    if p.active:
                        ctx_of[id(p)].problem(where, "active_for is for versions not yet active")
                    elif merchant in staged.setdefault(name, {}):
                        ctx_of[id(p)].problem(
                            where,
                            f"merchant {merchant!r} is already staged on version "
                            f"{staged[name][merchant]!r}",
                        )
                    else:
                        staged[name][merchant] = p.version
        overrides: dict[str, MerchantOverride] = {}
        for override, ctx in self.overrides:
            if override.policy not in self.broken:
                _check_override(override, ctx, by_name, active, staged)
            overrides[override.merchant_id] = override
        for tests, ctx in self.tests:
            if tests.policy not in self.broken:
                _check_tests(tests, ctx, by_name, active)
        schedule, shadow = _schedules(by_name, ctx_of)
        return PolicySet(
            policies=by_name,
            active=active,
            staged=staged,
            overrides=overrides,
            tests=tuple(t for t, _ in self.tests),
            schedule=schedule,
            shadow=shadow,
        )


def _schedules(
    by_name: dict[str, dict[str, Policy]], ctx_of: dict[int, _FileContext]
) -> tuple[dict[str, tuple[tuple[float, str], ...]], dict[str, str]]:
    """Scheduled activations (time-ordered) and the shadow version of each policy.

    Conflicts are problems of the file that causes them: two versions taking
    over at the same instant, a schedule on the active version, a shadow
    version that is also active or staged, two shadow versions of one policy.
    """
    schedule: dict[str, tuple[tuple[float, str], ...]] = {}
    shadow: dict[str, str] = {}
    for name, versions in by_name.items():
        at: dict[float, str] = {}
        for p in versions.values():
            ctx = ctx_of[id(p)]
            if p.active_from is not None:
                when = p.active_from.timestamp()
                if p.active:
                    ctx.problem(
                        ("active_from",),
                        "active_from is for versions not yet active; this one has active: true",
                        "schedule-conflict",
                    )
                elif when in at:
                    ctx.problem(
                        ("active_from",),
                        f"version {at[when]!r} of {name!r} also takes over at "
                        f"{p.active_from.isoformat()}: which one is active then?",
                        "schedule-conflict",
                    )
                else:
                    at[when] = p.version
            if p.shadow:
                if p.active or p.active_for:
                    ctx.problem(
                        ("shadow",),
                        "a shadow version is evaluated beside the active one and decides "
                        "nothing: it cannot be active or staged",
                        "shadow-conflict",
                    )
                elif name in shadow:
                    ctx.problem(
                        ("shadow",),
                        f"policy {name!r} already has shadow version {shadow[name]!r}",
                        "shadow-conflict",
                    )
                else:
                    shadow[name] = p.version
        if at:
            schedule[name] = tuple(sorted(at.items()))
    return schedule, shadow


# ---------------------------------------------------------------- policies


def _build_policy(ctx: _FileContext, sha256: str, source: str) -> Policy | None:
    data = ctx.doc.data
    before = ctx.count
    params: dict[str, ParamDecl] = {}
    for pname, (ptype, default) in SETTINGS_PARAMS.items():
        params[pname] = ParamDecl(type=ptype, default=default)
    for pname, decl in data["params"].items():
        line, col = ctx.doc.key_where(("params", pname))
        param = msgspec.structs.replace(msgspec.convert(decl, ParamDecl), line=line, col=col)
        if pname in SETTINGS_PARAMS and param.type != SETTINGS_PARAMS[pname][0]:
            ctx.problem(
                ("params", pname, "type"),
                f"{pname} is a merchant setting and must have type {SETTINGS_PARAMS[pname][0]}",
            )
        problem = param_value_problem(param, param.default)
        if problem:
            ctx.problem(("params", pname, "default"), f"default of {pname}: {problem}")
        params[pname] = param
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    rules_data = data["rules"]
    for i, rule in enumerate(rules_data):
        path: NodePath = ("rules", i)
        if rule["id"] in seen:
            ctx.problem(
                (*path, "id"),
                f"duplicate rule id {rule['id']!r} (first at rule {seen[rule['id']] + 1})",
            )
        seen.setdefault(rule["id"], i)
        when = None
        if "when" in rule:
            when = _condition(ctx, rule["when"], (*path, "when"), params)
        elif i != len(rules_data) - 1:
            ctx.problem(
                (*path, "id"),
                f"rule {rule['id']!r} has no 'when' and matches everything, "
                "so the rules after it can never match",
            )
        line, col = ctx.doc.where(path)
        rules.append(
            Rule(
                id=rule["id"],
                reason=rule["reason"],
                when=when,
                outcome=_outcome(ctx, rule["outcome"], (*path, "outcome"), params),
                line=line,
                col=col,
            )
        )
    active_from = _time(ctx, data.get("active_from"), ("active_from",))
    if ctx.count > before:
        return None
    if "when" in rules_data[-1]:
        # Not counted above: `policy lint` still analyses such a policy to show
        # the inputs no rule takes (engine.lint, code "gap").
        ctx.problem(
            ("rules", len(rules_data) - 1, "when"),
            "the last rule must have no 'when' so that every product matches some rule",
            "no-default-rule",
        )
    return Policy(
        name=data["policy"],
        version=data["version"],
        sha256=sha256,
        file=ctx.name,
        active=data.get("active", False),
        active_for=tuple(data.get("active_for", ())),
        params=params,
        rules=tuple(rules),
        description=data.get("description", ""),
        source=source,
        shadow=data.get("shadow", False),
        active_from=active_from,
        at={key: ctx.doc.key_where((key,)) for key in data},
    )


def _time(ctx: _FileContext, raw: str | None, path: NodePath) -> datetime | None:
    """An RFC 3339 time (the schema checked its shape), or None; a problem if impossible."""
    if raw is None:
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError as exc:
        ctx.problem(path, f"active_from: {exc}")
        return None


# Numbers the rules engine reads exactly: durable-rules caps integers at int64 and
# cannot parse floats that Python writes with an exponent (1e-05, 1e+16).
NUMBER_MIN_MAGNITUDE = 0.0001
NUMBER_MAX_MAGNITUDE = 10**15


def number_problem(value: float) -> str | None:
    """Why a number is outside the engine's domain (0, or 0.0001..1e15 in size), or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value!r} is not a finite number"
    if value != 0 and not NUMBER_MIN_MAGNITUDE <= abs(value) <= NUMBER_MAX_MAGNITUDE:
        return f"{value!r} is out of range: numbers are 0 or between 0.0001 and 1e15 in size"
    return None


def param_value_problem(decl: ParamDecl, value: Any) -> str | None:
    """Why `value` does not fit the parameter declaration, or None if it does."""
    if not _fits(decl.type, value):
        return f"expected {decl.type}, got {value!r}"
    if decl.type in ("integer", "number"):
        out_of_range = number_problem(value)
        if out_of_range:
            return out_of_range
        if decl.minimum is not None and value < decl.minimum:
            return f"{value!r} is below the minimum {decl.minimum:g}"
        if decl.maximum is not None and value > decl.maximum:
            return f"{value!r} is above the maximum {decl.maximum:g}"
    return None


def _fits(ptype: ParamType, value: Any) -> bool:
    if ptype == "boolean":
        return isinstance(value, bool)
    if ptype == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if ptype == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if ptype == "string":
        return isinstance(value, str)
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _kind(ptype: ParamType) -> str:
    return {"integer": "number", "number": "number"}.get(ptype, ptype)


def _literal_type(value: ParamValue) -> ParamType:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "string_list"


def _operand(
    ctx: _FileContext, raw: Any, path: NodePath, params: dict[str, ParamDecl], *, subject: str = ""
) -> tuple[Operand, ParamType | None]:
    if isinstance(raw, dict) and "param" in raw:
        name = raw["param"]
        if name not in params:
            ctx.problem(
                (*path, "param") if subject != "subject" else path, f"unknown parameter {name!r}"
            )
            return Param(name), None
        return Param(name), params[name].type
    if subject == "fact":
        if raw not in FACT_TYPES:
            ctx.problem(path, f"unknown fact {raw!r}; known facts: {', '.join(FACT_TYPES)}")
            return Fact(str(raw)), None
        return Fact(raw), FACT_TYPES[raw]
    literal_type = _literal_type(raw)
    if literal_type == "number" and (problem := number_problem(raw)):
        ctx.problem(path, problem)
    return Literal_(raw), literal_type


def _condition(
    ctx: _FileContext, raw: dict[str, Any], path: NodePath, params: dict[str, ParamDecl]
) -> Condition:
    line, col = ctx.doc.where(path)
    if "all" in raw:
        return All(
            tuple(_condition(ctx, c, (*path, "all", i), params) for i, c in enumerate(raw["all"])),
            line,
            col,
        )
    if "any" in raw:
        return Any_(
            tuple(_condition(ctx, c, (*path, "any", i), params) for i, c in enumerate(raw["any"])),
            line,
            col,
        )
    if "not" in raw:
        return Not(_condition(ctx, raw["not"], (*path, "not"), params), line, col)
    if "fact" in raw:
        subject, stype = _operand(ctx, raw["fact"], (*path, "fact"), params, subject="fact")
    else:
        subject, stype = _operand(
            ctx, {"param": raw["param"]}, (*path, "param"), params, subject="subject"
        )
    op = next(k for k in raw if k not in ("fact", "param"))
    at: NodePath = (*path, op)
    label = _label(subject)
    if op in ("in", "not_in"):
        operand, otype = _operand(ctx, raw[op], at, params)
        if otype is not None and otype != "string_list":
            ctx.problem(at, f"'{op}' needs a list, got {otype}")
        elif stype is not None and stype != "string":
            ctx.problem(at, f"'{op}' tests a string, but {label} is {stype}")
        return Member(subject, operand, negated=op == "not_in", line=line, col=col)
    if op == "between":
        low, ltype = _operand(ctx, raw[op][0], (*at, 0), params)
        high, htype = _operand(ctx, raw[op][1], (*at, 1), params)
        for t, i in ((stype, None), (ltype, 0), (htype, 1)):
            if t is not None and _kind(t) != "number":
                ctx.problem(at if i is None else (*at, i), f"'between' compares numbers, got {t}")
        return All(
            (Compare(subject, "ge", low, line, col), Compare(subject, "le", high, line, col)),
            line,
            col,
        )
    operand, otype = _operand(ctx, raw[op], at, params)
    if stype is not None and otype is not None:
        if op in ORDERING_OPS and _kind(stype) != "number":
            ctx.problem(at, f"'{op}' orders numbers, but {label} is {stype}")
        elif _kind(stype) != _kind(otype):
            ctx.problem(at, f"cannot compare {label} ({stype}) with {otype}")
    return Compare(subject, op, operand, line, col)  # type: ignore[arg-type]  # schema: op is a CompareOp


def _outcome(
    ctx: _FileContext, raw: dict[str, Any], path: NodePath, params: dict[str, ParamDecl]
) -> Outcome:
    if raw["route"] == "store_only":
        return Outcome(external=False)
    at: NodePath = (*path, "external_percent")
    percent, ptype = _operand(ctx, raw["external_percent"], at, params)
    if isinstance(percent, Literal_):
        value = percent.value
        if ptype != "number" or not 0 <= value <= 100:  # type: ignore[operator]
            ctx.problem(at, f"external_percent must be a number from 0 to 100, got {value!r}")
    elif isinstance(percent, Param) and ptype is not None:
        decl = params[percent.name]
        if _kind(ptype) != "number":
            ctx.problem(at, f"external_percent parameter {percent.name!r} must be a number")
        elif param_value_problem(decl, decl.default) is None and not 0 <= decl.default <= 100:  # type: ignore[operator]
            ctx.problem(
                ("params", percent.name, "default"),
                f"{percent.name} is a percentage and must be from 0 to 100, got {decl.default!r}",
            )
    return Outcome(
        external=True,
        external_percent=percent,
        external_priority=raw.get("external_priority", False),
    )


def _label(operand: Operand) -> str:
    return operand.name if isinstance(operand, Fact | Param) else repr(operand.value)


def percent_params(policy: Policy) -> set[str]:
    """Parameters used as an external percentage: overrides of them must stay in 0..100."""
    return {
        r.outcome.external_percent.name
        for r in policy.rules
        if isinstance(r.outcome.external_percent, Param)
    }


def override_problem(policy: Policy, name: str, value: Any) -> str | None:
    """Why overriding parameter `name` with `value` is wrong for this policy, or None."""
    decl = policy.params.get(name)
    if decl is None:
        return f"unknown parameter {name!r} for policy {policy.name} version {policy.version}"
    problem = param_value_problem(decl, value)
    if problem is None and name in percent_params(policy) and not 0 <= value <= 100:
        problem = f"{value!r} is a percentage and must be from 0 to 100"
    return problem


# ---------------------------------------------------------------- overrides and tests


def _check_override(
    override: MerchantOverride,
    ctx: _FileContext,
    by_name: dict[str, dict[str, Policy]],
    active: dict[str, str],
    staged: dict[str, dict[str, str]],
) -> None:
    versions = by_name.get(override.policy)
    if versions is None:
        ctx.problem(
            ("policy",) if "policy" in ctx.doc.data else ("merchant_id",),
            f"unknown policy {override.policy!r}",
        )
        return
    if override.policy_version is not None:
        if override.policy_version not in versions:
            ctx.problem(
                ("policy_version",),
                f"policy {override.policy!r} has no version {override.policy_version!r} "
                f"(known: {', '.join(sorted(versions))})",
            )
            return
        candidates = [versions[override.policy_version]]
    else:
        names = {
            active.get(override.policy),
            staged.get(override.policy, {}).get(override.merchant_id),
        }
        candidates = [versions[v] for v in names if v is not None and v in versions]
    for pname, value in override.params.items():
        for policy in candidates:
            problem = override_problem(policy, pname, value)
            if problem:
                ctx.problem(("params", pname), problem)
                break


def _build_tests(ctx: _FileContext) -> PolicyTests:
    data = ctx.doc.data
    defaults = data.get("defaults", {})
    cases = []
    for i, case in enumerate(data["cases"]):
        request = deep_merge(defaults, case["request"])
        settings = request.pop("settings", None)
        try:
            msgspec.convert(request, DecideRequest)
            if settings is not None:
                msgspec.convert(settings, Settings)
        except msgspec.ValidationError as exc:
            ctx.problem(("cases", i, "request"), f"invalid request: {exc}")
        if settings is not None:
            request["settings"] = settings
        line, _ = ctx.doc.where(("cases", i))
        cases.append(
            PolicyCase(
                name=case["name"], file=ctx.name, line=line, request=request, expect=case["expect"]
            )
        )
    return PolicyTests(
        policy=data["policy"], version=data.get("version"), file=ctx.name, cases=tuple(cases)
    )


def _check_tests(
    tests: PolicyTests,
    ctx: _FileContext,
    by_name: dict[str, dict[str, Policy]],
    active: dict[str, str],
) -> None:
    versions = by_name.get(tests.policy)
    if versions is None:
        ctx.problem(("policy",), f"unknown policy {tests.policy!r}")
        return
    version = tests.version or active.get(tests.policy)
    if version is None:
        return  # no single active version: reported at the policy files
    if version not in versions:
        ctx.problem(("version",), f"policy {tests.policy!r} has no version {version!r}")
        return
    rule_ids = {r.id for r in versions[version].rules}
    for i, case in enumerate(tests.cases):
        if case.expect["rule_id"] not in rule_ids:
            ctx.problem(
                ("cases", i, "expect", "rule_id"),
                f"no rule {case.expect['rule_id']!r} in {tests.policy} version {version}",
            )


def deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """`top` over `base`, merging nested mappings (used for test-case defaults)."""
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def iter_conditions(condition: Condition | None) -> Iterator[Compare | Member]:
    """The leaf comparisons of a condition tree, in order."""
    if condition is None:
        return
    if isinstance(condition, All | Any_):
        for child in condition.children:
            yield from iter_conditions(child)
    elif isinstance(condition, Not):
        yield from iter_conditions(condition.child)
    else:
        yield condition
