"""One save from the editor: check, write, commit, sync and log, one save at a time.

A save runs under a lock held across all its steps (a file lock for every worker process of
the server, plus a PostgreSQL advisory lock for servers sharing the database), so two saves
never interleave. Inside it:

1. the change is worked out from the files as they are now, and every file it touches must
   still have the content hash the editor started from (else :class:`Conflict`);
2. the files are written atomically and the whole tree is checked with the content format's
   rules (else the old bytes are put back and :class:`Invalid` is raised);
3. inside a git work tree, exactly those paths are committed with the mentor as author (a
   failed commit puts the old bytes and index entries back: :class:`CommitFailed`);
4. the tree is synced, so the new version shows at once with its commit id, and the save is
   written to the audit log.

Nothing is written to the database before the commit succeeded.
"""
from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError

from ...db_setup import begin_write
from ...extensions import db
from ...models import Asset, Assignment, Course, Lesson, User
from .. import audit
from ..content.errors import ContentError
from ..content.status import write_status
from ..content.sync import check_tree, sync_tree
from . import files
from .gitops import Git, GitError, Identity, work_tree

LOCK_TIMEOUT_S = 30
EDIT_LOCK_ID = 7_311_506  # PostgreSQL advisory lock of editor saves (sync uses 7_311_505)
log = logging.getLogger(__name__)


class EditError(Exception):
    """A save that did not happen; nothing was changed."""


class Conflict(EditError):
    """A file changed since the editor opened it; ``current`` is what is on disk now (None: gone)."""

    def __init__(self, path: str | None, current: bytes | None):
        super().__init__(path)
        self.path, self.current = path, current


class Invalid(EditError):
    """The tree would break the content format; ``errors`` as ``flask content check`` lists them."""

    def __init__(self, errors: list[ContentError]):
        super().__init__("; ".join(map(str, errors)))
        self.errors = errors


