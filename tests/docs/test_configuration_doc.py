"""docs/configuration.md lists every CHANNEL_ROUTER_* variable the code reads, and
nothing the code does not know (so a variable added anywhere must be documented)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NAME = re.compile(r"\bCHANNEL_ROUTER_[A-Z0-9]+(?:_[A-Z0-9]+)*\b")
DOC = REPO / "docs" / "configuration.md"


def _names_in_code() -> set[str]:
    files = subprocess.run(
        ["git", "ls-files", "*.py", "Makefile", ".ci/run"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    found: set[str] = set()
    for name in files:
        path = REPO / name
        if path.is_file():
            found |= set(NAME.findall(path.read_text(encoding="utf-8", errors="replace")))
    return found


def test_every_variable_in_the_code_is_documented() -> None:
    code = _names_in_code()
    assert "CHANNEL_ROUTER_DATABASE_URL" in code  # the scan sees the code at all
    documented = set(NAME.findall(DOC.read_text()))
    assert sorted(code - documented) == [], "add these to docs/configuration.md"


def test_the_documentation_names_no_variable_the_code_does_not_read() -> None:
    stale = set(NAME.findall(DOC.read_text())) - _names_in_code()
    assert sorted(stale) == []
