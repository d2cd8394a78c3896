"""Work out what a content tree means: parse what changed, validate everything, find errors.

The plan needs no database: ``known`` carries what the database already holds (by item key:
path, hash and stored metadata) so that unchanged files are neither parsed nor rendered.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .errors import ContentError
from .frontmatter import Document, FrontMatterError, LocDict, LocList, parse_document
from .schema import VALIDATORS
from .tree import SourceFile, scan_tree


@dataclass
class Known:
    """What the database holds for one item key."""

    id: int
    path: str
    hash: str
    meta: dict
    retired: bool


@dataclass
class Entry:
    """One file of the plan; ``doc`` is set only for files that had to be parsed."""

    file: SourceFile
    meta: dict | None = None
    doc: Document | None = None
    known: Known | None = None

    @property
    def unchanged(self) -> bool:
        k = self.known
        return k is not None and not k.retired and k.hash == self.file.hash and k.path == self.file.path

    @property
    def content_changed(self) -> bool:
        return self.known is None or self.known.hash != self.file.hash


@dataclass
class Plan:
    root: Path
    entries: list[Entry] = field(default_factory=list)
    errors: list[ContentError] = field(default_factory=list)
    warnings: list[ContentError] = field(default_factory=list)

    _targets: tuple[set, set] | None = None

    def of_kind(self, kind: str) -> list[Entry]:
        return [e for e in self.entries if e.file.kind == kind]

    def targets(self) -> tuple[set[str], set[tuple[str, str]]]:
        """Every path in the tree, and every (course, lesson slug): what a link may point at."""
        if self._targets is None:
            self._targets = ({e.file.path for e in self.entries},
                             {(e.file.course, e.file.slug) for e in self.of_kind("lesson")})
        return self._targets


def parse_entry(entry: Entry, errors: list[ContentError]) -> None:
    path = entry.file.path
    try:
        text = entry.file.data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = entry.file.data[: exc.start].count(b"\n") + 1
        errors.append(ContentError(path, line, "the file is not valid UTF-8 text"))
        return
    try:
        doc = parse_document(text)
    except FrontMatterError as exc:
        errors.append(ContentError(path, exc.line, exc.message))
        return
    for key, line in doc.duplicate_keys:
        errors.append(ContentError(path, line, f"key '{key}' appears twice"))
    meta, problems = VALIDATORS[entry.file.kind](doc)
    errors.extend(ContentError(path, line, message) for line, message in problems)
    entry.doc, entry.meta = doc, meta


def _line_of(entry: Entry, key: str, index: int | None = None) -> int:
    """The line of a top-level key (or of one item of its list), parsing the file if needed."""
    if entry.doc is None:
        try:
            entry.doc = parse_document(entry.file.data.decode("utf-8"))
        except (UnicodeDecodeError, FrontMatterError):
            return 1
    meta: LocDict = entry.doc.meta
    value = meta.get(key)
    if index is not None and isinstance(value, LocList):
        return value.line_of(index)
    return meta.line_of(key)


def _cross_check(plan: Plan) -> None:
    """Checks that need the whole tree: references between files and unique lesson slots."""
    cases = {e.file.slug for e in plan.of_kind("case")}
    lessons_by_course: dict[str, dict[str, Entry]] = {}
    positions: dict[tuple[str, int], Entry] = {}
    for entry in plan.of_kind("lesson"):
        course, slug = entry.file.course, entry.file.slug
        same_slug = lessons_by_course.setdefault(course, {}).get(slug)
        if same_slug is not None:
            plan.errors.append(ContentError(entry.file.path, 1,
                                            f"lesson slug {slug!r} is already used by {same_slug.file.path}"))
        lessons_by_course[course][slug] = entry
        other = positions.get((course, entry.file.position))
        if other is not None:
            plan.errors.append(ContentError(entry.file.path, 1, f"lesson number {entry.file.position:02d} "
                                                                f"is already used by {other.file.path}"))
        positions[(course, entry.file.position)] = entry
    for entry in plan.entries:
        if entry.meta is None or entry.file.kind not in ("course", "lesson"):
            continue
        for index, slug in enumerate(entry.meta.get("cases") or []):
            if slug not in cases:
                plan.errors.append(ContentError(entry.file.path, _line_of(entry, "cases", index),
                                                f"case {slug!r} does not exist (no cases/{slug}.md)"))
    for entry in plan.of_kind("assignment"):
        after = entry.meta and entry.meta.get("after_lesson")
        if after and after not in lessons_by_course.get(entry.file.course, {}):
            plan.errors.append(ContentError(entry.file.path, _line_of(entry, "after_lesson"),
                                            f"'after_lesson' names {after!r}, which is not a lesson of this course"))


def check_links(plan: Plan, entry: Entry, links: tuple[str, ...]) -> None:
    """Warn about relative links whose target is not in the tree (lessons match by slug)."""
    present, lesson_slugs = plan.targets()
    source = entry.doc.body if entry.doc else ""
    for target in links:
        parts = target.split("/")
        if target in present:
            continue
        if len(parts) == 4 and parts[0] == "courses" and parts[2] == "lessons":
            stem = parts[3][:-3] if parts[3].endswith(".md") else parts[3]
            slug = stem.split("-", 1)[1] if "-" in stem and stem.split("-", 1)[0].isdigit() else stem
            if (parts[1], slug) in lesson_slugs:
                continue
        name = parts[-1]
        offset = next((n for n, text in enumerate(source.split("\n")) if name in text), 0)
        line = (entry.doc.body_line if entry.doc else 1) + offset
        plan.warnings.append(ContentError(entry.file.path, line, f"link to {target!r}, which does not exist"))


def make_plan(root: Path, known: dict[tuple, Known] | None = None, max_asset_mb: int = 20) -> Plan:
    """Scan ``root``, parse the files that differ from ``known``, and collect every error."""
    files, errors = scan_tree(root)
    for file in files:
        if file.kind == "asset" and len(file.data) > max_asset_mb * 1024 * 1024:
            errors.append(ContentError(file.path, 1, f"the asset is larger than {max_asset_mb} MiB"))
    plan = Plan(root=root, errors=errors)
    known = known or {}
    for file in files:
        entry = Entry(file=file, known=known.get(file.key))
        plan.entries.append(entry)
        if file.kind == "asset":
            continue
        if entry.known is not None and entry.known.hash == file.hash and entry.known.meta:
            entry.meta = entry.known.meta
        else:
            parse_entry(entry, plan.errors)
    _cross_check(plan)
    plan.errors.sort()
    return plan
