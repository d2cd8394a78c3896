"""Files of content/ as the editor sees them: paths built from validated slugs, hashes, atomic writes.

Every path handed to the rest of the editor comes from :func:`course_file` and friends, which
accept only slugs of the content format and check that the resolved path stays inside the
content folder, so no request can name a file elsewhere.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..content.schema import SLUG_RE
from ..content.tree import LESSON_RE

MAX_SLUG = 100
RESERVED = frozenset({"new"})  # /edit/lessons/new and /edit/assignments/new are the create pages


class BadPath(ValueError):
    """A slug or file name that does not follow the content format, or a path outside content/."""


def content_hash(data: bytes) -> str:
    """The hash sync stores as ``content_hash`` (SHA-256 of the file's bytes)."""
    return hashlib.sha256(data).hexdigest()


def valid_slug(slug) -> bool:
    """A slug of the content format: lower-case ASCII letters, digits and single hyphens."""
    return isinstance(slug, str) and 0 < len(slug) <= MAX_SLUG and bool(SLUG_RE.fullmatch(slug))


def _slug(slug) -> str:
    if not valid_slug(slug):
        raise BadPath(f"not a slug: {slug!r}")
    return slug


def inside(root: Path, rel: str) -> Path:
    """The absolute path of content-relative ``rel``; raises BadPath when it would leave ``root``
    or pass through a symbolic link (the content format allows none)."""
    base = Path(root).resolve()
    parts = rel.split("/")
    if not rel or rel.startswith("/") or any(p in ("", ".", "..") or "\\" in p or "\0" in p for p in parts):
        raise BadPath(f"not a content path: {rel!r}")
    target = base.joinpath(*parts)
    probe = base
    for part in parts:
        probe = probe / part
        if probe.is_symlink():
            raise BadPath(f"symbolic link in path: {rel!r}")
    if not target.resolve().is_relative_to(base) or target.resolve() == base:
        raise BadPath(f"outside the content folder: {rel!r}")
    return target


def course_file(course: str) -> str:
    return f"courses/{_slug(course)}/course.md"


def assignment_file(course: str, slug: str) -> str:
    return f"courses/{_slug(course)}/assignments/{_slug(slug)}.md"


def lesson_file(course: str, position: int, slug: str) -> str:
    if not isinstance(position, int) or position < 0:
        raise BadPath(f"not a lesson number: {position!r}")
    return f"courses/{_slug(course)}/lessons/{position:02d}-{_slug(slug)}.md"


def asset_file(course: str, name: str) -> str:
    from .assets import check_asset_name

    return f"courses/{_slug(course)}/assets/{check_asset_name(name)}"


@dataclass(frozen=True)
class LessonFile:
    """A lesson file on disk: its number, slug and content-relative path."""

    position: int
    slug: str
    path: str


def lesson_files(root: Path, course: str) -> list[LessonFile]:
    """The course's lesson files on disk, in lesson order (files with bad names are left out)."""
    folder = inside(root, f"courses/{_slug(course)}") / "lessons"
    found = []
    if folder.is_dir():
        for entry in os.scandir(folder):
            match = LESSON_RE.match(entry.name)
            if match and valid_slug(match.group(2)) and entry.is_file(follow_symlinks=False):
                found.append(LessonFile(int(match.group(1)), match.group(2),
                                        f"courses/{course}/lessons/{entry.name}"))
    return sorted(found, key=lambda f: (f.position, f.slug))


def find_lesson(root: Path, course: str, slug: str) -> LessonFile | None:
    """The lesson file whose slug is ``slug`` (whatever its number), or None."""
    _slug(slug)
    return next((f for f in lesson_files(root, course) if f.slug == slug), None)


def assignment_slugs(root: Path, course: str) -> list[str]:
    """Slugs of the course's assignment files on disk, sorted."""
    folder = inside(root, f"courses/{_slug(course)}") / "assignments"
    if not folder.is_dir():
        return []
    return sorted(e.name[:-3] for e in os.scandir(folder)
                  if e.name.endswith(".md") and valid_slug(e.name[:-3]) and e.is_file(follow_symlinks=False))


def asset_names(root: Path, course: str) -> list[tuple[str, int]]:
    """(path under assets/, size in bytes) of the course's asset files, hidden files left out."""
    base = inside(root, f"courses/{_slug(course)}") / "assets"
    found = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and not (Path(dirpath) / d).is_symlink())
        for name in filenames:
            full = Path(dirpath) / name
            if not name.startswith(".") and not full.is_symlink():
                found.append((full.relative_to(base).as_posix(), full.stat().st_size))
    return sorted(found)


def read(root: Path, rel: str) -> bytes | None:
    """The bytes of a content file, or None when there is none."""
    try:
        return inside(root, rel).read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None


def hash_of(root: Path, rel: str) -> str | None:
    data = read(root, rel)
    return None if data is None else content_hash(data)


def atomic_write(target: Path, data: bytes) -> None:
    """Replace ``target`` with ``data`` at once: a hidden temp file in the same folder, fsync, rename.

    Readers (a sync, a page) see the old file or the new one, never a half-written one; the
    temp name starts with a dot, so a scan of the tree ignores it.
    """
    folder = target.parent
    folder.mkdir(parents=True, exist_ok=True)
    mode = target.stat().st_mode & 0o777 if target.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(folder)


def remove(target: Path) -> None:
    try:
        target.unlink()
    except FileNotFoundError:
        return
    _fsync_dir(target.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


NEWLINES = re.compile(r"\r\n?")


def normalise_newlines(text: str) -> str:
    """Browsers send CRLF from text areas; files are written with LF."""
    return NEWLINES.sub("\n", text)
