"""`policy lint`: every finding kind on crafted policies, and properties on generated ones.

Examples the linter shows are checked here against the real engine (durable-rules)
or the condition semantics it is held to, never taken on trust.
"""

from __future__ import annotations

import copy
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import strategies as gen
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from policy_files import POLICY, REPO, add_version, edit, line_of, run_cli

from engine import DecideRequest, Engine, Settings, load_policy_dir
from engine.lint import Finding, Router, analyse, lint
from engine.loader import load_for_review


def findings(root: Path, now: float | None = None) -> list[Finding]:
    policy_set, problems = load_for_review([root])
    if now is None:
        return lint(policy_set, problems)
    return lint(policy_set, problems, clock=lambda: now)


def codes(found: list[Finding], severity: str | None = None) -> list[str]:
    return [f.code for f in found if severity is None or f.severity == severity]


def decide(engine: Engine, example: dict[str, Any]) -> Any:
    raw = copy.deepcopy(example)
    given_settings = raw.pop("settings", None)
    request = msgspec.convert(raw, DecideRequest)
    return engine.decide(request, msgspec.convert(given_settings or {}, Settings))


# ---------------------------------------------------------------- the shipped policy


def test_shipped_policy_has_no_errors_or_warnings_and_its_gaps_go_to_default_store() -> None:
    found = findings(REPO / "policies")
    assert codes(found, "error") == [] and codes(found, "warning") == []
    gaps = [f for f in found if f.code == "gap"]
    # The seed table leaves three regions to the catch-all (low stock but stale,
    # 21..50 units and dead, more than 20 units but fresh): each shown once.
    assert len(gaps) == 3
    engine = Engine(load_policy_dir(REPO / "policies"))
    for gap in gaps:
        assert gap.rule == "default-store" and gap.severity == "info"
        [example] = gap.examples
        assert decide(engine, example).rule_id == "default-store"


def test_overlaps_name_both_rules_and_show_an_input_both_match() -> None:
    found = [f for f in findings(REPO / "policies") if f.code == "overlap"]
    pairs = {(f.message.split("'")[1], f.rule) for f in found}
    # Store-only rules in front of the two clearance rules; rules with the same
    # outcome, or that can never match together, are not reported.
    assert pairs == {
        (first, later)
        for first in ("merchant-opt-out", "merchant-excluded-category", "high-margin-category")
        for later in ("moderate-overstock", "dead-stock")
    }
    policy = load_policy_dir(REPO / "policies").policies["channel-routing"]["1"]
    router = Router(policy, {n: d.default for n, d in policy.params.items()})
    index = {r.id: i for i, r in enumerate(policy.rules)}
    for finding in found:
        [example] = finding.examples
        first = finding.message.split("'")[1]
        assert router.route(example) == index[first]
        assert router.matches(example, index[finding.rule])


# ---------------------------------------------------------------- crafted findings


def test_a_copy_of_a_rule_right_after_it_is_masked_by_it(folder: Path) -> None:
    file = folder / POLICY
    text = file.read_text()
    start = text.index("  - id: moderate-overstock")
    end = text.index("  - id: dead-stock")
    copy_of = text[start:end].replace("id: moderate-overstock", "id: moderate-copy")
    file.write_text(text[:end] + copy_of + text[end:])
    [masked] = [f for f in findings(folder) if f.code == "masked"]
    assert masked.severity == "error" and masked.rule == "moderate-copy"
    assert masked.line == line_of(file, "id: moderate-copy")
    assert f"'moderate-overstock' (line {line_of(file, 'id: moderate-overstock')})" in (
        masked.message
    )


def test_removing_the_catch_all_reports_each_gap_as_an_error_with_a_request(
    folder: Path,
) -> None:
    file = folder / POLICY
    text = file.read_text()
    file.write_text(text[: text.index("  - id: default-store")])
    found = findings(folder)
    gaps = [f for f in found if f.code == "gap"]
    assert len(gaps) == 3 and {f.severity for f in gaps} == {"error"}
    assert "no-default-rule" in codes(found)
    policy = load_for_review([folder])[0].policies["channel-routing"]["1"]
    router = Router(policy, {n: d.default for n, d in policy.params.items()})
    for gap in gaps:
        [example] = gap.examples
        assert router.route(example) is None  # no rule takes it


def test_an_impossible_between_is_reported_at_its_line(folder: Path) -> None:
    file = folder / POLICY
    edit(
        file,
        "between: [{param: moderate_min_staleness_days}, {param: moderate_max_staleness_days}]",
        "between: [{param: moderate_max_staleness_days}, {param: moderate_min_staleness_days}]",
    )
    [dead] = [f for f in findings(folder) if f.code == "never-holds"]
    assert dead.severity == "error" and dead.rule == "moderate-overstock"
    assert dead.line == line_of(file, "fact: days_since_last_sale", line_of(file, "moderate-ov"))
    assert "moderate_max_staleness_days (30)" in dead.message


