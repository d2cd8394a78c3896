"""Course content imported from ``content/``: cases, courses, lessons, assignments, assets.

Each item row holds the current state used by the pages (pre-rendered HTML included); every
change of a file's content also adds a ContentVersion row, so the history is never lost.
A file that disappears only sets ``retired_at``.
"""
from __future__ import annotations

import hashlib
import json

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, LargeBinary, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime, utcnow


class ItemMixin:
    """Columns every synced content item has."""

    path: Mapped[str] = mapped_column(String(500))
    content_hash: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    html: Mapped[str] = mapped_column(Text, default="")
    toc_html: Mapped[str] = mapped_column(Text, default="")
    meta: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def retired(self) -> bool:
        return self.retired_at is not None


course_cases = db.Table(
    "course_cases",
    db.Column("course_id", ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True),
    db.Column("case_id", ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True, index=True),
)

lesson_cases = db.Table(
    "lesson_cases",
    db.Column("lesson_id", ForeignKey("lessons.id", ondelete="CASCADE"), primary_key=True),
    db.Column("case_id", ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Case(ItemMixin, db.Model):
    """An enterprise case (``content/cases/<slug>.md``)."""

    __tablename__ = "cases"
    kind = "case"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    company: Mapped[str] = mapped_column(String(300), index=True)
    industry: Mapped[str] = mapped_column(String(100), index=True)
    district: Mapped[str | None] = mapped_column(String(100))
    summary: Mapped[str] = mapped_column(Text)


class Course(ItemMixin, db.Model):
    """A course (``content/courses/<slug>/course.md``)."""

    __tablename__ = "courses"
    kind = "course"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(10), index=True)
    level: Mapped[str | None] = mapped_column(String(20), index=True)
    published: Mapped[bool] = mapped_column(Boolean, default=True)

    cases: Mapped[list[Case]] = relationship(secondary=course_cases, order_by="Case.slug")
    mentors: Mapped[list[CourseMentor]] = relationship(
        back_populates="course", cascade="all, delete-orphan", order_by="CourseMentor.position"
    )
    lessons: Mapped[list[Lesson]] = relationship(back_populates="course", order_by="Lesson.position")
    assignments: Mapped[list[Assignment]] = relationship(back_populates="course", order_by="Assignment.due_at")

    __table_args__ = (Index("ix_courses_catalog", "published", "retired_at"),)

    @property
    def public(self) -> bool:
        return self.published and self.retired_at is None


class CourseMentor(db.Model):
    """A mentor e-mail listed in a course's front matter; accounts link to courses through it."""

    __tablename__ = "course_mentors"

    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    course: Mapped[Course] = relationship(back_populates="mentors")


class Lesson(ItemMixin, db.Model):
    """A lesson (``lessons/<NN>-<slug>.md``); its slug, not its number, is its identity."""

    __tablename__ = "lessons"
    kind = "lesson"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"))
    slug: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    minutes: Mapped[int | None] = mapped_column(Integer)

    course: Mapped[Course] = relationship(back_populates="lessons")
    cases: Mapped[list[Case]] = relationship(secondary=lesson_cases, order_by="Case.slug")

    __table_args__ = (
        UniqueConstraint("course_id", "slug"),
        Index("ix_lessons_course_order", "course_id", "retired_at", "position"),
    )


def rubric_hash(rubric: list) -> str:
    """A stable hash of a rubric's criteria, levels, points and descriptions."""
    canonical = json.dumps(rubric, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def current_grade_hashes(rubric: list, content_hash: str) -> tuple[str, str]:
    """The rubric hashes a grade may carry and still be current: the rubric's own, or the brief's
    content hash (grades saved before rubric hashes existed carry that instead)."""
    return rubric_hash(rubric), content_hash


class Assignment(ItemMixin, db.Model):
    """A project assignment (``assignments/<slug>.md``) with its rubric."""

    __tablename__ = "assignments"
    kind = "assignment"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"))
    slug: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    points: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    after_lesson: Mapped[str | None] = mapped_column(String(100))
    submission: Mapped[dict] = mapped_column(JSON, default=dict)
    late: Mapped[dict] = mapped_column(JSON, default=dict)
    rubric: Mapped[list] = mapped_column(JSON, default=list)

    course: Mapped[Course] = relationship(back_populates="assignments")

    @property
    def rubric_hash(self) -> str:
        """SHA-256 of the rubric alone: grades keep it, so a changed rubric is told apart from
        other edits of the brief (a typo fixed in the text does not make grades outdated)."""
        return rubric_hash(self.rubric)

    @property
    def current_grade_hashes(self) -> tuple[str, str]:
        """See the module's ``current_grade_hashes``."""
        return current_grade_hashes(self.rubric, self.content_hash)

    def graded_with_older_rubric(self, grade_rubric_hash: str | None) -> bool:
        """Whether a grade saved with ``grade_rubric_hash`` used a rubric other than the current one."""
        return grade_rubric_hash is not None and grade_rubric_hash not in self.current_grade_hashes

    __table_args__ = (
        UniqueConstraint("course_id", "slug"),
        Index("ix_assignments_course_due", "course_id", "retired_at", "due_at"),
    )


class ContentVersion(db.Model):
    """One version of one content item: its source as synced, hash, rendering and git origin."""

    __tablename__ = "content_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_type: Mapped[str] = mapped_column(String(20))
    item_id: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(String(500))
    source: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    html: Mapped[str] = mapped_column(Text)
    commit_id: Mapped[str | None] = mapped_column(String(64))
    commit_author: Mapped[str | None] = mapped_column(String(300))
    commit_email: Mapped[str | None] = mapped_column(String(320))
    committed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sync_run_id: Mapped[int | None] = mapped_column(ForeignKey("sync_runs.id"), index=True)

    sync_run: Mapped[SyncRun | None] = relationship()

    __table_args__ = (UniqueConstraint("item_type", "item_id", "number"),)


class AssetBlob(db.Model):
    """Bytes of an asset, stored once per content hash and never deleted by a sync."""

    __tablename__ = "asset_blobs"

    content_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)


class Asset(db.Model):
    """A file under a course's ``assets/``, served at ``/courses/<slug>/assets/<path>``."""

    __tablename__ = "assets"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"))
    path: Mapped[str] = mapped_column(String(500))
    content_hash: Mapped[str] = mapped_column(ForeignKey("asset_blobs.content_hash"), index=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("course_id", "path"),)


class SyncRun(db.Model):
    """A ``content sync`` that changed something: when, at which commit, how much.

    A failed or no-op sync writes nothing to the database (see services/content/status.py).
    """

    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ok: Mapped[bool] = mapped_column(Boolean, default=False)
    source_dir: Mapped[str] = mapped_column(String(1000))
    commit_id: Mapped[str | None] = mapped_column(String(64))
    summary: Mapped[dict] = mapped_column(JSON, default=dict)
