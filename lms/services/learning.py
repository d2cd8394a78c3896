"""Students in courses: enrolling, marking lessons complete, progress and where to continue.

Progress counts only current lessons: a retired lesson drops out of the percentage, while its
completion row stays in the database.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from ..db_setup import begin_write
from ..extensions import db
from ..models import Course, Enrollment, Lesson, LessonProgress, User
from ..models.types import utcnow
from ..permissions import can_enroll


class LearningError(Exception):
    """A refused learning action, with a message for the user."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


@dataclass
class CourseProgress:
    """One course on a student's dashboard."""

    course: Course
    enrollment: Enrollment
    done: int
    total: int
    continue_lesson: Lesson | None

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0


def enrollment_for(user: User, course: Course) -> Enrollment | None:
    if not user.is_authenticated:
        return None
    return db.session.scalar(select(Enrollment).where(Enrollment.user_id == user.id,
                                                      Enrollment.course_id == course.id))


def enroll(user: User, course: Course) -> Enrollment:
    """Enroll a student in a published course (free, one click); enrolling twice changes nothing."""
    if not can_enroll(user, course):
        raise LearningError(_l("Only students can enroll, and only in published courses."))
    begin_write()
    existing = enrollment_for(user, course)
    if existing:
        return existing
    enrollment = Enrollment(user_id=user.id, course_id=course.id)
    db.session.add(enrollment)
    try:
        db.session.commit()
    except IntegrityError:  # a double click raced us: the other request enrolled
        db.session.rollback()
        return enrollment_for(user, course)
    return enrollment


def course_state(user: User, course: Course) -> tuple[Enrollment | None, set[int]]:
    """The user's enrollment in ``course`` (or None) and the ids of the lessons they completed."""
    enrollment = enrollment_for(user, course)
    return enrollment, (completed_lesson_ids(user, course) if enrollment else set())


def completed_lesson_ids(user: User, course: Course) -> set[int]:
    """Ids of the lessons of ``course`` this user marked complete (retired ones included)."""
    if not user.is_authenticated:
        return set()
    return set(db.session.scalars(select(LessonProgress.lesson_id).where(
        LessonProgress.user_id == user.id, LessonProgress.course_id == course.id)))


def set_complete(user: User, lesson: Lesson, done: bool) -> None:
    """Mark a current lesson complete, or undo it; the student must be enrolled."""
    begin_write()
    course = lesson.course
    if lesson.retired_at is not None or enrollment_for(user, course) is None:
        db.session.rollback()
        raise LearningError(_l("Enroll in the course to track your progress."))
    if done:
        exists = db.session.scalar(select(LessonProgress.id).where(
            LessonProgress.user_id == user.id, LessonProgress.lesson_id == lesson.id))
        if exists is None:
            db.session.add(LessonProgress(user_id=user.id, lesson_id=lesson.id, course_id=course.id))
    else:
        db.session.execute(delete(LessonProgress).where(LessonProgress.user_id == user.id,
                                                        LessonProgress.lesson_id == lesson.id))
    try:
        db.session.commit()
    except IntegrityError:  # the same click twice: already complete
        db.session.rollback()


def record_visit(enrollment: Enrollment | None, lesson: Lesson) -> None:
    """Remember the lesson a student opened, for "continue where you left off"."""
    if enrollment is None or enrollment.last_lesson_id == lesson.id:
        return
    lesson_id = lesson.id
    begin_write()
    enrollment.last_lesson_id, enrollment.last_seen_at = lesson_id, utcnow()
    db.session.commit()


def percent(done_ids: set[int], lessons: list[Lesson]) -> tuple[int, int, int]:
    """(done, total, percent) over current lessons."""
    total = len(lessons)
    done = sum(1 for lesson in lessons if lesson.id in done_ids)
    return done, total, (round(100 * done / total) if total else 0)


def dashboard(user: User) -> list[CourseProgress]:
    """The student's courses with progress and a lesson to continue with, in four queries."""
    enrollments = list(db.session.scalars(
        select(Enrollment).where(Enrollment.user_id == user.id)
        .options(joinedload(Enrollment.course), joinedload(Enrollment.last_lesson))
        .order_by(Enrollment.last_seen_at.desc().nulls_last(), Enrollment.enrolled_at.desc())))
    enrollments = [e for e in enrollments if e.course.public]
    course_ids = [e.course_id for e in enrollments]
    if not course_ids:
        return []
    lessons: dict[int, list[Lesson]] = {}
    for lesson in db.session.scalars(select(Lesson).where(Lesson.course_id.in_(course_ids),
                                                          Lesson.retired_at.is_(None)).order_by(Lesson.position)):
        lessons.setdefault(lesson.course_id, []).append(lesson)
    done_ids = set(db.session.scalars(select(LessonProgress.lesson_id).where(
        LessonProgress.user_id == user.id, LessonProgress.course_id.in_(course_ids))))
    result = []
    for enrollment in enrollments:
        current = lessons.get(enrollment.course_id, [])
        done = sum(1 for lesson in current if lesson.id in done_ids)
        last = enrollment.last_lesson
        if last is None or last.retired_at is not None:
            last = next((lesson for lesson in current if lesson.id not in done_ids), current[0] if current else None)
        result.append(CourseProgress(enrollment.course, enrollment, done, len(current), last))
    return result

