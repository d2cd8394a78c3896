"""Saves of the things a mentor edits: the course description, lessons, assignments, images and
the lesson order. Each works out its change from the files under the editor's lock (see save.py).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ...models import User
from . import files
from .assets import asset_name
from .documents import compose
from .save import Change, Conflict, Edit, EditError, Saved, save, settings

KINDS = ("course", "lesson", "assignment")


class SlugTaken(EditError):
    """A new lesson or assignment would reuse a slug of the course."""


class AssetExists(EditError):
    """An image of that name exists and replacing it was not asked for."""


@dataclass(frozen=True)
class Opened:
    """A file as the editor opens it: its path, text and content hash."""

    path: str
    text: str
    hash: str


def _path_of(root: Path, kind: str, course: str, slug: str) -> str | None:
    if kind == "course":
        return files.course_file(course)
    if kind == "assignment":
        return files.assignment_file(course, slug)
    found = files.find_lesson(root, course, slug)
    return found.path if found else None


def open_document(kind: str, course: str, slug: str | None = None, root: Path | None = None) -> Opened | None:
    """The course.md, lesson or assignment file as it is on disk now, or None when there is none
    (or it is not UTF-8 text). Raises files.BadPath for slugs that are not slugs."""
    root = root or settings().root
    path = _path_of(root, kind, course, slug or course)
    data = files.read(root, path) if path else None
    if data is None:
        return None
    try:
        return Opened(path, data.decode("utf-8"), files.content_hash(data))
    except UnicodeDecodeError:
        return None


def save_document(actor: User, kind: str, course: str, slug: str | None, meta: dict, body: str, *,
                  base_hash: str | None, message: str) -> Saved:
    """Write a course description, lesson or assignment from its front matter and body.

    ``base_hash`` is the content hash of the file the editor opened, or None for a new lesson
    or assignment (which then gets the next lesson number, or its own file).
    """
    slug = slug or course

    def build(root: Path) -> Edit:
        if base_hash is None:
            if kind == "lesson":
                lessons = files.lesson_files(root, course)
                if any(f.slug == slug for f in lessons):
                    raise SlugTaken(slug)
                path = files.lesson_file(course, max((f.position for f in lessons), default=0) + 1, slug)
            else:
                path = files.assignment_file(course, slug)
                if files.read(root, path) is not None:
                    raise SlugTaken(slug)
            original = None
        else:
            path = _path_of(root, kind, course, slug)
            if path is None:
                raise Conflict(None, None)
            original = files.read(root, path)
        text = compose(kind, meta, body, original.decode("utf-8", "replace") if original is not None else None)
        return Edit(kind=kind, course=course, slug=slug, changes=[Change(path, text.encode("utf-8"))],
                    action="content.edited", message=message,
                    expected={path: base_hash} if base_hash is not None else {path: None})

    return save(actor, build)


def save_asset(actor: User, course: str, name: str, upload_path: str, *, replace: bool, message: str) -> Saved:
    """Add (or, with ``replace``, replace) an image under the course's ``assets/``.

    The upload must have passed assets.check_image; its bytes are copied into content/.
    """
    name = asset_name(name)

    def build(root: Path) -> Edit:
        path = files.asset_file(course, name)
        if files.read(root, path) is not None and not replace:
            raise AssetExists(name)
        with open(upload_path, "rb") as f:
            data = f.read()
        return Edit(kind="asset", course=course, slug=name, changes=[Change(path, data)],
                    action="content.asset_uploaded", message=message)

    return save(actor, build)


def listing_hash(course: str, root: Path | None = None) -> str:
    """A hash of the course's lesson file names: it changes when a lesson is added, removed or renumbered."""
    root = root or settings().root
    names = "\n".join(f.path for f in files.lesson_files(root, course))
    return hashlib.sha256(names.encode("utf-8")).hexdigest()


def save_order(actor: User, course: str, slugs: list[str], *, base_listing: str, message: str) -> Saved:
    """Renumber the course's lesson files 01, 02, ... in the order of ``slugs``.

    Refused with Conflict when the lesson files changed since the page showed them
    (``base_listing`` is the listing_hash it showed).
    """
    def build(root: Path) -> Edit:
        lessons = files.lesson_files(root, course)
        if listing_hash(course, root) != base_listing or sorted(slugs) != sorted(f.slug for f in lessons):
            raise Conflict(None, None)
        by_slug = {f.slug: f for f in lessons}
        changes = []
        for number, slug in enumerate(slugs, start=1):
            old = by_slug[slug]
            new = files.lesson_file(course, number, slug)
            if new != old.path:
                changes += [Change(old.path, None), Change(new, files.read(root, old.path))]
        return Edit(kind="order", course=course, slug=course, changes=changes, action="content.reordered",
                    message=message)

    return save(actor, build)


def slug_taken(kind: str, course: str, slug: str, root: Path | None = None) -> bool:
    """A lesson or assignment file of the course already uses ``slug``."""
    root = root or settings().root
    if kind == "lesson":
        return files.find_lesson(root, course, slug) is not None
    return files.read(root, files.assignment_file(course, slug)) is not None


def lessons_on_disk(course: str, root: Path | None = None) -> list[files.LessonFile]:
    """The course's lesson files in order, as they are on disk now."""
    return files.lesson_files(root or settings().root, course)


def assignments_on_disk(course: str, root: Path | None = None) -> list[str]:
    """Slugs of the course's assignment files on disk now."""
    return files.assignment_slugs(root or settings().root, course)


def assets_on_disk(course: str, root: Path | None = None) -> list[tuple[str, int]]:
    """(name under assets/, size) of the course's asset files on disk now."""
    return files.asset_names(root or settings().root, course)
