"""Run the shell commands a document shows, so the README and docs/api.md stay true.

The convention, for anyone adding to those files:

- A fenced block whose info string is `sh test` (```` ```sh test ````) is run; plain
  ```` ```sh ```` blocks are shown only (set-up a reader does by hand, like pasting the
  admin token).
- The blocks of one document run in order, in one `bash -euo pipefail` session from
  the repository root, so a variable set in one block (KEY=...) is there in the next.
- The session gets `ADMIN`, the admin token of a service started for the test as the
  README starts it (`channel-router up`, on a free port, in a temporary folder), and
  the text is run with `localhost:8000` replaced by that service's address and
  `.venv/bin/` by the folder of the Python running the tests.
- A comment line `# -> TEXT` in a run block states what the block prints: every such
  TEXT must appear in the block's output, in order; `...` in TEXT stands for anything.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

RUN_INFO = "sh test"
FENCE = re.compile(r"^```(?P<info>[^\n`]*)\n(?P<body>.*?)^```\s*$", re.MULTILINE | re.DOTALL)
EXPECT = re.compile(r"^\s*# -> (?P<text>.+?)\s*$", re.MULTILINE)
MARKER = "@@channel-router-block"


@dataclass(frozen=True)
class Block:
    """One run block: where it starts in its file, its text, and what it must print."""

    line: int
    text: str
    expected: tuple[str, ...]


def run_blocks(markdown: str) -> list[Block]:
    """The `sh test` blocks of a Markdown text, in order."""
    blocks = []
    for match in FENCE.finditer(markdown):
        if match.group("info").strip() != RUN_INFO:
            continue
        body = match.group("body")
        line = markdown.count("\n", 0, match.start()) + 1
        expected = tuple(m.group("text") for m in EXPECT.finditer(body))
        blocks.append(Block(line=line, text=body, expected=expected))
    return blocks


def substitute(text: str, replacements: Mapping[str, str]) -> str:
    for old, new in replacements.items():
        text = text.replace(old, new)
    return text


def missing(expected: tuple[str, ...], output: str) -> list[str]:
    """The expectations not found in `output` in order (`...` matches anything)."""
    absent = []
    position = 0
    for text in expected:
        pattern = ".*?".join(re.escape(part) for part in text.split("..."))
        found = re.compile(pattern, re.DOTALL).search(output, position)
        if found is None:
            absent.append(text)
        else:
            position = found.end()
    return absent


def script(blocks: list[Block], replacements: Mapping[str, str]) -> str:
    """One bash script running every block, with a marker line before each."""
    parts = ["set -euo pipefail"]
    for index, block in enumerate(blocks):
        parts.append(f"echo '{MARKER} {index}'")
        parts.append(substitute(block.text, replacements))
    return "\n".join(parts) + "\n"


def split_output(output: str, count: int) -> tuple[list[str], int]:
    """The output of each block, and the index of the last block that started (-1: none)."""
    pieces = [""] * count
    current = -1
    for line in output.splitlines(keepends=True):
        at = line.find(MARKER)  # output without a final newline leaves the marker mid-line
        if at >= 0:
            if current >= 0:
                pieces[current] += line[:at]
            current = int(line[at:].split()[1])
            continue
        if current >= 0:
            pieces[current] += line
    return pieces, current


def run_document(
    path: Path,
    *,
    cwd: Path,
    env: Mapping[str, str],
    replacements: Mapping[str, str],
    timeout: float,
) -> list[str]:
    """Run a document's blocks; returns problems (empty when every block did what it says)."""
    blocks = run_blocks(path.read_text())
    if not blocks:
        return [f"{path}: no `{RUN_INFO}` blocks"]
    result = subprocess.run(
        ["bash", "-c", script(blocks, replacements)],
        cwd=cwd,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    outputs, last_started = split_output(result.stdout, len(blocks))
    problems = []
    for index, (block, output) in enumerate(zip(blocks, outputs, strict=True)):
        where = f"{path.name}:{block.line}"
        if result.returncode != 0 and index == last_started:
            problems.append(f"{where}: exit {result.returncode}\n{block.text}\noutput:\n{output}")
            break
        for text in missing(block.expected, output):
            problems.append(f"{where}: expected {text!r}\n{block.text}\noutput:\n{output}")
    if result.returncode != 0 and not problems:
        problems.append(f"{path.name}: exit {result.returncode}\n{result.stdout}")
    return problems
