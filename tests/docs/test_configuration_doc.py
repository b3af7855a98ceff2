"""docs/configuration.md lists every CHANNEL_ROUTER_* variable the code names, and
nothing the code does not know (so a variable added anywhere must be documented).

Config classes that read `CHANNEL_ROUTER_` + a suffix (`get("EBAY_RUNAME")`) are
recognised by the suffix for the second check; the first check sees full names only."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NAME = re.compile(r"\bCHANNEL_ROUTER_[A-Z0-9]+(?:_[A-Z0-9]+)*\b")
SUFFIX = re.compile(r"""["']([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*)["']""")
DOC = REPO / "docs" / "configuration.md"


def _code_texts() -> list[str]:
    files = subprocess.run(
        ["git", "ls-files", "*.py", "Makefile", ".ci/run"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    paths = [REPO / name for name in files]
    return [p.read_text(encoding="utf-8", errors="replace") for p in paths if p.is_file()]


def _names_in_code() -> set[str]:
    return {name for text in _code_texts() for name in NAME.findall(text)}


def _suffixes_in_code() -> set[str]:
    return {"CHANNEL_ROUTER_" + s for text in _code_texts() for s in SUFFIX.findall(text)}


def test_every_variable_in_the_code_is_documented() -> None:
    code = _names_in_code()
    assert "CHANNEL_ROUTER_DATABASE_URL" in code  # the scan sees the code at all
    documented = set(NAME.findall(DOC.read_text()))
    assert sorted(code - documented) == [], "add these to docs/configuration.md"


def test_the_documentation_names_no_variable_the_code_does_not_read() -> None:
    stale = set(NAME.findall(DOC.read_text())) - _names_in_code() - _suffixes_in_code()
    assert sorted(stale) == []