def test_an_impossible_branch_inside_any_is_a_warning_and_an_always_true_one_too(
    folder: Path,
) -> None:
    file = folder / POLICY
    edit(
        file,
        "    when: {param: external_channels_enabled, eq: false}",
        "    when:\n      any:\n        - {param: external_channels_enabled, eq: false}\n"
        "        - {fact: stock_quantity, lt: 0}\n"
        "        - {fact: duration_hours, ge: 1}",
    )
    found = findings(folder)
    [never] = [f for f in found if f.code == "never-holds"]
    [always] = [f for f in found if f.code == "always-holds"]
    assert never.severity == always.severity == "warning"
    assert never.line == line_of(file, "stock_quantity, lt: 0")
    assert always.line == line_of(file, "duration_hours, ge: 1")
    # duration_hours >= 1 always holds, so the opt-out rule now takes everything.
    assert sorted(f.rule for f in found if f.code == "masked") == [
        "dead-stock",
        "high-margin-category",
        "low-stock-fresh",
        "merchant-excluded-category",
        "moderate-overstock",
    ]


def test_a_missing_price_is_neither_true_nor_false(folder: Path) -> None:
    """`current_price` is optional: `not (price > 0)` does not cover a product without one."""
    file = folder / POLICY
    edit(
        file,
        "    when: {param: external_channels_enabled, eq: false}",
        "    when:\n      any:\n        - {fact: current_price, gt: 0}\n"
        "        - not: {fact: current_price, gt: 0}",
    )
    found = findings(folder)
    assert "masked" not in codes(found)
    assert "always-holds" not in codes(found)


def test_unused_parameters_are_reported_at_their_declaration(folder: Path) -> None:
    file = folder / POLICY
    edit(file, "params:\n", "params:\n  forgotten:\n    type: integer\n    default: 3\n")
    [unused] = [f for f in findings(folder) if f.code == "unused-param"]
    assert unused.severity == "warning" and unused.line == line_of(file, "forgotten:")


def test_override_values_that_make_rules_unreachable_point_at_the_override_file(
    folder: Path,
) -> None:
    merchant = folder / "merchants" / "bulk-shop.yaml"
    merchant.write_text(
        "merchant_id: bulk-shop\nparams:\n"
        "  store_only_max_stock: 1000000000\n"
        "  store_only_max_staleness_days: 1000000001\n"
        "  moderate_external_percent: 45\n"
    )
    found = [f for f in findings(folder) if f.code == "override-unreachable"]
    assert sorted(f.rule for f in found) == ["dead-stock", "moderate-overstock"]
    for finding in found:
        assert finding.file == str(merchant) and finding.severity == "error"
        assert finding.line == line_of(merchant, "store_only_max_stock")
        assert "'low-stock-fresh'" in finding.message and "bulk-shop" in finding.message
    # The policy itself is fine: nothing is reported against it.
    assert "masked" not in codes(findings(folder))


def test_override_of_a_parameter_no_rule_reads_is_a_warning(folder: Path) -> None:
    file = folder / POLICY
    edit(file, "params:\n", "params:\n  forgotten:\n    type: integer\n    default: 3\n")
    merchant = folder / "merchants" / "demo-outlet.yaml"
    merchant.write_text(merchant.read_text() + "  forgotten: 4\n")
    found = [f for f in findings(folder) if f.code == "unused-param" and f.file == str(merchant)]
    assert [f.line for f in found] == [line_of(merchant, "forgotten")]


# ---------------------------------------------------------------- schedules


def test_two_versions_taking_over_at_the_same_instant_conflict(folder: Path) -> None:
    add_version(folder, 'active_from: "2030-01-01T00:00:00Z"\n')
    v3 = folder / "channel-routing" / "v3.yaml"
    v3.write_text((folder / "channel-routing" / "v2.yaml").read_text().replace('"2"', '"3"', 1))
    [conflict] = [f for f in findings(folder) if f.code == "schedule-conflict"]
    assert conflict.severity == "error" and conflict.line == line_of(v3, "active_from")


def test_a_past_schedule_and_a_pinned_merchant_are_warnings(folder: Path) -> None:
    v2 = add_version(folder, 'active_from: "2030-01-01T00:00:00Z"\n')
    merchant = folder / "merchants" / "demo-outlet.yaml"
    merchant.write_text(merchant.read_text() + 'policy_version: "1"\n')
    before = datetime(2029, 12, 31, tzinfo=UTC).timestamp()
    pinned = [f for f in findings(folder, before) if f.code == "schedule-pinned"]
    assert [(f.file, f.line) for f in pinned] == [(str(merchant), line_of(merchant, "policy_v"))]
    after = datetime(2030, 1, 2, tzinfo=UTC).timestamp()
    [past] = [f for f in findings(folder, after) if f.code == "schedule-past"]
    assert past.line == line_of(v2, "active_from") and past.severity == "warning"


