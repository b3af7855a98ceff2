"""Fixtures of the engine tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from policy_files import REPO


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A private copy of the shipped policy folder, free to break."""
    return Path(shutil.copytree(REPO / "policies", tmp_path / "policies"))
