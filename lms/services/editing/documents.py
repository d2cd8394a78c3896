"""Content files as the editor writes them: YAML front matter from fields, then the Markdown.

The editor never writes what sync would refuse: :func:`problems` runs the content format's own
parser and validators on the exact text that would be saved. When the front matter means the
same as before, the original lines are kept (comments, quoting and key order included), so
editing only the text changes only the text, and saving without a change keeps every byte.
"""
from __future__ import annotations

import yaml

from ..content.frontmatter import FrontMatterError, parse_document
from ..content.schema import VALIDATORS
from .files import normalise_newlines

TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


class _Dumper(yaml.SafeDumper):
    """Block style with indented lists, as in the documentation's examples; a date-time stays
    unquoted, because the content loader reads it as text anyway."""

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


_Dumper.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != TIMESTAMP_TAG]
    for first, resolvers in yaml.SafeDumper.yaml_implicit_resolvers.items()
}


def front_matter(meta: dict) -> str:
    """The YAML of ``meta`` (keys in the given order), between the two ``---`` lines."""
    text = yaml.dump(meta, Dumper=_Dumper, allow_unicode=True, sort_keys=False, default_flow_style=False,
                     width=10_000)
    return f"---\n{text}---\n"


def problems(kind: str, text: str) -> list[tuple[int, str]]:
    """Every problem the content format finds in ``text`` on its own, as (line, message)."""
    try:
        doc = parse_document(text)
    except FrontMatterError as exc:
        return [(exc.line, exc.message)]
    found = [(line, f"key '{key}' appears twice") for key, line in doc.duplicate_keys]
    _meta, issues = VALIDATORS[kind](doc)
    return sorted(found + list(issues))


def _meaning(kind: str, text: str) -> dict | None:
    """The normalised front matter of ``text``, or None when it cannot be read."""
    try:
        doc = parse_document(text)
    except FrontMatterError:
        return None
    meta, issues = VALIDATORS[kind](doc)
    return None if issues or doc.duplicate_keys else meta


def split(text: str) -> tuple[str, str]:
    """(front matter lines with both ``---``, the body after them) of a readable file."""
    doc = parse_document(text)
    lines = text.split("\n")
    head = "\n".join(lines[:doc.body_line - 1]) + "\n"
    return head, doc.body


def _same_text(a: str, b: str) -> bool:
    return normalise_newlines(a).strip("\n") == normalise_newlines(b).strip("\n")


def compose(kind: str, meta: dict, body: str, original: str | None = None) -> str:
    """The file text for ``meta`` and ``body``; ``original`` is the file as it is now, if any.

    Front matter that means the same as the original's keeps the original's lines; a body that
    differs from the original only by line endings or blank lines at either end keeps the
    original's, so an unchanged form gives back the original bytes. New text has one blank
    line after the front matter (or as many as the original had) and LF line endings (CRLF
    when the original used them).
    """
    head, gap = front_matter(meta), 1
    crlf = False
    if original is not None:
        try:
            old_head, old_body = split(original)
        except FrontMatterError:
            old_head = old_body = None
        if old_head is not None:
            crlf = "\r\n" in original
            old_body = normalise_newlines(old_body)
            gap = len(old_body) - len(old_body.lstrip("\n"))
            meaning = _meaning(kind, head)
            if meaning is not None and meaning == _meaning(kind, original):
                if _same_text(old_body, body):
                    return original
                head = normalise_newlines(old_head)
    body = normalise_newlines(body).strip("\n")
    text = head + "\n" * gap + body + "\n" if body.strip() else head
    return text.replace("\n", "\r\n") if crlf else text


def read_document(kind: str, text: str) -> tuple[dict, dict, list[tuple[int, str]], str]:
    """(raw front matter, normalised front matter, problems, body) of a file, to fill the editor.

    Raises FrontMatterError when the file cannot be split or its YAML cannot be read.
    """
    doc = parse_document(text)
    meta, issues = VALIDATORS[kind](doc)
    return doc.meta, meta, list(issues), normalise_newlines(doc.body).strip("\n")