# ---------------------------------------------------------------- the command


def test_lint_command_exits_1_on_errors_with_file_line_col_and_json(folder: Path) -> None:
    assert run_cli("policy", "lint", "policies").returncode == 0
    file = folder / POLICY
    edit(file, "lt: {param: store_only_max_staleness_days}", "lt: 0")
    text = run_cli("policy", "lint", str(folder))
    assert text.returncode == 1
    line = line_of(file, "lt: 0")
    assert f"{file}:{line}:11: error [never-holds] rule 'low-stock-fresh'" in text.stdout
    as_json = run_cli("policy", "lint", str(folder), "--format", "json", "--min-severity", "error")
    assert as_json.returncode == 1
    assert [f["code"] for f in json.loads(as_json.stdout)] == ["never-holds"]


# ---------------------------------------------------------------- generated policies


@contextmanager
def policy_folder(document: dict[str, Any]) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="cr-lint-") as tmp:
        root = Path(tmp)
        (root / "channel-routing").mkdir()
        text = yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
        (root / "channel-routing" / "v1.yaml").write_text(text, encoding="utf-8")
        yield root


def _load(document: dict[str, Any]) -> tuple[Any, list[Finding]]:
    with policy_folder(document) as root:
        policy_set, problems = load_for_review([root])
        found = lint(policy_set, problems)
    policy = next(iter(policy_set.policies["channel-routing"].values()))
    return policy, found


LINT = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@LINT
@given(document=gen.policy_documents(), data=st.data())
def test_a_rule_inserted_after_an_identical_rule_is_always_masked(
    document: dict[str, Any], data: st.DataObject
) -> None:
    rules = document["rules"]
    k = data.draw(st.integers(0, len(rules) - 2), label="rule to copy")
    original, _ = _load(document)
    before = analyse(original, {n: d.default for n, d in original.params.items()})
    assume(before.regions[k])
    twin = copy.deepcopy(rules[k]) | {"id": "twin"}
    document = {**document, "rules": [*rules[: k + 1], twin, *rules[k + 1 :]]}
    _, found = _load(document)
    masked = [f for f in found if f.code == "masked" and f.rule == "twin"]
    assert len(masked) == 1, [str(f) for f in found]
    if before.reach[k]:  # the original takes inputs itself (else earlier rules took them all)
        assert f"'{rules[k]['id']}'" in masked[0].message


@LINT
@given(document=gen.policy_documents())
def test_a_policy_whose_last_rule_is_removed_always_reports_a_gap(
    document: dict[str, Any],
) -> None:
    policy, _ = _load(document)
    full = analyse(policy, {n: d.default for n, d in policy.params.items()})
    assume(full.reach[-1])  # the catch-all took something: removing it leaves a gap
    cut, found = _load({**document, "rules": document["rules"][:-1]})
    gaps = [f for f in found if f.code == "gap" and f.severity == "error"]
    assert gaps, [str(f) for f in found]
    router = Router(cut, {n: d.default for n, d in cut.params.items()})
    for gap in gaps:
        for example in gap.examples:
            assert router.route(example) is None


@LINT
@given(document=gen.policy_documents(), data=st.data())
def test_no_input_reaches_a_rule_reported_masked_or_dead(
    document: dict[str, Any], data: st.DataObject
) -> None:
    """Soundness: whatever the request and settings, the first match is never a rule
    lint calls unreachable (parameters at their defaults: request overrides change them)."""
    policy, found = _load(document)
    dead = {
        f.rule
        for f in found
        if f.code == "masked" or (f.code == "never-holds" and f.severity == "error")
    }
    router = Router(policy, {n: d.default for n, d in policy.params.items()})
    pool = gen.numbers_in(document)
    ints = sorted({int(n) for n in pool} | {int(n) + 1 for n in pool})
    products = gen.product_dicts(
        stock=gen.near(ints or [0]), days=gen.near(ints or [0]), price_pool=pool
    )
    requests = gen.request_dicts(
        overrides=st.just({}), products=products, proposals=gen.proposal_dicts(pool)
    )
    settings_dicts = st.fixed_dictionaries(
        {},
        optional={
            "external_channels_enabled": st.booleans(),
            "external_excluded_categories": gen.category_lists,
        },
    )
    cases = data.draw(st.lists(st.tuples(requests, settings_dicts), min_size=20, max_size=40))
    for request, given_settings in cases:
        index = router.route({**request, "settings": given_settings})
        if index is not None:
            assert policy.rules[index].id not in dead
