"""`channel-router policy ...` as a CI job runs it: real processes, real exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", "policy", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)},
    )


def test_validate_and_test_pass_on_the_shipped_policies() -> None:
    validate = run("validate", "policies")
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert validate.stdout.startswith("ok: 1 policies")
    test = run("test", "policies")
    assert test.returncode == 0, test.stdout + test.stderr
    assert " passed, 0 failed" in test.stdout


def test_validate_reports_file_line_col_and_exits_1(tmp_path: Path) -> None:
    folder = Path(shutil.copytree(REPO / "policies", tmp_path / "policies"))
    policy = folder / "channel-routing" / "v1.yaml"
    policy.write_text(policy.read_text().replace("default: 40", "default: 400", 1))
    result = run("validate", str(folder))
    assert result.returncode == 1
    line = next(i for i, t in enumerate(policy.read_text().splitlines(), 1) if "default: 400" in t)
    assert result.stdout.splitlines() == [
        f"{policy}:{line}:14: default of moderate_external_percent: 400 is above the maximum 100"
    ]


def test_test_prints_expected_vs_actual_and_exits_1(tmp_path: Path) -> None:
    folder = Path(shutil.copytree(REPO / "policies", tmp_path / "policies"))
    cases = folder / "tests" / "channel-routing.yaml"
    cases.write_text(cases.read_text().replace("rule_id: dead-stock", "rule_id: default-store", 1))
    result = run("test", str(folder))
    assert result.returncode == 1
    assert "expected 'default-store', got 'dead-stock'" in result.stdout


def test_explain_shows_dead_stock_for_60_units_45_days() -> None:
    result = run("explain", "--merchant", "acme", "--request", "examples/dead-stock.json")
    assert result.returncode == 0, result.stderr
    decision = json.loads(result.stdout)
    old_name = run("explain", "--merchant", "acme", "--product", "examples/dead-stock.json")
    assert old_name.returncode == 0 and json.loads(old_name.stdout)["rule_id"] == "dead-stock"
    assert decision["rule_id"] == "dead-stock"
    assert decision["store_units"] == 18
    assert [t["rule_id"] for t in decision["trace"]][-1] == "dead-stock"


def test_explain_refuses_a_bad_request_with_exit_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"product": {"stock_quantity": -1}}')
    result = run("explain", "--merchant", "acme", "--product", str(bad))
    assert result.returncode == 1
    assert "invalid request" in result.stderr
    assert "Traceback" not in result.stderr


def test_usage_error_exits_2() -> None:
    assert run("explain").returncode == 2
