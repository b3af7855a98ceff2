"""Ways to break a policy folder, shared by the engine and the API tests."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

PROBLEM = re.compile(r"^(?P<file>.+):(?P<line>\d+):(?P<col>\d+): (?P<message>.+)$")
SECRET = "outside-secret-4f1b"

# A YAML file of about 300 bytes that stands for 9**9 (387 million) strings.
BOMB = "".join(
    f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9 if prev else ['"x"'] * 9) + "]\n"
    for prev, name in zip([None, *"abcdefgh"], "abcdefghi", strict=True)
)


def _nul(folder: Path) -> None:
    (folder / "channel-routing" / "v3.yaml").write_bytes(b"policy: channel-routing\x00\n")


def _folder_named_yaml(folder: Path) -> None:
    (folder / "channel-routing" / "v2.yaml").mkdir()


def _dangling_link(folder: Path) -> None:
    (folder / "channel-routing" / "v4.yaml").symlink_to(folder / "channel-routing" / "gone.yaml")


def _link_out(folder: Path) -> None:
    outside = folder.parent / "outside.yaml"
    outside.write_text(f"policy: {SECRET}\n")
    (folder / "channel-routing" / "v5.yaml").symlink_to(outside)


def _bomb(folder: Path) -> None:
    (folder / "merchants" / "bomb.yaml").write_text(BOMB)


def _deep(folder: Path) -> None:
    (folder / "channel-routing" / "v6.yaml").write_text("params: " + "[" * 5000 + "]" * 5000 + "\n")


BREAKS: dict[str, tuple[Callable[[Path], None], str, str]] = {
    # name: (how to break the folder, file reported, what the message says)
    "nul byte": (_nul, "channel-routing/v3.yaml", "not allowed"),
    "folder named v2.yaml": (_folder_named_yaml, "channel-routing/v2.yaml", "a folder"),
    "dangling symlink": (_dangling_link, "channel-routing/v4.yaml", "does not exist"),
    "symlink out of the folder": (_link_out, "channel-routing/v5.yaml", "leaves the policy folder"),
    "alias bomb": (_bomb, "merchants/bomb.yaml", "aliases expand"),
    "deep nesting": (_deep, "channel-routing/v6.yaml", "nested deeper"),
}
