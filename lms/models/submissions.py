"""Project work and its grading: attempts, their files, grades, history, regrades, extensions.

Nothing here is ever deleted by the application: every attempt is kept with the content hash
of the brief it was made against, and every grade change adds a GradeEvent.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, ForeignKey, Index, Integer, Numeric, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .content import Assignment
from .types import UTCDateTime, utcnow
from .users import User


# Attempt.grading_state: not graded, an open regrade request, a draft grade, a released grade.
GRADING_STATES = {"ungraded": 0, "regrade": 1, "draft": 2, "released": 3}


class Attempt(db.Model):
    """One submission of one student for one assignment, numbered 1, 2, ... per student."""

    __tablename__ = "attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"))
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    number: Mapped[int] = mapped_column(Integer)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    text: Mapped[str] = mapped_column(Text, default="")
    text_html: Mapped[str] = mapped_column(Text, default="")
    repo_url: Mapped[str | None] = mapped_column(String(2000))
    # The brief and rubric it was made against: the assignment's content hash and version.
    brief_hash: Mapped[str] = mapped_column(String(64))
    brief_version: Mapped[int] = mapped_column(Integer)
    # Lateness decided on the server at receipt.
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    late_days: Mapped[int] = mapped_column(Integer, default=0)
    penalty_percent: Mapped[Decimal] = mapped_column(Numeric(6, 2), default=Decimal(0))
    # True for the newest attempt of its student and assignment (kept by the submit service).
    latest: Mapped[bool] = mapped_column(default=True)
    # Where the attempt stands in the grading queue, and its place in the queue's order (one of
    # GRADING_STATES): kept by lms.services.grading whenever its grade or a regrade request changes,
    # so the queue pages through an index instead of sorting every attempt of the courses.
    grading_state: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")

    assignment: Mapped[Assignment] = relationship()
    user: Mapped[User] = relationship()
    files: Mapped[list[AttemptFile]] = relationship(back_populates="attempt",
                                                    order_by="AttemptFile.position")
    grade: Mapped[Grade | None] = relationship(back_populates="attempt", uselist=False)

    __table_args__ = (
        UniqueConstraint("assignment_id", "user_id", "number"),
        # The grading queue: a course's latest attempts in queue order (the assignment, to filter by it
        # without reading the rows).
        Index("ix_attempts_queue", "course_id", "latest", "grading_state", "submitted_at", "id", "assignment_id"),
        # The gradebook: a page of a course's students.
        Index("ix_attempts_course_user", "course_id", "user_id"),
        Index("ix_attempts_user", "user_id", "assignment_id"),
    )

    @property
    def late(self) -> bool:
        return self.late_days > 0


class AttemptFile(db.Model):
    """A file handed in with an attempt; the bytes live in storage under their SHA-256."""

    __tablename__ = "attempt_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(255))
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)

    attempt: Mapped[Attempt] = relationship(back_populates="files")


class Grade(db.Model):
    """A mentor's grade of one attempt: a level per rubric criterion, feedback, draft or released.

    ``levels`` is a list, one entry per criterion of the rubric graded against:
    ``{"criterion": str, "level": int | None, "points": str | None, "label": str | None,
    "comment": str}``. ``version`` is the optimistic lock: every save must name the version it
    started from.
    """

    __tablename__ = "grades"

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id"), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="draft")  # draft | released
    levels: Mapped[list] = mapped_column(JSON, default=list)
    feedback: Mapped[str] = mapped_column(Text, default="")
    feedback_html: Mapped[str] = mapped_column(Text, default="")
    raw_score: Mapped[Decimal] = mapped_column(Numeric(10, 2), default=Decimal(0))
    penalty_percent: Mapped[Decimal] = mapped_column(Numeric(6, 2), default=Decimal(0))
    score: Mapped[Decimal] = mapped_column(Numeric(10, 2), default=Decimal(0))
    points: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    rubric_hash: Mapped[str] = mapped_column(String(64))
    rubric_version: Mapped[int] = mapped_column(Integer)
    grader_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    attempt: Mapped[Attempt] = relationship(back_populates="grade")
    grader: Mapped[User] = relationship()

    @property
    def released(self) -> bool:
        return self.status == "released"


class GradeEvent(db.Model):
    """History of a grade: who changed it, when, and the state before and after."""

    __tablename__ = "grade_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id"), index=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    action: Mapped[str] = mapped_column(String(30))
    old: Mapped[dict | None] = mapped_column(JSON)
    new: Mapped[dict | None] = mapped_column(JSON)

    actor: Mapped[User] = relationship()


class RegradeRequest(db.Model):
    """A student's request to look again at one criterion of a released grade, and the answer."""

    __tablename__ = "regrade_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id"))
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"))
    criterion: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | accepted | declined
    response: Mapped[str] = mapped_column(Text, default="")
    old_level: Mapped[int | None] = mapped_column(Integer)
    new_level: Mapped[int | None] = mapped_column(Integer)
    responder_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    responder: Mapped[User | None] = relationship()

    __table_args__ = (
        UniqueConstraint("attempt_id", "criterion"),
        Index("ix_regrade_requests_course_status", "course_id", "status"),
    )


class Extension(db.Model):
    """A later due time granted by a mentor to one student for one assignment."""

    __tablename__ = "extensions"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text, default="")
    granted_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    granted_by: Mapped[User] = relationship(foreign_keys=[granted_by_id])

    __table_args__ = (UniqueConstraint("assignment_id", "user_id"),)
