"""Read YAML into plain data while remembering where every node sits.

Schema errors and semantic checks name a path inside the document
(`("rules", 3, "outcome")`); `Marked.where(path)` turns that path into the
line and column of the node, so every problem points at the text a reviewer
has to change.
"""

from __future__ import annotations

from typing import Any

import yaml

Path = tuple[str | int, ...]


class Marked:
    """A parsed document plus the (line, col) of each node, keyed by path."""

    def __init__(
        self,
        data: Any,
        marks: dict[Path, tuple[int, int]],
        keys: dict[Path, tuple[int, int]] | None = None,
    ) -> None:
        self.data = data
        self.marks = marks
        self.keys = keys or {}

    def key_where(self, path: Path) -> tuple[int, int]:
        """Line and column of the key naming the node at `path` (else of the node)."""
        return self.keys.get(path) or self.where(path)

    def where(self, path: Path) -> tuple[int, int]:
        """Line and column (1-based) of the node at `path`, or of its nearest parent."""
        for cut in range(len(path), -1, -1):
            found = self.marks.get(tuple(path[:cut]))
            if found is not None:
                return found
        return (1, 1)


class YamlError(ValueError):
    def __init__(self, message: str, line: int, col: int) -> None:
        super().__init__(message)
        self.line = line
        self.col = col


def load_marked(text: str) -> Marked:
    """Parse one YAML document; raise YamlError (with position) on bad syntax or duplicate keys."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise YamlError(f"invalid YAML: {exc.problem or exc}", line, col) from None
    finally:
        loader.dispose()
    marks: dict[Path, tuple[int, int]] = {}
    keys: dict[Path, tuple[int, int]] = {}
    if node is None:
        return Marked(None, {(): (1, 1)})
    return Marked(_convert(loader, node, (), marks, keys), marks, keys)


def _convert(
    loader: yaml.SafeLoader,
    node: yaml.Node,
    path: Path,
    marks: dict[Path, tuple[int, int]],
    keys: dict[Path, tuple[int, int]],
) -> Any:
    marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                key = str(key)
            if key in out:
                raise YamlError(
                    f"duplicate key {key!r}",
                    key_node.start_mark.line + 1,
                    key_node.start_mark.column + 1,
                )
            keys[(*path, key)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            out[key] = _convert(loader, value_node, (*path, key), marks, keys)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _convert(loader, item, (*path, i), marks, keys) for i, item in enumerate(node.value)
        ]
    if node.tag == _TIMESTAMP:
        # Keep dates as written (`active_from: 2026-12-24T00:00:00Z`): the schemas
        # describe them as strings, and the loader reads them as RFC 3339.
        return node.value
    return loader.construct_object(node, deep=True)


_TIMESTAMP = "tag:yaml.org,2002:timestamp"
