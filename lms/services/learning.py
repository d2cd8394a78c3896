"""Students in courses: enrolling, marking lessons complete, progress and where to continue.

Progress counts only current lessons: a retired lesson drops out of the percentage, while its
completion row stays in the database.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, delete, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased, defer, load_only

from ..db_setup import begin_write, keeping_loaded
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
    """The user's enrollment in ``course`` (or None) and the ids of the lessons they completed
    (retired ones included), in one statement."""
    if not user.is_authenticated:
        return None, set()
    rows = db.session.execute(
        select(Enrollment, LessonProgress.lesson_id)
        .outerjoin(LessonProgress, and_(LessonProgress.user_id == Enrollment.user_id,
                                        LessonProgress.course_id == Enrollment.course_id))
        .where(Enrollment.user_id == user.id, Enrollment.course_id == course.id)).all()
    if not rows:
        return None, set()
    return rows[0][0], {lesson_id for _enrollment, lesson_id in rows if lesson_id is not None}


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
    """Remember the lesson a student opened, for "continue where you left off".

    Nothing is written when it is the lesson remembered already (every visit but the first).
    Otherwise one short write transaction updates the row, and only if the lesson is still
    another one. The page's read transaction is ended by a commit, not by begin_write's
    rollback, which would expire everything the page loaded and make it read the course
    again. On SQLite the write waits for other writers only, never for readers (WAL).
    """
    if enrollment is None or enrollment.last_lesson_id == lesson.id:
        return
    enrollment_id, lesson_id = enrollment.id, lesson.id
    with keeping_loaded():
        begin_write()
        db.session.execute(update(Enrollment).where(
            Enrollment.id == enrollment_id,
            or_(Enrollment.last_lesson_id.is_(None), Enrollment.last_lesson_id != lesson_id))
            .values(last_lesson_id=lesson_id, last_seen_at=utcnow()))  # ``enrollment`` is updated too
        db.session.commit()


def percent(done_ids: set[int], lessons: list[Lesson]) -> tuple[int, int, int]:
    """(done, total, percent) over current lessons."""
    total = len(lessons)
    done = sum(1 for lesson in lessons if lesson.id in done_ids)
    return done, total, (round(100 * done / total) if total else 0)


def dashboard(user: User) -> list[CourseProgress]:
    """The student's public courses with progress and a lesson to continue with, in two queries
    whatever the number of courses and lessons.

    The first counts current and completed lessons per course in the database and picks the
    lesson to continue with: the last one opened while it is current, else the first current
    lesson not completed, else the first current lesson. The second loads those lessons.
    """
    course_lessons = and_(Lesson.course_id == Enrollment.course_id, Lesson.retired_at.is_(None))
    total = (select(func.count()).select_from(Lesson).where(course_lessons)
             .correlate(Enrollment).scalar_subquery())
    done = (select(func.count()).select_from(LessonProgress)
            .join(Lesson, Lesson.id == LessonProgress.lesson_id)
            .where(LessonProgress.user_id == user.id, LessonProgress.course_id == Enrollment.course_id,
                   Lesson.retired_at.is_(None))
            .correlate(Enrollment).scalar_subquery())
    first_open = (select(Lesson.id).where(course_lessons, ~exists().where(
        LessonProgress.user_id == user.id, LessonProgress.lesson_id == Lesson.id).correlate(Lesson))
        .order_by(Lesson.position).limit(1).correlate(Enrollment).scalar_subquery())
    first = (select(Lesson.id).where(course_lessons).order_by(Lesson.position).limit(1)
             .correlate(Enrollment).scalar_subquery())
    last = aliased(Lesson)
    continue_id = case((last.retired_at.is_(None) & last.id.is_not(None), last.id),
                       else_=func.coalesce(first_open, first))
    rows = db.session.execute(
        select(Enrollment, Course, total.label("total"), done.label("done"), continue_id.label("continue_id"))
        .join(Course, Course.id == Enrollment.course_id)
        .outerjoin(last, last.id == Enrollment.last_lesson_id)
        .where(Enrollment.user_id == user.id, Course.published.is_(True), Course.retired_at.is_(None))
        .options(defer(Course.html), defer(Course.toc_html))
        .order_by(Enrollment.last_seen_at.desc().nulls_last(), Enrollment.enrolled_at.desc())).all()
    lesson_ids = {row.continue_id for row in rows if row.continue_id is not None}
    lessons = {lesson.id: lesson for lesson in db.session.scalars(
        select(Lesson).where(Lesson.id.in_(lesson_ids))
        .options(load_only(Lesson.id, Lesson.course_id, Lesson.slug, Lesson.title, Lesson.position,
                           Lesson.retired_at)))} if lesson_ids else {}
    return [CourseProgress(row.Course, row.Enrollment, row.done, row.total, lessons.get(row.continue_id))
            for row in rows]