class CommitFailed(EditError):
    """Git refused the commit; ``detail`` is what git said. The files are as they were."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class Busy(EditError):
    """Another save kept the lock for too long."""


@dataclass
class Change:
    """New bytes for one content file, or None to remove it (the old name of a renamed lesson)."""

    path: str
    data: bytes | None


@dataclass
class Edit:
    """What one save changes, worked out under the lock from the files as they are then."""

    kind: str                  # course, lesson, assignment, asset or order
    course: str                # the course slug
    slug: str                  # the item's slug (the asset's name; the course slug for an order)
    changes: list[Change]
    action: str                # the audit action, e.g. content.edited
    message: str               # the commit message
    expected: dict[str, str | None] = field(default_factory=dict)  # path -> hash it must have now


@dataclass
class Saved:
    """The outcome of a save that was not refused."""

    changed: bool
    commit_id: str | None = None
    paths: list[str] = field(default_factory=list)
    item_id: int | None = None
    sync_errors: list[ContentError] = field(default_factory=list)
    sync_failed: bool = False


@dataclass(frozen=True)
class Settings:
    root: Path
    max_asset_mb: int
    lock_path: Path
    git: str
    committer: Identity
    instance_path: str | None = None  # where the last sync's status is kept for the admin page


def settings() -> Settings:
    """The editor's settings from the app's configuration."""
    config = current_app.config
    return Settings(root=Path(config["LMS_CONTENT_DIR"]), max_asset_mb=config.get("LMS_MAX_ASSET_MB", 20),
                    lock_path=Path(current_app.instance_path) / "content-edit.lock",
                    git=config.get("LMS_GIT", "git"),
                    committer=Identity(config.get("LMS_GIT_COMMITTER_NAME", "LMS"),
                                       config.get("LMS_GIT_COMMITTER_EMAIL", "lms@localhost")),
                    instance_path=current_app.instance_path)


@contextmanager
def edit_lock(lock_path: Path, timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold the editor's lock: one save at a time on this machine and, on PostgreSQL, across servers."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise Busy("another save is still running") from None
                time.sleep(0.05)
        with _database_lock(deadline):
            yield
    finally:
        os.close(fd)  # releases the file lock


@contextmanager
def _database_lock(deadline: float) -> Iterator[None]:
    if db.engine.dialect.name != "postgresql":
        yield  # SQLite lives on one machine: the file lock is enough
        return
    conn = db.engine.connect()
    try:
        while not conn.execute(text("SELECT pg_try_advisory_lock(:id)"), {"id": EDIT_LOCK_ID}).scalar():
            conn.rollback()
            if time.monotonic() > deadline:
                raise Busy("another save is still running")
            time.sleep(0.05)
        conn.commit()
        yield
    finally:
        try:
            conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": EDIT_LOCK_ID})
            conn.commit()
        except SQLAlchemyError:
            conn.invalidate()  # a session lock must never go back to the pool
        conn.close()


def _write_all(root: Path, contents: dict[str, bytes | None]) -> None:
    """Give each path its bytes (None: remove the file), removals first."""
    for path in sorted(contents, key=lambda p: contents[p] is not None):
        target = files.inside(root, path)
        if contents[path] is None:
            files.remove(target)
        else:
            files.atomic_write(target, contents[path])


def save(actor: User, build: Callable[[Path], Edit], config: Settings | None = None) -> Saved:
    """Run one editor save (see the module's description) and return what happened.

    ``build`` is called under the lock with the content folder and returns the Edit; it may
    raise Conflict or Invalid itself. Raises Conflict, Invalid, CommitFailed or Busy when
    nothing was saved.
    """
    config = config or settings()
    root = config.root
    with edit_lock(config.lock_path):
        edit = build(root)
        for path, expected in edit.expected.items():
            if files.hash_of(root, path) != expected:
                raise Conflict(path, files.read(root, path))
        previous = {c.path: files.read(root, c.path) for c in edit.changes}
        wanted = {c.path: c.data for c in edit.changes}
        if all(previous[p] == wanted[p] for p in wanted):
            return Saved(changed=False)
        try:
            top = work_tree(root, config.git)
        except GitError as exc:
            raise CommitFailed(exc.detail) from None
        commit_id = None
        try:
            _write_all(root, wanted)
            check = check_tree(root, max_asset_mb=config.max_asset_mb)
            if check.errors:
                raise Invalid(check.errors)
            if top is not None:
                base = root.resolve()
                repo_paths = [(base / p).relative_to(top.resolve()).as_posix() for p in wanted]
                git = Git(top, config.committer, config.git)
                commit_id = git.commit(repo_paths, author=Identity(actor.name, actor.email), message=edit.message)
        except BaseException as exc:
            _write_all(root, previous)
            if isinstance(exc, GitError):
                raise CommitFailed(exc.detail) from None
            raise
        saved = Saved(changed=True, commit_id=commit_id, paths=list(wanted))
        _sync(config, saved)
        _record(actor, edit, saved, previous, wanted)
    return saved


def _sync(config: Settings, saved: Saved) -> None:
    """Import the tree (only what changed is read again) and keep its status for the admin page."""
    started = time.perf_counter()
    try:
        result = sync_tree(config.root, max_asset_mb=config.max_asset_mb)
    except (SQLAlchemyError, RuntimeError, OSError):
        log.exception("sync after an editor save failed")
        db.session.rollback()
        saved.sync_failed = True
        return
    saved.sync_errors = result.errors
    if config.instance_path:
        summary = {"created": len(result.created), "updated": len(result.updated), "retired": len(result.retired),
                   "rendered": result.rendered, "seconds": round(time.perf_counter() - started, 3)}
        write_status(config.instance_path, config.root, result.ok, summary, result.errors)


def _item(edit: Edit) -> tuple[int | None, int | None]:
    """(course id, item id) of what was saved, as the database holds them after the sync."""
    course = db.session.scalar(select(Course).where(Course.slug == edit.course))
    if course is None:
        return None, None
    model = {"lesson": Lesson, "assignment": Assignment}.get(edit.kind)
    if edit.kind in ("course", "order"):
        return course.id, course.id
    if edit.kind == "asset":
        return course.id, db.session.scalar(select(Asset.id).where(Asset.course_id == course.id,
                                                                   Asset.path == edit.slug))
    return course.id, db.session.scalar(select(model.id).where(model.course_id == course.id,
                                                               model.slug == edit.slug))


def _digest(data: bytes | None) -> str | None:
    return None if data is None else files.content_hash(data)


def _record(actor: User, edit: Edit, saved: Saved, previous: dict, wanted: dict) -> None:
    """Write the save to the audit log (its own transaction: the sync committed already)."""
    db.session.rollback()
    begin_write()
    course_id, item_id = _item(edit)
    saved.item_id = item_id
    changed = [{"path": path, "content_hash": _digest(data), "previous_hash": _digest(previous[path])}
               for path, data in wanted.items()]
    details = dict(changed[0]) if len(changed) == 1 else {"files": changed}
    details.update(commit=saved.commit_id, message=edit.message,
                   synced=not saved.sync_failed and not saved.sync_errors)
    audit.record(edit.action, "course" if edit.kind == "order" else edit.kind, item_id or edit.slug,
                 actor=actor, course_id=course_id, details=details)
    db.session.commit()
