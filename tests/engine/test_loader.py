"""The loader reports every problem, each at the FILE:LINE:COL of the node to fix."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine import PolicyProblems, load_policy_dir

REPO_POLICIES = Path(__file__).resolve().parents[2] / "policies"
POLICY = "channel-routing/v1.yaml"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A private copy of the shipped policy folder, free to break."""
    return Path(shutil.copytree(REPO_POLICIES, tmp_path / "policies"))


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def problems_of(folder: Path) -> list[str]:
    with pytest.raises(PolicyProblems) as caught:
        load_policy_dir(folder)
    return [str(p) for p in caught.value.problems]


def line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_shipped_policies_load() -> None:
    policy_set = load_policy_dir(REPO_POLICIES)
    assert policy_set.active == {"channel-routing": "1"}
    rules = [r.id for r in policy_set.policies["channel-routing"]["1"].rules]
    assert rules == [
        "merchant-opt-out",
        "merchant-excluded-category",
        "high-margin-category",
        "low-stock-fresh",
        "moderate-overstock",
        "dead-stock",
        "default-store",
    ]


def test_broken_value_is_reported_at_its_line_and_column(folder: Path) -> None:
    file = folder / POLICY
    edit(file, "    default: 50\n", "    default: fifty\n")
    line = line_of(file, "default: fifty")
    assert problems_of(folder) == [
        f"{file}:{line}:14: default of dead_min_stock: expected integer, got 'fifty'"
    ]


def test_every_problem_is_reported_in_one_pass(folder: Path) -> None:
    file = folder / POLICY
    edit(file, "lt: {param: store_only_max_staleness_days}", "lt: {param: no_such_param}")
    edit(file, "- id: dead-stock", "- id: moderate-overstock")
    edit(file, "{fact: stock_quantity, gt: {param: dead_min_stock}}", "{fact: stock, gt: 50}")
    edit(file, "external_percent: {param: moderate_external_percent}", "external_percent: 140")
    found = problems_of(folder)
    assert len(found) == 4, found
    assert f"{file}:{line_of(file, 'no_such_param')}:" in found[0]
    assert "unknown parameter 'no_such_param'" in found[0]
    messages = "\n".join(found)
    assert "external_percent must be a number from 0 to 100, got 140" in messages
    assert "duplicate rule id 'moderate-overstock'" in messages
    assert "unknown fact 'stock'" in messages


def test_schema_violation_points_at_the_node(folder: Path) -> None:
    file = folder / POLICY
    edit(file, "le: {param: store_only_max_stock}", "lte: {param: store_only_max_stock}")
    found = problems_of(folder)
    line = line_of(file, "lte:")
    assert all(p.startswith(f"{file}:{line}:") for p in found), found
    assert any("'lte' was unexpected" in p for p in found)


def test_yaml_syntax_error_has_a_position(folder: Path) -> None:
    file = folder / "merchants" / "demo-outlet.yaml"
    file.write_text("merchant_id: demo-outlet\nparams: {a: [1\n")
    [problem] = problems_of(folder)
    assert problem.startswith(f"{file}:3:1: invalid YAML")


def test_duplicate_yaml_keys_are_refused(folder: Path) -> None:
    file = folder / "merchants" / "demo-outlet.yaml"
    file.write_text("merchant_id: demo-outlet\nparams: {}\nparams: {}\n")
    assert problems_of(folder) == [f"{file}:3:1: duplicate key 'params'"]


def test_last_rule_must_catch_everything(folder: Path) -> None:
    file = folder / POLICY
    text = file.read_text()
    file.write_text(text[: text.index("  - id: default-store")])
    [problem] = problems_of(folder)
    assert "the last rule must have no 'when'" in problem


def test_unconditional_rule_before_the_end_is_refused(folder: Path) -> None:
    file = folder / POLICY
    edit(file, "    when: {param: external_channels_enabled, eq: false}\n", "")
    [problem] = problems_of(folder)
    assert "merchant-opt-out" in problem and "can never match" in problem


def test_exactly_one_active_version(folder: Path) -> None:
    v2 = folder / "channel-routing" / "v2.yaml"
    shutil.copy(folder / POLICY, v2)
    edit(v2, 'version: "1"', 'version: "2"')
    [problem] = problems_of(folder)
    assert "needs exactly one active version, found 2 (1, 2)" in problem


def test_duplicate_version_is_refused(folder: Path) -> None:
    shutil.copy(folder / POLICY, folder / "channel-routing" / "copy.yaml")
    found = problems_of(folder)
    assert any("version '1' is also defined in" in p for p in found), found


def test_percentage_override_out_of_range(folder: Path) -> None:
    file = folder / "merchants" / "demo-outlet.yaml"
    edit(file, "moderate_external_percent: 50", "moderate_external_percent: 150")
    [problem] = problems_of(folder)
    assert problem.startswith(f"{file}:{line_of(file, '150')}:")
    assert "above the maximum 100" in problem


def test_override_of_unknown_parameter_and_wrong_file_name(folder: Path) -> None:
    file = folder / "merchants" / "demo-outlet.yaml"
    file.write_text("merchant_id: other\nparams:\n  bogus: 1\n")
    found = problems_of(folder)
    assert any("merchant_id must match the file name 'demo-outlet'" in p for p in found)
    assert any("unknown parameter 'bogus'" in p for p in found)


def test_override_file_named_by_its_file_alone(folder: Path) -> None:
    (folder / "merchants" / "acme.yaml").write_text("params: {moderate_external_percent: 55}\n")
    (folder / "merchants" / "named.yaml").write_text("merchant_id: named\nparams: {}\n")
    overrides = load_policy_dir(folder).overrides
    assert overrides["acme"].params == {"moderate_external_percent": 55}
    assert overrides["acme"].merchant_id == "acme"
    assert overrides["named"].merchant_id == "named"


def test_override_file_name_that_is_no_merchant_id(folder: Path) -> None:
    file = folder / "merchants" / "two words.yaml"
    file.write_text("params: {moderate_external_percent: 55}\n")
    assert problems_of(folder) == [
        f"{file}:1:1: file name 'two words' is not a merchant id "
        "(1 to 64 letters, digits, '.', '_' or '-')"
    ]


def test_type_mismatch_in_comparison(folder: Path) -> None:
    file = folder / POLICY
    edit(file, "{fact: stock_quantity, gt: {param: dead_min_stock}}", "{fact: category, gt: 3}")
    [problem] = problems_of(folder)
    assert "'gt' orders numbers, but category is string" in problem


def test_test_case_naming_an_unknown_rule(folder: Path) -> None:
    file = folder / "tests" / "channel-routing.yaml"
    edit(file, "rule_id: dead-stock", "rule_id: dead-stok")
    [problem] = problems_of(folder)
    assert problem.startswith(f"{file}:{line_of(file, 'dead-stok')}:")


def test_non_utf8_file(folder: Path) -> None:
    (folder / "merchants" / "latin.yaml").write_bytes(b"merchant_id: caf\xe9\n")
    [problem] = problems_of(folder)
    assert "not UTF-8" in problem
