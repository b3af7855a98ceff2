"""Broken policy folders are located problems (FILE:LINE:COL, exit 1), never a traceback:
bad bytes, folders and links in the wrong place, alias bombs, deep nesting."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import load_policy_dir
from engine.problems import PolicyProblems
from engine.yamlmarks import MAX_ALIAS_NODES, MAX_DEPTH, YamlError, load_marked
from tests.server.broken_policies import BREAKS, PROBLEM, SECRET

REPO = Path(__file__).resolve().parents[2]


def _folder(tmp_path: Path) -> Path:
    return Path(shutil.copytree(REPO / "policies", tmp_path / "policies"))


@pytest.mark.parametrize("name", list(BREAKS))
def test_a_broken_folder_is_a_located_problem(tmp_path: Path, name: str) -> None:
    folder = _folder(tmp_path)
    breaks, file, message = BREAKS[name]
    breaks(folder)
    started = time.perf_counter()
    with pytest.raises(PolicyProblems) as refused:
        load_policy_dir(folder)
    assert time.perf_counter() - started < 5  # the bomb took 56 s and 400 MB before
    lines = [str(p) for p in refused.value.problems]
    assert any(line.startswith(f"{folder / file}:") and message in line for line in lines), lines
    assert all(PROBLEM.match(line) for line in lines), lines
    assert not any(SECRET in line for line in lines)


def test_policy_validate_exits_1_with_every_problem_and_no_traceback(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    for breaks, _, _ in BREAKS.values():
        breaks(folder)
    result = subprocess.run(
        [sys.executable, "-m", "server.cli", "policy", "validate", str(folder)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert SECRET not in result.stdout + result.stderr
    problems = result.stdout.splitlines()
    assert all(PROBLEM.match(line) for line in problems), problems
    for _, file, message in BREAKS.values():
        assert any(f"{folder / file}:" in p and message in p for p in problems), (file, problems)


def test_a_link_inside_the_folder_is_read(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    versions = folder / "channel-routing"
    (versions / "v1.yaml").rename(folder / "v1.real")
    (versions / "v1.yaml").symlink_to(folder / "v1.real")
    assert load_policy_dir(folder).active == {"channel-routing": "1"}


@settings(max_examples=25, deadline=None)
@given(depth=st.integers(1, 3 * MAX_DEPTH))
def test_nesting_is_refused_exactly_past_the_limit(depth: int) -> None:
    text = "a: " + "[" * depth + "]" * depth
    if depth + 1 <= MAX_DEPTH:  # the mapping itself is one level
        assert load_marked(text).data is not None
    else:
        with pytest.raises(YamlError, match="nested deeper"):
            load_marked(text)


@settings(max_examples=25, deadline=None)
@given(width=st.integers(2, 12), levels=st.integers(1, 6))
def test_aliases_are_refused_exactly_past_the_budget(width: int, levels: int) -> None:
    """Each level refers `width` times to the one before: width**level nodes in total."""
    lines = ["l0: &l0 x"]
    for level in range(1, levels + 1):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * width) + "]")
    text = "\n".join(lines)
    expanded = sum(width * sum(width**k for k in range(level)) for level in range(1, levels + 1))
    if expanded <= MAX_ALIAS_NODES:
        assert load_marked(text).data["l0"] == "x"
    else:
        with pytest.raises(YamlError, match="aliases expand") as refused:
            load_marked(text)
        assert refused.value.line >= 2
