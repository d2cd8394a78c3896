"""Auditors' sign-offs: record a decision on one version, and the review state of items and courses.

An item's state follows its latest sign-off: never reviewed, approved (and its content is the
approved content), changed since it was approved, or changes requested. A course's state is
the worst state among its current items.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Iterable, Iterator

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import selectinload

from ..db_setup import begin_write
from ..extensions import db
from ..models import Assignment, ContentVersion, Course, Lesson, SignOff, User
from . import audit, history
from .render import render_user_markdown
from .tabular import drain, safe_cell

DECISIONS = ("approved", "changes_requested")
# Worst first: a course shows the first of these that any of its current items has.
STATUSES = ("changes_requested", "changed", "never", "approved")
MAX_COMMENT = 20_000


class SignOffError(Exception):
    """A sign-off that cannot be recorded; ``message`` is shown to the auditor."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message, self.field = message, field


@dataclass(frozen=True)
class ItemState:
    """Where one item stands: its latest sign-off and latest approval, if any."""

    kind: str
    item: object
    latest: SignOff | None
    approved: SignOff | None

    @property
    def status(self) -> str:
        if self.latest is None:
            return "never"
        if self.latest.decision == "changes_requested":
            return "changes_requested"
        return "approved" if self.latest.content_hash == self.item.content_hash else "changed"

    @property
    def changed_since_review(self) -> bool:
        """A newer version exists than the one last decided on."""
        return self.latest is not None and self.latest.version != self.item.version


@dataclass(frozen=True)
class CourseState:
    course: Course
    items: list[ItemState]

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        for state in self.items:
            if not state.item.retired:
                counts[state.status] += 1
        return counts

    @property
    def status(self) -> str:
        counts = self.counts
        return next((s for s in STATUSES if counts[s]), "never")


def sign_off(auditor: User, kind: str, item, version: ContentVersion, decision: str, comment: str = "",
             course_id: int | None = None) -> SignOff:
    """Record ``auditor``'s decision on one version of an item, with its audit record, and commit.

    Requesting changes needs a comment (Markdown, rendered and sanitized here). The caller has
    checked that the auditor may sign off this item.
    """
    comment = (comment or "").strip()
    if decision not in DECISIONS:
        raise SignOffError(_l("Choose approve or request changes."), "decision")
    if decision == "changes_requested" and not comment:
        raise SignOffError(_l("Say what should change."), "comment")
    if len(comment) > MAX_COMMENT:
        raise SignOffError(_l("The comment is too long (at most %(count)d characters).", count=MAX_COMMENT), "comment")
    if (version.item_type, version.item_id) != (kind, item.id):
        raise SignOffError(_l("This version belongs to another item."))
    begin_write()
    row = SignOff(item_type=kind, item_id=item.id, course_id=course_id, version=version.number,
                  content_hash=version.content_hash, decision=decision, comment=comment,
                  comment_html=render_user_markdown(comment), auditor_id=auditor.id)
    db.session.add(row)
    db.session.flush()
    audit.record(f"signoff.{decision}", kind, item.id, actor=auditor, course_id=course_id,
                 details={"version": version.number, "content_hash": version.content_hash,
                          "signoff_id": row.id, "commit": version.commit_id})
    db.session.commit()
    return row


def _latest(condition) -> dict[tuple[str, int], tuple[SignOff | None, SignOff | None]]:
    """(latest sign-off, latest approval) per item matching ``condition``, in two queries."""
    group = (SignOff.item_type, SignOff.item_id)
    latest_ids = select(func.max(SignOff.id)).where(condition).group_by(*group)
    approved_ids = select(func.max(SignOff.id)).where(condition, SignOff.decision == "approved").group_by(*group)
    rows = db.session.scalars(select(SignOff).where(or_(SignOff.id.in_(latest_ids), SignOff.id.in_(approved_ids)))
                              .options(selectinload(SignOff.auditor)).order_by(SignOff.id))
    found: dict[tuple[str, int], list] = {}
    for row in rows:  # ascending ids: the last row seen is the latest
        pair = found.setdefault((row.item_type, row.item_id), [None, None])
        pair[0] = row
        if row.decision == "approved":
            pair[1] = row
    return {key: (pair[0], pair[1]) for key, pair in found.items()}


