"""Problems found while loading policies, each pinned to a place in a file."""

from __future__ import annotations

from collections.abc import Iterable

import msgspec


class Problem(msgspec.Struct, frozen=True, order=True):
    """One thing wrong with one file, at the YAML node that is wrong (1-based)."""

    file: str
    line: int
    col: int
    message: str
    # A stable code for tools (`policy lint --format json`); empty for plain schema problems.
    code: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.message}"


class PolicyProblems(Exception):
    """Raised when a policy folder does not load; carries every problem at once."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = sorted(set(problems))
        super().__init__("\n".join(str(p) for p in self.problems))
