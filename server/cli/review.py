"""`channel-router policy lint|diff` and the coverage report of `policy test --coverage`.

Reviewing a policy change in git: lint says what the rules can and cannot do,
diff says what a change does to real requests, coverage says what the test
cases exercise. See docs/policies.md ("Reviewing policy changes").
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import msgspec

EXIT_OK, EXIT_FOUND = 0, 1


def register(sub: Any, policy_dir: Any) -> None:
    """Add `lint` and `diff` to the `policy` sub-command parser."""
    lint = sub.add_parser(
        "lint",
        help="static analysis: masked rules, gaps, overlaps, unused parameters, schedules",
    )
    lint.add_argument("paths", nargs="*", type=Path, help="files or folders (default: policy dir)")
    lint.add_argument("--format", choices=("text", "json"), default="text")
    lint.add_argument(
        "--min-severity",
        choices=("info", "warning", "error"),
        default="info",
        help="show findings of this severity and worse (default: all)",
    )
    lint.add_argument(
        "--fail-on",
        choices=("error", "warning"),
        default="error",
        help="exit 1 when a finding of this severity or worse is found (default: error)",
    )
    lint.set_defaults(handler=lambda args: _lint(args, policy_dir))

    diff = sub.add_parser(
        "diff", help="decide the same requests with two policy folders and report what changes"
    )
    diff.add_argument("old", type=Path, help="policy folder before the change (e.g. main's)")
    diff.add_argument("new", type=Path, help="policy folder after the change")
    source = diff.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--sample", type=Path, help="JSON Lines of requests as the CLI takes them (+ settings)"
    )
    source.add_argument(
        "--from-log",
        action="store_true",
        help="replay requests recorded in the decision log (CHANNEL_ROUTER_DATABASE_URL)",
    )
    diff.add_argument("--since", type=_time, help="--from-log: from this RFC 3339 time")
    diff.add_argument("--until", type=_time, help="--from-log: before this RFC 3339 time")
    diff.add_argument("--merchant", help="--from-log: only this merchant's decisions")
    diff.add_argument("--limit", type=int, help="--from-log: at most this many requests")
    diff.add_argument("--database-url", help="--from-log: instead of CHANNEL_ROUTER_DATABASE_URL")
    diff.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    diff.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: only when stderr is a terminal)",
    )
    diff.add_argument(
        "--fail-on-change", action="store_true", help="exit 1 when any decision changes"
    )
    diff.set_defaults(handler=_diff)


def _time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an RFC 3339 time: {text!r}") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a time zone (e.g. Z or +01:00)")
    return moment


# ---------------------------------------------------------------- lint


def _lint(args: argparse.Namespace, policy_dir: Any) -> int:
    from engine.lint import SEVERITIES, lint
    from engine.loader import load_for_review

    policy_set, problems = load_for_review(args.paths or [policy_dir()])
    findings = lint(policy_set, problems)
    shown = [
        f for f in findings if SEVERITIES.index(f.severity) <= SEVERITIES.index(args.min_severity)
    ]
    if args.format == "json":
        print(msgspec.json.format(msgspec.json.encode(shown)).decode())
    else:
        for finding in shown:
            print(finding)
            for example in finding.examples:
                print(f"    example: {msgspec.json.encode(example).decode()}")
    counts = {s: sum(1 for f in findings if f.severity == s) for s in SEVERITIES}
    print(", ".join(f"{n} {s}" for s, n in counts.items()), file=sys.stderr)
    worst = SEVERITIES.index(args.fail_on)
    return EXIT_FOUND if any(SEVERITIES.index(f.severity) <= worst for f in findings) else EXIT_OK


# ---------------------------------------------------------------- diff


def _diff(args: argparse.Namespace) -> int:
    from engine import Engine, PolicyProblems, load_policy_dir
    from engine.diff import Differ

    engines = []
    for folder in (args.old, args.new):
        try:
            engines.append(Engine(load_policy_dir(folder)))
        except PolicyProblems as exc:
            for problem in exc.problems:
                print(problem)
            print(f"{folder}: {len(exc.problems)} problem(s)", file=sys.stderr)
            return EXIT_FOUND
    try:
        items = _from_log(args) if args.from_log else _from_sample(args.sample)
    except _InputError as exc:
        for line in exc.lines[:20]:
            print(line, file=sys.stderr)
        if len(exc.lines) > 20:
            print(f"... and {len(exc.lines) - 20} more", file=sys.stderr)
        return EXIT_FOUND
    differ = Differ(*engines)
    show = args.progress if args.progress is not None else sys.stderr.isatty()
    from tqdm import tqdm

    with tqdm(
        total=len(items), file=sys.stderr, disable=not show, unit="req", desc="policy diff"
    ) as bar:
        for n, (request, settings, at, raw) in enumerate(items, 1):
            differ.add(request, settings, at, raw)
            if n % 1000 == 0:
                bar.update(1000)
        bar.update(len(items) % 1000)
    report = differ.tally.report()
    versions = (_versions(engines[0]), _versions(engines[1]))
    if args.format == "json":
        print(msgspec.json.format(msgspec.json.encode(report)).decode())
    elif args.format == "markdown":
        write_markdown(report, f"{args.old}", f"{args.new}", versions, sys.stdout)
    else:
        write_text(report, f"{args.old}", f"{args.new}", versions, sys.stdout)
    return EXIT_FOUND if args.fail_on_change and report.changed else EXIT_OK


def _versions(engine: Any) -> str:
    """`channel-routing 1 (907d5830d510)`: what decides, per policy."""
    out = []
    for s in engine.summary():
        sha = next(v.sha256 for v in s.versions if v.version == s.active_version)
        out.append(f"{s.name} {s.active_version} ({sha[:12]})")
    return ", ".join(out)


Item = tuple[Any, Any, str, dict[str, Any] | None]


class _InputError(Exception):
    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def _from_sample(path: Path) -> list[Item]:
    """Every request of a JSON Lines sample; settings from the line, else the database."""
    from engine import DecideRequest, Settings

    items: list[Item] = []
    errors: list[str] = []
    missing: set[str] = set()
    settings_cache: dict[bytes, Any] = {}
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise _InputError([f"{path}: {exc.strerror}"]) from None
    with handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                raw = msgspec.json.decode(line)
                if not isinstance(raw, dict):
                    raise msgspec.ValidationError("expected a JSON object (a DecideRequest)")
                body = dict(raw)
                given = body.pop("settings", None)
                request = msgspec.convert(body, DecideRequest)
                settings = None
                if given is not None:
                    key = msgspec.json.encode(given)
                    settings = settings_cache.get(key)
                    if settings is None:
                        settings = settings_cache[key] = msgspec.convert(given, Settings)
                else:
                    missing.add(request.merchant_id)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                errors.append(f"{path}:{number}: invalid request: {exc}")
                continue
            items.append((request, settings, f"{path}:{number}", raw))
    if errors:
        raise _InputError(errors)
    if missing:
        stored = _stored_settings(sorted(missing))
        items = [
            (r, s if s is not None else stored.get(r.merchant_id), at, raw)
            for r, s, at, raw in items
        ]
    return items


def _stored_settings(merchants: list[str]) -> dict[str, Any]:
    """Settings of these merchants from the configured database (none when not configured)."""
    import os

    from server.cli.settings_lookup import SettingsUnavailable, configured_url

    url = configured_url(os.environ)
    if url is None:
        return {}
    try:
        return asyncio.run(_read_settings(url, merchants))
    except Exception as exc:
        raise _InputError(
            [str(SettingsUnavailable(f"could not read merchant settings: {type(exc).__name__}"))]
        ) from None


async def _read_settings(url: str, merchants: list[str]) -> dict[str, Any]:
    from server.db.connection import make_engine
    from server.db.merchants import MerchantStore
    from server.db.tables import build_tables

    store = MerchantStore(build_tables(make_engine(url)), settings_cache_seconds=0)
    found = {}
    for merchant in merchants:
        settings = await store.find_settings(merchant)
        if settings is not None:
            found[merchant] = settings
    return found


def _from_log(args: argparse.Namespace) -> list[Item]:
    """Requests recorded in the decision log, through its public reader."""
    import os

    from server.cli.settings_lookup import configured_url

    url = args.database_url or configured_url(os.environ)
    if url is None:
        raise _InputError(["--from-log needs CHANNEL_ROUTER_DATABASE_URL or --database-url"])
    try:
        return asyncio.run(_read_log(url, args))
    except _InputError:
        raise
    except Exception as exc:
        scheme = url.split("://", 1)[0]
        raise _InputError(
            [f"could not read the decision log ({scheme}): {type(exc).__name__}: {exc}"]
        ) from None


async def _read_log(url: str, args: argparse.Namespace) -> list[Item]:
    from server.db.connection import make_engine
    from server.db.decision_log import iter_logged_requests
    from server.db.merchants import MerchantStore
    from server.db.tables import build_tables

    tables = build_tables(make_engine(url))
    rows = [
        row
        async for row in iter_logged_requests(
            tables,
            since=args.since,
            until=args.until,
            merchant_id=args.merchant,
            limit=args.limit,
        )
    ]
    store = MerchantStore(tables, settings_cache_seconds=0)
    settings: dict[str, Any] = {}
    for merchant in sorted({r.merchant_id for r in rows}):
        settings[merchant] = await store.find_settings(merchant)
    return [(r.request, settings[r.merchant_id], f"decision {r.decision_id}", None) for r in rows]


# ---------------------------------------------------------------- rendering


def _signed(n: int) -> str:
    return f"{n:+,}"


def _share(report: Any) -> float:
    return 100.0 * report.changed / report.decisions if report.decisions else 0.0


def write_text(report: Any, old: str, new: str, versions: tuple[str, str], out: TextIO) -> None:
    """The diff for a terminal."""
    share = _share(report)
    out.write(f"policy diff {old} -> {new}\n")
    out.write(f"  old: {versions[0]}\n  new: {versions[1]}\n")
    out.write(f"{report.changed} of {report.decisions} decisions change ({share:.2f} %)\n")
    if report.refused:
        out.write(f"{report.refused} requests are refused by one side only\n")
    if not report.transitions:
        return
    out.write("transitions (old rule -> new rule):\n")
    for t in report.transitions:
        out.write(f"  {t.count:>9}  {t.from_rule} -> {t.to_rule}\n")
    moved = ", ".join(f"{k} {_signed(v)}" for k, v in report.units_moved.items()) or "none"
    out.write(f"units moved: {moved}\n")
    out.write("examples:\n")
    for t in report.transitions:
        out.write(f"  {t.from_rule} -> {t.to_rule}\n")
        for example in t.examples:
            out.write(f"    {example.at}  {msgspec.json.encode(example.request).decode()}\n")


def write_markdown(report: Any, old: str, new: str, versions: tuple[str, str], out: TextIO) -> None:
    """The diff as a review comment."""
    share = _share(report)
    out.write(f"### Policy impact: `{old}` → `{new}`\n\n")
    out.write(f"- old: {versions[0]}\n- new: {versions[1]}\n\n")
    out.write(
        f"**{report.changed:,} of {report.decisions:,} decisions change ({share:.2f} %).**\n\n"
    )
    if report.refused:
        out.write(f"{report.refused:,} requests are refused by one side only.\n\n")
    if not report.transitions:
        return
    out.write("| old rule | new rule | decisions |\n| --- | --- | ---: |\n")
    for t in report.transitions:
        out.write(f"| `{t.from_rule}` | `{t.to_rule}` | {t.count:,} |\n")
    out.write("\n| units | change |\n| --- | ---: |\n")
    for where, delta in report.units_moved.items():
        out.write(f"| {where} | {_signed(delta)} |\n")
    out.write("\n<details><summary>Example requests per transition</summary>\n\n")
    for t in report.transitions:
        out.write(f"`{t.from_rule}` → `{t.to_rule}`\n\n")
        for example in t.examples:
            body = msgspec.json.encode(example.request).decode()
            out.write(f"- {example.at}\n\n  ```json\n  {body}\n  ```\n")
        out.write("\n")
    out.write("</details>\n")


# ---------------------------------------------------------------- coverage


def write_coverage(coverage: Any, verbose: bool, out: TextIO) -> None:
    """Per version: score, then what the cases never exercised (everything with -v)."""
    for version in coverage.versions:
        out.write(
            f"coverage {version.policy} version {version.version} ({version.file}): "
            f"{version.percent:.1f} % ({version.covered}/{version.total})\n"
        )
        for rule in version.rules:
            if verbose or not rule.hits:
                mark = "  " if rule.hits else "✗ "
                out.write(
                    f"  {mark}{rule.file}:{rule.line}: rule {rule.rule_id}: {rule.hits} hits\n"
                )
        for branch in version.branches:
            missing = [w for w, n in (("true", branch.true), ("false", branch.false)) if not n]
            if verbose or missing:
                mark = "✗ " if missing else "  "
                note = f"never {' nor '.join(missing)}" if missing else ""
                out.write(
                    f"  {mark}{branch.file}:{branch.line}:{branch.col}: {branch.rule_id}: "
                    f"{branch.text}  true {branch.true}, false {branch.false}  {note}".rstrip()
                    + "\n"
                )
    out.write(
        f"coverage: {coverage.percent:.1f} % ({coverage.covered}/{coverage.total}) "
        "of rules and comparison outcomes\n"
    )