def item_states(items: Iterable[tuple[str, object]], course_ids: Iterable[int] = ()) -> list[ItemState]:
    """The review state of each (kind, item). Items of courses must have their course in
    ``course_ids``; cases are looked up by id."""
    items = list(items)
    case_ids = [item.id for kind, item in items if kind == "case"]
    conditions = []
    course_ids = list(course_ids)
    if course_ids:
        conditions.append(SignOff.course_id.in_(course_ids))
    if case_ids:
        conditions.append(and_(SignOff.item_type == "case", SignOff.item_id.in_(case_ids)))
    latest = _latest(or_(*conditions)) if conditions else {}
    return [ItemState(kind, item, *latest.get((kind, item.id), (None, None))) for kind, item in items]


def item_state(kind: str, item, course: Course | None) -> ItemState:
    """The review state of one item."""
    return item_states([(kind, item)], [course.id] if course else [])[0]


def course_state(course: Course) -> CourseState:
    """The review state of a course and of each of its items (retired ones listed, not counted)."""
    return CourseState(course, item_states(history.course_items(course), [course.id]))


def course_states(courses: list[Course]) -> list[CourseState]:
    """The review state of many courses in a fixed number of queries."""
    ids = [c.id for c in courses]
    if not ids:
        return []
    children: dict[int, list[tuple[str, object]]] = {i: [] for i in ids}
    for kind, model in (("lesson", Lesson), ("assignment", Assignment)):
        for item in db.session.scalars(select(model).where(model.course_id.in_(ids))):
            children[item.course_id].append((kind, item))
    items = [("course", c) for c in courses] + [pair for c in courses for pair in children[c.id]]
    states = item_states(items, ids)
    per_course: dict[int, list[ItemState]] = {i: [] for i in ids}
    for state in states:
        per_course[state.item.id if state.kind == "course" else state.item.course_id].append(state)
    return [CourseState(c, per_course[c.id]) for c in courses]


def signoffs_of(kind: str, item_id: int, numbers: Iterable[int] | None = None) -> list[SignOff]:
    """An item's sign-offs, newest first (only those on ``numbers`` when given)."""
    stmt = (select(SignOff).where(SignOff.item_type == kind, SignOff.item_id == item_id)
            .options(selectinload(SignOff.auditor)).order_by(SignOff.id.desc()))
    if numbers is not None:
        stmt = stmt.where(SignOff.version.in_(list(numbers)))
    return list(db.session.scalars(stmt))


def report_csv(state: CourseState, headers: list[str], labels: dict[str, str]) -> Iterator[str]:
    """A course's audit report as CSV chunks, UTF-8 BOM first: one row per version of every item,
    with its commit, and the item's current state on the row of its current version.

    ``headers`` are the translated column titles; ``labels`` translate kinds, statuses and decisions.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers)
    yield "\ufeff" + drain(buffer)
    states = {(s.kind, s.item.id): s for s in state.items}
    decided = {}
    for row in db.session.scalars(select(SignOff).where(SignOff.course_id == state.course.id)
                                  .options(selectinload(SignOff.auditor)).order_by(SignOff.id)):
        decided.setdefault((row.item_type, row.item_id, row.version), []).append(row)
    for count, version in enumerate(history.course_versions([(s.kind, s.item) for s in state.items]), 1):
        item_state = states[(version.item_type, version.item_id)]
        item = item_state.item
        current = version.number == item.version
        decisions = "; ".join(f"{labels[s.decision]} ({s.auditor.email}, {s.at.isoformat()})"
                              for s in decided.get((version.item_type, version.item_id, version.number), []))
        writer.writerow([labels[version.item_type], safe_cell(item.slug), safe_cell(item.title),
                         safe_cell(version.path), version.number, labels["yes"] if current else "",
                         labels["retired"] if item.retired and current else "",
                         labels[item_state.status] if current else "", version.content_hash,
                         version.commit_id or "", safe_cell(version.commit_author or ""),
                         version.committed_at.isoformat() if version.committed_at else "",
                         version.synced_at.isoformat() if version.synced_at else "", safe_cell(decisions)])
        if count % 500 == 0:
            yield drain(buffer)
    yield drain(buffer)
