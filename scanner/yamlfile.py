"""Safe YAML loading that remembers where each value came from.

Rules, config and suppressions are YAML written by people, so an error must say `file:line`.
Only PyYAML's safe loader is used: nothing in these files can build objects or run code.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from scanner import files
from scanner.errors import ScannerError

JsonPath = tuple[str | int, ...]

# A document larger than this is not a hand-written rule or config file; refusing it early keeps a
# mistaken path (a log file, a dump) from eating memory. The number lives with the other input limits.
MAX_YAML_BYTES = files.MAX_YAML_BYTES


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps dates as strings (JSON Schema checks their format), and refuses aliases
    (they add nothing to hand-written files and are the way to make a small file expand explosively)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class YamlDocument:
    """A loaded YAML document and the line (1-based) where each JSON path starts."""

    path: str
    data: Any
    lines: dict[JsonPath, int] = field(default_factory=dict)

    def line_of(self, json_path: JsonPath) -> int | None:
        """The line of the deepest known ancestor of `json_path`."""
        path = tuple(json_path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get(())

    def where(self, json_path: JsonPath) -> str:
        line = self.line_of(json_path)
        return f"{self.path}:{line}" if line is not None else self.path


def format_json_path(json_path: JsonPath) -> str:
    """`$.a.b[0]`; a key is text from the file, so it is escaped and cut short (scanner.terminal)."""
    from scanner.terminal import excerpt  # noqa: PLC0415

    text = "$"
    for part in json_path:
        text += f"[{part}]" if isinstance(part, int) else f".{excerpt(part, 60)}"
    return text


def load(path: str | Path, *, what: str, error: type[ScannerError]) -> YamlDocument:
    """Read and parse one YAML file; every failure is `error` with the file (and line) named."""
    raw = files.read_limited(path, what=what, limit=MAX_YAML_BYTES, error=error)
    return parse_bytes(raw, str(path), what=what, error=error)


def parse_bytes(raw: bytes, source: str, *, what: str, error: type[ScannerError]) -> YamlDocument:
    if len(raw) > MAX_YAML_BYTES:
        raise error(f"{source}: {len(raw):,} bytes, over the {what} size limit of {files.describe(MAX_YAML_BYTES)}; "
                    "not read")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{source}: the {what} is not UTF-8 text (byte {exc.start})") from None
    return parse(text, source, what=what, error=error)


def parse(text: str, source: str, *, what: str, error: type[ScannerError]) -> YamlDocument:
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = exc.problem or exc.context or "invalid YAML"
        raise error(f"{where}: {what} is not valid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise error(f"{source}: {what} is not valid YAML: {exc}") from None
    except RecursionError:
        raise error(f"{source}: {what} is nested too deeply to be a hand-written file") from None
    if node is None:
        return YamlDocument(source, None, {})
    lines: dict[JsonPath, int] = {}
    data = _construct(node, (), lines, set(), source, what, error)
    return YamlDocument(source, data, lines)


def _construct(
    node: yaml.Node,
    path: JsonPath,
    lines: dict[JsonPath, int],
    seen: set[int],
    source: str,
    what: str,
    error: type[ScannerError],
) -> Any:
    """Build plain Python data from the node tree, recording lines, refusing duplicates and aliases."""
    # The composer hands back an alias as the very node it names, so a node met twice is an alias.
    if id(node) in seen:
        raise error(f"{source}:{node.start_mark.line + 1}: {what}: YAML anchors and aliases are not supported")
    seen.add(id(node))
    if len(path) > 64:
        raise error(f"{source}:{node.start_mark.line + 1}: {what} is nested more than 64 levels deep")
    lines[path] = node.start_mark.line + 1
    if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.tag not in _COLLECTION_TAGS:
        raise error(f"{source}:{node.start_mark.line + 1}: {what}: unsupported YAML tag {node.tag!r}")
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise error(f"{source}:{key_node.start_mark.line + 1}: {what}: mapping keys must be plain text")
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise error(f"{source}:{key_node.start_mark.line + 1}: {what}: YAML merge keys (<<) are not supported")
            key = str(_SCALAR_LOADER.construct_scalar(key_node))
            child = (*path, key)
            if key in result:
                raise error(
                    f"{source}:{key_node.start_mark.line + 1}: {what}: duplicate key {key!r} "
                    f"at {format_json_path(path)} (first at line {lines[child]})"
                )
            result[key] = _construct(value_node, child, lines, seen, source, what, error)
            lines[child] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _construct(item, (*path, index), lines, seen, source, what, error) for index, item in enumerate(node.value)
        ]
    return _scalar(node, source, what, error)


_SCALAR_LOADER = _Loader("")
_COLLECTION_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")


def _scalar(node: yaml.Node, source: str, what: str, error: type[ScannerError]) -> Any:
    try:
        return _SCALAR_LOADER.construct_object(node, deep=True)
    except yaml.constructor.ConstructorError as exc:
        raise error(f"{source}:{node.start_mark.line + 1}: {what}: {exc.problem}") from None


def walk(document: Any, path: JsonPath = ()) -> Iterator[tuple[JsonPath, Any]]:
    """Every (path, value) pair of plain data, depth first; used by tests and error formatting."""
    yield path, document
    if isinstance(document, dict):
        for key, value in document.items():
            yield from walk(value, (*path, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield from walk(value, (*path, index))
