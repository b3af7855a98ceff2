"""`channel-router policy validate|test|lint|diff|explain` (docs/policies.md).

Exit codes a CI job can rely on: 0 all good, 1 problems or failed cases or a
request the policy refuses, 2 wrong usage (argparse).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

DEFAULT_POLICY_DIR = "policies"


def register(commands: Any) -> None:
    """Add `policy` and its sub-commands to the `channel-router` parser."""
    policy = commands.add_parser("policy", help="validate, test and explain routing policies")
    sub = policy.add_subparsers(dest="policy_command", required=True, metavar="SUBCOMMAND")

    validate = sub.add_parser(
        "validate", help="check policy, override and test files; one FILE:LINE:COL line per problem"
    )
    validate.add_argument(
        "paths", nargs="*", type=Path, help="files or folders (default: policy dir)"
    )
    validate.set_defaults(handler=_validate)

    test = sub.add_parser("test", help="run the policy test cases kept beside the policies")
    test.add_argument("dir", nargs="?", type=Path, help="policy folder (default: policy dir)")
    test.add_argument("-v", "--verbose", action="store_true", help="list passing cases too")
    test.add_argument(
        "--coverage",
        action="store_true",
        help="report which rules and comparison outcomes (true and false) the cases exercise",
    )
    test.add_argument(
        "--min-coverage",
        type=float,
        metavar="N",
        help="fail (exit 1) when coverage is below N percent; implies --coverage",
    )
    test.set_defaults(handler=_test)

    from server.cli import review

    review.register(sub, policy_dir)

    explain = sub.add_parser("explain", help="show the decision and its trace for one request")
    explain.add_argument("--merchant", required=True, help="merchant id")
    explain.add_argument(
        "--request",
        "--product",  # the first name of this option, kept working
        dest="request",
        required=True,
        type=Path,
        metavar="FILE.json",
        help="a DecideRequest JSON file, which may also carry settings (--product: same)",
    )
    explain.add_argument("--policy-dir", type=Path, help="policy folder (default: policy dir)")
    explain.add_argument("--text", action="store_true", help="human-readable instead of JSON")
    explain.set_defaults(handler=_explain)


def policy_dir(given: Path | None = None) -> Path:
    """The folder given, else CHANNEL_ROUTER_POLICY_DIR, else ./policies."""
    return given or Path(os.environ.get("CHANNEL_ROUTER_POLICY_DIR", DEFAULT_POLICY_DIR))


def _load(paths: list[Path]) -> Any:
    from engine import PolicyProblems, load_paths

    try:
        return load_paths(paths)
    except PolicyProblems as exc:
        for problem in exc.problems:
            print(problem)
        print(f"{len(exc.problems)} problem(s)", file=sys.stderr)
        return None


def _validate(args: argparse.Namespace) -> int:
    policy_set = _load(args.paths or [policy_dir()])
    if policy_set is None:
        return 1
    versions = sum(len(v) for v in policy_set.policies.values())
    cases = sum(len(t.cases) for t in policy_set.tests)
    print(
        f"ok: {len(policy_set.policies)} policies ({versions} versions), "
        f"{len(policy_set.overrides)} merchant overrides, {cases} test cases"
    )
    return 0


def _test(args: argparse.Namespace) -> int:
    from engine import Engine
    from engine.casebook import run_cases

    policy_set = _load([policy_dir(args.dir)])
    if policy_set is None:
        return 1
    engine = Engine(policy_set)
    results = run_cases(engine)
    failed = [r for r in results if not r.passed]
    for result in results:
        if result.passed:
            if args.verbose:
                print(f"PASS {result.file}:{result.line}: {result.name}")
            continue
        print(f"FAIL {result.file}:{result.line}: {result.name}")
        for mismatch in result.mismatches:
            print(f"    {mismatch}")
    if not results:
        print("no policy test cases found", file=sys.stderr)
        return 1
    print(f"policy cases: {len(results) - len(failed)} passed, {len(failed)} failed")
    if args.coverage or args.min_coverage is not None:
        from engine.coverage import measure
        from server.cli.review import write_coverage

        coverage = measure(engine)
        write_coverage(coverage, args.verbose, sys.stdout)
        if args.min_coverage is not None and coverage.percent < args.min_coverage:
            print(
                f"coverage {coverage.percent:.1f} % is below --min-coverage {args.min_coverage:g}",
                file=sys.stderr,
            )
            return 1
    return 1 if failed else 0


def _explain(args: argparse.Namespace) -> int:
    import msgspec

    from engine import DecideRequest, DecisionError, Engine, Settings

    policy_set = _load([policy_dir(args.policy_dir)])
    if policy_set is None:
        return 1
    try:
        raw = msgspec.json.decode(args.request.read_bytes())
        if not isinstance(raw, dict):
            raise msgspec.ValidationError("expected a JSON object (a DecideRequest)")
        raw["merchant_id"] = args.merchant
        settings_raw = raw.pop("settings", None)
        request = msgspec.convert(raw, DecideRequest)
        settings = (
            msgspec.convert(settings_raw, Settings)
            if settings_raw is not None
            else _stored_settings(args.merchant)
        )
        decision = Engine(policy_set).decide(request, settings)
    except OSError as exc:
        print(f"{args.request}: {exc.strerror}", file=sys.stderr)
        return 1
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        print(f"{args.request}: invalid request: {exc}", file=sys.stderr)
        return 1
    except DecisionError as exc:
        print(f"{args.request}: {exc.field}: {exc}", file=sys.stderr)
        return 1
    except RuntimeError as exc:  # settings_lookup.SettingsUnavailable
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.text:
        print(_as_text(decision))
    else:
        print(msgspec.json.format(msgspec.json.encode(decision)).decode())
    return 0


def _stored_settings(merchant_id: str) -> Any:
    """The merchant's settings from the configured database, or None for the defaults."""
    from server.cli.settings_lookup import stored_settings

    return stored_settings(merchant_id)


def _as_text(decision: Any) -> str:
    lines = [
        f"policy   {decision.policy.name} version {decision.policy.version} "
        f"(sha256 {decision.policy.sha256[:12]}...)",
        f"rule     {decision.rule_id}",
        f"why      {decision.reasoning}",
        f"store    {decision.store_units} units",
    ]
    lines += [
        f"{a.channel:<8} {a.allocated_units} units at {a.price} for {a.duration_days} days"
        for a in decision.external_channels
    ]
    lines.append("trace")
    lines += [
        f"  {'✓' if t.matched else '✗'} {t.rule_id} ({t.file}:{t.line}): {t.detail}"
        for t in decision.trace
    ]
    lines.append("parameters")
    lines += [f"  {name} = {p.value!r} ({p.source})" for name, p in decision.parameters.items()]
    return "\n".join(lines)
