"""Split a content file into YAML front matter and Markdown, keeping line numbers.

Values come back as plain Python objects; mappings are ``LocDict`` and lists ``LocList``,
which remember the file line of each key or item so that errors can point at it.
"""
from __future__ import annotations

from dataclasses import dataclass

import yaml

TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
MAP_TAG = "tag:yaml.org,2002:map"
SEQ_TAG = "tag:yaml.org,2002:seq"


class _Loader(yaml.SafeLoader):
    """The safe loader, except that timestamps stay strings: we parse them strictly ourselves."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != TIMESTAMP_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class LocDict(dict):
    """A mapping that knows the line of each key (``lines``) and of itself (``line``)."""

    def __init__(self, line: int):
        super().__init__()
        self.line = line
        self.lines: dict[str, int] = {}

    def line_of(self, key: str) -> int:
        return self.lines.get(key, self.line)


class LocList(list):
    """A list that knows the line of each item (``lines``) and of itself (``line``)."""

    def __init__(self, line: int):
        super().__init__()
        self.line = line
        self.lines: list[int] = []

    def line_of(self, index: int) -> int:
        return self.lines[index] if index < len(self.lines) else self.line


class FrontMatterError(Exception):
    """The file cannot be split or its YAML cannot be read."""

    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass
class Document:
    """A parsed file: front matter, Markdown body and the file line where the body starts."""

    meta: LocDict
    body: str
    body_line: int
    duplicate_keys: list[tuple[str, int]]


def _build(loader: _Loader, node: yaml.Node, offset: int, duplicates: list) -> object:
    line = node.start_mark.line + offset
    if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.tag not in (MAP_TAG, SEQ_TAG):
        raise FrontMatterError(line, f"invalid YAML: the tag {node.tag!r} is not allowed")
    if isinstance(node, yaml.MappingNode):
        result = LocDict(line)
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            key_line = key_node.start_mark.line + offset
            if not isinstance(key, str):
                key = str(key)
            if key in result:
                duplicates.append((key, key_line))
            result[key] = _build(loader, value_node, offset, duplicates)
            result.lines[key] = key_line
        return result
    if isinstance(node, yaml.SequenceNode):
        result = LocList(line)
        for item in node.value:
            result.append(_build(loader, item, offset, duplicates))
            result.lines.append(item.start_mark.line + offset)
        return result
    return loader.construct_object(node, deep=True)


def parse_document(text: str) -> Document:
    """Split ``text`` into front matter and body; raise FrontMatterError with a file line."""
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    if not lines or lines[0].rstrip("\r").rstrip() != "---":
        raise FrontMatterError(1, "the file must start with YAML front matter: a line '---', the keys, then '---'")
    end = None
    for index in range(1, len(lines)):
        if lines[index].rstrip("\r").rstrip() in ("---", "..."):
            end = index
            break
    if end is None:
        raise FrontMatterError(1, "the front matter is not closed: add a line '---' after the keys")
    yaml_text = "\n".join(lines[1:end])
    offset = 2  # file line of the first YAML line (1-based, after the opening '---')
    loader = _Loader(yaml_text)
    try:
        node = loader.get_single_node()
        duplicates: list[tuple[str, int]] = []
        if node is None:
            meta = LocDict(1)
        else:
            meta = _build(loader, node, offset, duplicates)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + offset if mark is not None else 1
        problem = exc.problem or str(exc)
        raise FrontMatterError(line, f"invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise FrontMatterError(1, f"invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    if not isinstance(meta, LocDict):
        raise FrontMatterError(offset, "the front matter must be a mapping of keys to values")
    meta.line = 1  # "missing key" errors point at the front matter's opening line
    body = "\n".join(lines[end + 1:])
    return Document(meta=meta, body=body, body_line=end + 2, duplicate_keys=duplicates)
