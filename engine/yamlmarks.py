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


# A policy file is small and shallow. Deeper nesting, or aliases that would copy in
# more nodes than this, is refused at the node that crosses the line, before any
# of it is expanded (a few hundred bytes of nested aliases can stand for billions
# of nodes).
MAX_DEPTH = 64
MAX_ALIAS_NODES = 10_000


class _GuardedLoader(yaml.SafeLoader):
    """PyYAML's safe loader with a nesting limit and an alias expansion budget."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._depth = 0
        self._expanded = 0
        self._open_anchors: set[str] = set()
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event = self.peek_event()
        mark = event.start_mark
        if isinstance(event, yaml.AliasEvent):
            if event.anchor in self._open_anchors:
                raise YamlError(
                    f"alias *{event.anchor} refers to the node that contains it",
                    mark.line + 1,
                    mark.column + 1,
                )
            node = self.anchors.get(event.anchor)
            if node is not None:
                self._expanded += self._size(node)
                if self._expanded > MAX_ALIAS_NODES:
                    raise YamlError(
                        f"aliases expand to more than {MAX_ALIAS_NODES} nodes "
                        f"(at alias *{event.anchor}); write the values out instead",
                        mark.line + 1,
                        mark.column + 1,
                    )
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise YamlError(
                f"nested deeper than {MAX_DEPTH} levels", mark.line + 1, mark.column + 1
            )
        anchor = getattr(event, "anchor", None)
        if anchor:
            self._open_anchors.add(anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1
            if anchor:
                self._open_anchors.discard(anchor)

    def _size(self, node: yaml.Node) -> int:
        """How many nodes `node` stands for once its own aliases are expanded."""
        known = self._sizes.get(id(node))
        if known is not None:
            return known
        if isinstance(node, yaml.SequenceNode):
            size = 1 + sum(self._size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            size = 1 + sum(self._size(k) + self._size(v) for k, v in node.value)
        else:
            size = 1
        self._sizes[id(node)] = size
        return size


def _position(text: str, index: int) -> tuple[int, int]:
    before = text[:index]
    return before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1


def load_marked(text: str) -> Marked:
    """Parse one YAML document; raise YamlError (with position) on bad syntax, duplicate
    keys, characters YAML does not allow, nesting too deep or aliases expanding too far."""
    try:
        loader = _GuardedLoader(text)
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (NUL, ...)
        line, col = _position(text, exc.position)
        raise YamlError(
            f"invalid YAML: {exc.reason} (character #x{exc.character:04x})", line, col
        ) from None
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise YamlError(f"invalid YAML: {exc.problem or exc}", line, col) from None
    except yaml.reader.ReaderError as exc:
        line, col = _position(text, exc.position)
        raise YamlError(
            f"invalid YAML: {exc.reason} (character #x{exc.character:04x})", line, col
        ) from None
    except yaml.YAMLError as exc:
        raise YamlError(f"invalid YAML: {type(exc).__name__}", 1, 1) from None
    finally:
        if "loader" in locals():
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
