"""Helpers for tests that edit a copy of the shipped policy folder and run the CLI on it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
POLICY = "channel-routing/v1.yaml"


def edit(path: Path, old: str, new: str) -> None:
    """Replace the first `old` in a file; fail loudly if it is not there."""
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def line_of(path: Path, needle: str, start: int = 1) -> int:
    """The 1-based number of the first line from `start` containing `needle`."""
    lines = path.read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if i >= start and needle in line)


def run_cli(
    *args: str, cwd: Path = REPO, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`channel-router ARGS...` in a fresh process, as CI runs it."""
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), **(env or {})},
    )


def add_version(folder: Path, header: str, percent: int = 40) -> Path:
    """`channel-routing/v2.yaml`: a copy of v1 whose `active: true` line is replaced by
    `header` (e.g. `shadow: true`), with `moderate_external_percent` set to `percent`."""
    text = (folder / POLICY).read_text().replace('version: "1"', 'version: "2"')
    text = text.replace("active: true\n", header).replace("default: 40", f"default: {percent}")
    target = folder / "channel-routing" / "v2.yaml"
    target.write_text(text)
    return target
