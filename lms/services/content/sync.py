"""Check and import a content tree into the database, all or nothing.

``sync_tree`` parses and renders only what changed since the last sync, writes every change in
one transaction, adds a ContentVersion for every content change and retires items whose file
is gone. Nothing a student or mentor produced is ever deleted here.
"""
from __future__ import annotations

import logging
import mimetypes
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import insert, select, text

from ...db_setup import begin_write
from ...extensions import db
from ...models import (Asset, AssetBlob, Assignment, Case, ContentVersion, Course, CourseMentor, Lesson,
                       SyncRun)
from ...models.types import utcnow
from ..render import Rendered, render_many, render_markdown
from .. import audit
from . import gitinfo
from .errors import ContentError
from .plan import Entry, Known, Plan, check_links, make_plan, parse_entry

MODELS = {"case": Case, "course": Course, "lesson": Lesson, "assignment": Assignment}
SYNC_LOCK_ID = 7_311_505  # PostgreSQL advisory lock that serialises concurrent syncs
MAX_ATTEMPTS = 3
# Rendering (Python-Markdown, Pygments, bleach) is nearly all of a large first sync's time; from
# this many files on it is spread over worker processes, one per CPU (LMS_SYNC_WORKERS overrides).
PARALLEL_MIN_FILES = 64
MAX_WORKERS = 8
log = logging.getLogger(__name__)
CONTENT_TYPES = {
    ".svg": "image/svg+xml", ".webp": "image/webp", ".md": "text/markdown; charset=utf-8",
    ".txt": "text/plain; charset=utf-8", ".csv": "text/csv; charset=utf-8", ".json": "application/json",
    ".py": "text/plain; charset=utf-8", ".sql": "text/plain; charset=utf-8",
}


