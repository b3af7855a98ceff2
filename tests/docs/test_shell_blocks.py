"""The document checker itself: which blocks run, how expectations match, and that a
block that fails or prints something else is reported with its line."""

from __future__ import annotations

import os
from pathlib import Path

from tests.docs.shell_blocks import missing, run_blocks, run_document

DOC = """# Title

```sh
ADMIN=...   # shown only
```

```sh test
GREETING=hello
echo "$GREETING world"
# -> hello world
```

```python
print("not shell")
```

```sh test
printf "no newline at the end"
# -> no newline at the end
```

```sh test
printf "%s" "$GREETING again, $ADMIN at localhost:8000"
# -> hello again, ... at 127.0.0.1:9
```
"""


def test_only_sh_test_blocks_run_in_order_with_their_expectations() -> None:
    blocks = run_blocks(DOC)
    assert [b.line for b in blocks] == [7, 17, 22]
    assert blocks[0].expected == ("hello world",)
    assert "GREETING=hello" in blocks[0].text


def test_expectations_match_in_order_with_wildcards() -> None:
    assert missing(("a...c", "d"), "abc d") == []
    assert missing(("d", "a"), "a d") == ["a"]
    assert missing(('"x":1',), '{"x": 1}') == ['"x":1']


def _run(tmp_path: Path, text: str) -> list[str]:
    doc = tmp_path / "doc.md"
    doc.write_text(text)
    return run_document(
        doc,
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"], "ADMIN": "tok"},
        replacements={"localhost:8000": "127.0.0.1:9"},
        timeout=30,
    )


def test_a_document_that_does_what_it_says_passes(tmp_path: Path) -> None:
    assert _run(tmp_path, DOC) == []


def test_wrong_output_and_failing_commands_are_reported_at_their_line(tmp_path: Path) -> None:
    [wrong] = _run(tmp_path, DOC.replace("# -> hello world", "# -> goodbye"))
    assert wrong.startswith("doc.md:7: expected 'goodbye'")
    [failed] = _run(tmp_path, DOC.replace('echo "$GREETING world"', "false"))
    assert failed.startswith("doc.md:7: exit 1")
    assert _run(tmp_path, "no blocks here\n") == [f"{tmp_path / 'doc.md'}: no `sh test` blocks"]
