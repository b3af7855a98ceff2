"""The commands the README and docs/api.md show work as written, against a service
started as the README starts it (see tests/docs/shell_blocks.py for the convention)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.docs.conftest import UpService, clean_env
from tests.docs.shell_blocks import run_blocks, run_document

REPO = Path(__file__).resolve().parents[2]
DOCUMENTS = ["README.md", "docs/api.md"]


@pytest.mark.parametrize("document", DOCUMENTS)
def test_the_commands_a_document_shows_work(document: str, up_service: UpService) -> None:
    replacements = {
        "localhost:8000": up_service.url.removeprefix("http://"),
        ".venv/bin/": f"{Path(sys.executable).parent}/",
        "localhost:8100": up_service.sandbox_url.removeprefix("http://"),
    }
    problems = run_document(
        REPO / document,
        cwd=REPO,
        env={**clean_env(), "ADMIN": up_service.admin_token},
        replacements=replacements,
        timeout=120,
    )
    assert not problems, "\n\n".join(problems)


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_document_has_checked_commands(document: str) -> None:
    blocks = run_blocks((REPO / document).read_text())
    assert blocks, f"{document} has no `sh test` blocks"
    assert sum(len(b.expected) for b in blocks) >= len(blocks) // 2