@dataclass
class CheckResult:
    """The outcome of validating a tree without writing anything."""

    errors: list[ContentError]
    warnings: list[ContentError]
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class SyncResult(CheckResult):
    """The outcome of a sync: what was created, changed, retired and rendered."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    rendered: int = 0
    run_id: int | None = None
    commit_id: str | None = None

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.retired)


def _counts(plan: Plan) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in plan.entries:
        counts[entry.file.kind] = counts.get(entry.file.kind, 0) + 1
    return counts


def check_tree(root: Path, *, max_asset_mb: int = 20) -> CheckResult:
    """Validate every file under ``root``; the database is neither read nor written."""
    plan = make_plan(Path(root), max_asset_mb=max_asset_mb)
    return CheckResult(errors=plan.errors, warnings=plan.warnings, counts=_counts(plan))


def _snapshot() -> dict[tuple, Known]:
    """What the database holds, by item key, in a constant number of queries."""
    known: dict[tuple, Known] = {}
    slugs = dict(db.session.execute(select(Course.id, Course.slug)).all())
    for kind, model in MODELS.items():
        columns = [model.id, model.path, model.content_hash, model.meta, model.retired_at, model.slug]
        if kind in ("lesson", "assignment"):
            columns.append(model.course_id)
        for row in db.session.execute(select(*columns)):
            key = (kind, slugs[row[6]], row.slug) if len(row) > 6 else (kind, row.slug)
            known[key] = Known(row.id, row.path, row.content_hash, row.meta, row.retired_at is not None)
    for row in db.session.execute(select(Asset.id, Asset.course_id, Asset.path, Asset.content_hash,
                                         Asset.retired_at)):
        key = ("asset", slugs[row.course_id], row.path)
        full_path = f"courses/{slugs[row.course_id]}/assets/{row.path}"
        known[key] = Known(row.id, full_path, row.content_hash, {}, row.retired_at is not None)
    return known


def _fingerprint(known: dict[tuple, Known]) -> set:
    return {(key, k.id, k.path, k.hash, k.retired) for key, k in known.items()}


def default_workers() -> int:
    """Worker processes for rendering: LMS_SYNC_WORKERS if set (1 renders in this process),
    else one per CPU this process may use, at most MAX_WORKERS."""
    configured = os.environ.get("LMS_SYNC_WORKERS", "").strip()
    if configured:
        if not configured.isdigit():
            raise ValueError(f"LMS_SYNC_WORKERS must be a whole number, not {configured!r}")
        return max(1, int(configured))
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_WORKERS))


def render_all(items: list[tuple[str, str]], workers: int | None = None,
               min_parallel: int = PARALLEL_MIN_FILES) -> list[Rendered]:
    """``render_markdown`` of each ``(source, path)``, in order; in worker processes when it pays.

    The workers run the same function, so the results are exactly those of rendering here.
    They are forked from a single-threaded process (the CLI) and started fresh ("spawn") from
    a threaded one (a gunicorn worker), where forking could copy a lock another thread holds;
    they never touch the database. If the pool cannot be used (no processes allowed, a worker
    killed), everything is rendered here instead.
    """
    workers = default_workers() if workers is None else workers
    if workers < 2 or len(items) < min_parallel:
        return [render_markdown(source, path=path) for source, path in items]
    size = max(8, min(64, -(-len(items) // (workers * 4))))  # ~4 chunks per worker, for balance
    chunks = [items[start:start + size] for start in range(0, len(items), size)]
    try:
        with ProcessPoolExecutor(max_workers=min(workers, len(chunks)),
                                 mp_context=_process_context()) as pool:
            return [result for chunk in pool.map(render_many, chunks) for result in chunk]
    except (OSError, BrokenProcessPool) as exc:
        log.warning("rendering in worker processes failed (%s); rendering in this process", exc)
        return [render_markdown(source, path=path) for source, path in items]


def _process_context():
    single = threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if single else "spawn")


def _render(plan: Plan, workers: int | None = None) -> dict[str, tuple[str, str]]:
    """Render the Markdown of every entry that is new or changed: path -> (html, toc_html)."""
    todo = []
    for entry in plan.entries:
        if entry.file.kind == "asset" or entry.unchanged:
            continue
        if entry.doc is None:  # content unchanged but moved or restored: parse to render again
            parse_entry(entry, plan.errors)
            if entry.doc is None:
                continue
        todo.append(entry)
    results = render_all([(entry.doc.body, entry.file.path) for entry in todo], workers)
    rendered = {}
    for entry, result in zip(todo, results):
        check_links(plan, entry, result.links)
        rendered[entry.file.path] = (result.html, result.toc_html)
    return rendered


def _apply_fields(item, entry: Entry, cases: dict[str, Case], courses: dict[str, Course]) -> None:
    meta, file = entry.meta, entry.file
    item.meta = meta
    item.title = meta["title"]
    if file.kind == "case":
        item.company, item.industry = meta["company"], meta["industry"]
        item.district, item.summary = meta["district"], meta["summary"]
    elif file.kind == "course":
        item.summary, item.language, item.level = meta["summary"], meta["language"], meta["level"]
        item.published = meta["published"]
        item.cases = [cases[slug] for slug in meta["cases"]]
        existing = {m.email: m for m in item.mentors}
        mentors = []
        for position, email in enumerate(meta["mentors"]):
            mentor = existing.get(email) or CourseMentor(email=email)
            mentor.position = position
            mentors.append(mentor)
        item.mentors = mentors
    elif file.kind == "lesson":
        item.course = courses[file.course]
        item.position, item.minutes = file.position, meta["minutes"]
        item.cases = [cases[slug] for slug in meta["cases"]]
    elif file.kind == "assignment":
        item.course = courses[file.course]
        item.due_at = datetime.fromisoformat(meta["due"])
        item.points, item.after_lesson = meta["points"], meta["after_lesson"]
        item.submission, item.late, item.rubric = meta["submission"], meta["late"], meta["rubric"]


def _load(plan: Plan, known: dict[tuple, Known]) -> dict[str, dict[int, object]]:
    """The rows a sync may touch: all cases and courses (few, and referenced by slug) plus the
    lessons and assignments that changed or disappear; unchanged lessons are not loaded."""
    present = {entry.file.key for entry in plan.entries}
    wanted = {"lesson": set(), "assignment": set()}
    for entry in plan.entries:
        if entry.file.kind in wanted and entry.known and not entry.unchanged:
            wanted[entry.file.kind].add(entry.known.id)
    for key, k in known.items():
        if key[0] in wanted and key not in present and not k.retired:
            wanted[key[0]].add(k.id)
    loaded = {}
    for kind, model in MODELS.items():
        query = select(model)
        if kind in wanted:
            query = query.where(model.id.in_(wanted[kind])) if wanted[kind] else None
        loaded[kind] = {obj.id: obj for obj in db.session.scalars(query)} if query is not None else {}
    return loaded


def _write(plan: Plan, rendered: dict, known: dict[tuple, Known], run: SyncRun, result: SyncResult) -> None:
    now = run.started_at
    session = db.session
    loaded = _load(plan, known)
    cases = {c.slug: c for c in loaded["case"].values()}
    courses = {c.slug: c for c in loaded["course"].values()}
    commits = gitinfo.last_commits(plan.root, [e.file.path for e in plan.entries
                                               if e.file.kind != "asset" and e.content_changed])
    events: list[audit.Event] = []
    for kind in ("case", "course", "lesson", "assignment"):  # parents before children
        versioned = []
        for entry in plan.of_kind(kind):
            if entry.unchanged:
                continue
            file, model = entry.file, MODELS[kind]
            item = loaded[kind].get(entry.known.id) if entry.known else None
            if item is None:
                item = model(slug=file.slug, version=0, created_at=now)
                session.add(item)
                result.created.append(file.path)
            else:
                result.updated.append(file.path)
            if item.version == 0 or item.content_hash != file.hash:
                versioned.append((item, entry))
            _apply_fields(item, entry, cases, courses)
            item.path, item.content_hash, item.updated_at, item.retired_at = file.path, file.hash, now, None
            item.html, item.toc_html = rendered[file.path]
            if kind == "case":
                cases[item.slug] = item
            elif kind == "course":
                courses[item.slug] = item
        session.flush()  # one flush per kind gives every new item its id
        versions = []
        for item, entry in versioned:
            item.version += 1
            info = commits.get(entry.file.path)
            versions.append(dict(
                item_type=kind, item_id=item.id, number=item.version, path=entry.file.path,
                source=entry.file.data.decode("utf-8"), content_hash=entry.file.hash, html=item.html,
                commit_id=info and info.commit_id, commit_author=info and info.author,
                commit_email=info and info.email, committed_at=info and info.date,
                synced_at=now, sync_run_id=run.id,
            ))
            events.append(audit.Event(
                "content.version", kind, str(item.id), course_id=_course_of(kind, item),
                details={"path": entry.file.path, "version": item.version, "content_hash": entry.file.hash,
                         "commit": info and info.commit_id, "author": info and info.author}))
        if versions:  # one multi-row INSERT: nothing needs the new versions' ids
            session.execute(insert(ContentVersion), versions)
    present = {entry.file.key for entry in plan.entries}
    for key, k in known.items():
        if key in present or k.retired:
            continue
        kind = key[0]
        if kind == "asset":
            asset = session.get(Asset, k.id)
            asset.retired_at = now
            result.retired.append(k.path)
            events.append(audit.Event("content.retired", "asset", str(asset.id), course_id=asset.course_id,
                                      details={"path": k.path, "content_hash": asset.content_hash}))
        else:
            item = loaded[kind][k.id]
            item.retired_at = now
            result.retired.append(item.path)
            events.append(audit.Event("content.retired", kind, str(item.id), course_id=_course_of(kind, item),
                                      details={"path": item.path, "version": item.version}))
    events.extend(_write_assets(plan, courses, now, result))
    audit.record_many(events, at=now)


def _course_of(kind: str, item) -> int | None:
    return item.id if kind == "course" else getattr(item, "course_id", None)


def _write_assets(plan: Plan, courses: dict[str, Course], now, result: SyncResult) -> list[audit.Event]:
    """Store new and changed assets; returns their audit events (a new content hash is a new version)."""
    session = db.session
    changed = [e for e in plan.of_kind("asset") if not e.unchanged]
    if not changed:
        return []
    hashes = {e.file.hash for e in changed}
    have = set(session.scalars(select(AssetBlob.content_hash).where(AssetBlob.content_hash.in_(hashes))))
    assets = {(a.course_id, a.path): a for a in session.scalars(
        select(Asset).where(Asset.course_id.in_({courses[e.file.course].id for e in changed})))}
    for entry in changed:
        if entry.file.hash not in have:
            session.add(AssetBlob(content_hash=entry.file.hash, data=entry.file.data, size=len(entry.file.data)))
            have.add(entry.file.hash)
    session.flush()  # blobs before the assets that refer to them
    touched: list[tuple[Asset, str, str | None]] = []
    for entry in changed:
        file, course = entry.file, courses[entry.file.course]
        suffix = Path(file.slug).suffix.lower()
        content_type = CONTENT_TYPES.get(suffix) or mimetypes.guess_type(file.slug)[0] or "application/octet-stream"
        asset = assets.get((course.id, file.slug))
        if asset is None:
            asset = Asset(course_id=course.id, path=file.slug)
            session.add(asset)
            result.created.append(file.path)
        else:
            result.updated.append(file.path)
        if asset.content_hash != file.hash or asset.retired_at is not None:
            touched.append((asset, file.path, asset.content_hash))
        asset.content_hash, asset.content_type, asset.size = file.hash, content_type, len(file.data)
        asset.updated_at, asset.retired_at = now, None
    session.flush()  # new assets get their ids for the log
    return [audit.Event("content.asset", "asset", str(asset.id), course_id=asset.course_id,
                        details={"path": path, "content_hash": asset.content_hash, "previous_hash": previous,
                                 "size": asset.size})
            for asset, path, previous in touched]


def _lock() -> None:
    """Serialise syncs: SQLite takes its write lock, PostgreSQL an advisory transaction lock."""
    begin_write()
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": SYNC_LOCK_ID})


def sync_tree(root: Path, *, max_asset_mb: int = 20, workers: int | None = None) -> SyncResult:
    """Validate ``root`` and import it; on any error nothing in the database changes.

    Only new or changed files are parsed and rendered (in ``workers`` processes when there are
    many; see ``render_all``). When nothing changed, nothing is written at all. Concurrent syncs
    are serialised and never half-apply.
    """
    root = Path(root)
    for _attempt in range(MAX_ATTEMPTS):
        db.session.rollback()
        known = _snapshot()
        db.session.rollback()
        plan = make_plan(root, known, max_asset_mb)
        result = SyncResult(errors=plan.errors, warnings=plan.warnings, counts=_counts(plan))
        if plan.errors:
            return result
        present = {entry.file.key for entry in plan.entries}
        if all(e.unchanged for e in plan.entries) and all(k.retired or key in present for key, k in known.items()):
            return result  # nothing changed: nothing is rendered or written
        rendered = _render(plan, workers)
        if plan.errors:
            result.errors = sorted(plan.errors)
            return result
        # Rendering happened outside the write lock; make sure nobody synced in between.
        _lock()
        if _fingerprint(_snapshot()) != _fingerprint(known):
            db.session.rollback()
            continue
        try:
            top = gitinfo.work_tree(root)
            run = SyncRun(started_at=utcnow(), source_dir=str(root.resolve()),
                          commit_id=gitinfo.head_commit(top) if top else None)
            db.session.add(run)
            db.session.flush()  # the versions refer to the run by id
            _write(plan, rendered, known, run, result)
            result.rendered = len(rendered)
            run.ok, run.finished_at = True, utcnow()
            run.summary = {"created": len(result.created), "updated": len(result.updated),
                           "retired": len(result.retired), "rendered": result.rendered}
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
        result.run_id, result.commit_id = run.id, run.commit_id
        return result
    raise RuntimeError("the content changed in the database during every sync attempt; try again")
