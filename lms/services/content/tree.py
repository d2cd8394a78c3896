"""Find the files of a content tree and classify them by their place in the layout."""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import ContentError
from .schema import SLUG_RE

LESSON_RE = re.compile(r"^(\d+)-(.+)\.md$")


@dataclass
class SourceFile:
    """One file of the tree; ``key`` is the identity its item keeps across edits and renames."""

    path: str            # relative to the content folder, with '/' separators
    kind: str            # case, course, lesson, assignment or asset
    data: bytes
    hash: str
    course: str | None = None
    slug: str | None = None
    position: int | None = None

    @property
    def key(self) -> tuple:
        if self.kind == "asset":
            return ("asset", self.course, self.slug)
        if self.kind in ("lesson", "assignment"):
            return (self.kind, self.course, self.slug)
        return (self.kind, self.slug)


SYMLINK_MESSAGE = "symbolic links are not allowed in content/: copy the file instead"


def _visible(entries, root: Path | None = None, errors: list[ContentError] | None = None) -> list[os.DirEntry]:
    """Entries not hidden; symbolic links are reported (when ``errors`` is given) and left out."""
    result = []
    for entry in sorted(entries, key=lambda e: e.name):
        if entry.name.startswith("."):
            continue
        if entry.is_symlink():
            if errors is not None:
                errors.append(ContentError(Path(entry.path).relative_to(root).as_posix(), 1, SYMLINK_MESSAGE))
            continue
        result.append(entry)
    return result


def _read(root: Path, rel: str, kind: str, errors: list[ContentError], **fields) -> SourceFile | None:
    full = root / rel
    if full.is_symlink():
        errors.append(ContentError(rel, 1, SYMLINK_MESSAGE))
        return None
    data = full.read_bytes()
    return SourceFile(path=rel, kind=kind, data=data, hash=hashlib.sha256(data).hexdigest(), **fields)


def _scan_assets(root: Path, course: str, errors: list[ContentError], files: list[SourceFile]) -> None:
    base = root / "courses" / course / "assets"
    for dirpath, dirnames, filenames in os.walk(base):
        for name in dirnames:
            if (Path(dirpath) / name).is_symlink():
                errors.append(ContentError((Path(dirpath) / name).relative_to(root).as_posix(), 1, SYMLINK_MESSAGE))
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and not (Path(dirpath) / d).is_symlink())
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            full = Path(dirpath) / name
            rel = full.relative_to(root).as_posix()
            asset_path = full.relative_to(base).as_posix()
            found = _read(root, rel, "asset", errors, course=course, slug=asset_path)
            if found:
                files.append(found)


def _scan_course(root: Path, course: str, errors: list[ContentError], files: list[SourceFile]) -> None:
    base = root / "courses" / course
    prefix = f"courses/{course}"
    if not SLUG_RE.match(course):
        errors.append(ContentError(prefix, 1, f"course folder {course!r} is not a valid slug "
                                              "(lower-case letters, digits and hyphens)"))
        return
    if not (base / "course.md").is_file():
        errors.append(ContentError(prefix, 1, "the course folder has no course.md"))
    for entry in _visible(os.scandir(base), root, errors):
        rel = f"{prefix}/{entry.name}"
        if entry.name == "course.md" and entry.is_file(follow_symlinks=False):
            found = _read(root, rel, "course", errors, course=course, slug=course)
            if found:
                files.append(found)
        elif entry.name == "lessons" and entry.is_dir(follow_symlinks=False):
            for lesson in _visible(os.scandir(entry.path), root, errors):
                lrel = f"{rel}/{lesson.name}"
                match = LESSON_RE.match(lesson.name)
                if not lesson.is_file(follow_symlinks=False) or not match or not SLUG_RE.match(match.group(2)):
                    errors.append(ContentError(lrel, 1, "a lesson file must be named NN-<slug>.md, "
                                                        "for example 01-getting-started.md"))
                    continue
                found = _read(root, lrel, "lesson", errors, course=course, slug=match.group(2),
                              position=int(match.group(1)))
                if found:
                    files.append(found)
        elif entry.name == "assignments" and entry.is_dir(follow_symlinks=False):
            for assignment in _visible(os.scandir(entry.path), root, errors):
                arel = f"{rel}/{assignment.name}"
                slug = assignment.name[:-3] if assignment.name.endswith(".md") else ""
                if not assignment.is_file(follow_symlinks=False) or not SLUG_RE.match(slug):
                    errors.append(ContentError(arel, 1, "an assignment file must be named <slug>.md, "
                                                        "for example final-project.md"))
                    continue
                found = _read(root, arel, "assignment", errors, course=course, slug=slug)
                if found:
                    files.append(found)
        elif entry.name == "assets" and entry.is_dir(follow_symlinks=False):
            _scan_assets(root, course, errors, files)
        else:
            errors.append(ContentError(rel, 1, "unexpected entry in a course folder: expected course.md, "
                                               "lessons/, assignments/ and assets/"))


def scan_tree(root: Path) -> tuple[list[SourceFile], list[ContentError]]:
    """Every content file under ``root`` (hidden files ignored) and the layout errors found."""
    files: list[SourceFile] = []
    errors: list[ContentError] = []
    if not root.is_dir():
        return files, [ContentError(str(root), 1, "the content folder does not exist")]
    cases_dir = root / "cases"
    if cases_dir.is_dir():
        for entry in _visible(os.scandir(cases_dir), root, errors):
            rel = f"cases/{entry.name}"
            slug = entry.name[:-3] if entry.name.endswith(".md") else ""
            if not entry.is_file(follow_symlinks=False) or not SLUG_RE.match(slug):
                errors.append(ContentError(rel, 1, "a case file must be named <slug>.md, for example port-logistics.md"))
                continue
            found = _read(root, rel, "case", errors, slug=slug)
            if found:
                files.append(found)
    courses_dir = root / "courses"
    if courses_dir.is_dir():
        for entry in _visible(os.scandir(courses_dir), root, errors):
            if entry.is_dir(follow_symlinks=False):
                _scan_course(root, entry.name, errors, files)
            else:
                errors.append(ContentError(f"courses/{entry.name}", 1, "only course folders belong in courses/"))
    return files, errors
