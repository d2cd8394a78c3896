"""Rows made through the services, for tests that need submitted and graded work to exist."""
from __future__ import annotations

from types import SimpleNamespace

from sqlalchemy import select

from lms.extensions import db
from lms.models import Assignment, Attempt, Course, User
from lms.services import grading, learning, storage, submissions


def assignment(course_slug: str = "py-data", slug: str = "final-project") -> Assignment:
    return db.session.scalar(select(Assignment).join(Course).where(Course.slug == course_slug,
                                                                    Assignment.slug == slug))


def upload(name: str, data: bytes):
    """An upload as the request hands it over: a name and a streamed, hashed temporary file."""
    incoming = storage.get_storage().new_temp(name)
    incoming.write(data)
    incoming.flush()
    return SimpleNamespace(filename=name, stream=incoming)


def hand_in(student: User, files: dict[str, bytes] | None = None, text: str = "", **kwargs) -> Attempt:
    """Enroll ``student`` in the assignment's course and hand in work through the service."""
    target = kwargs.pop("target", None) or assignment()
    learning.enroll(student, db.session.get(Course, target.course_id))
    uploads = [upload(name, data) for name, data in (files or {}).items()]
    return submissions.submit(student, target, text=text, uploads=uploads, **kwargs)


def release_grade(mentor: User, attempt: Attempt, levels: list[int], feedback: str = "") -> None:
    """Grade ``attempt`` with the given level per criterion and release it."""
    marks = grading.Marks(levels=levels, comments=[""] * len(levels), feedback=feedback)
    version = attempt.grade.version if attempt.grade else 0
    grading.save_grade(mentor, attempt, marks, release=True, expected_version=version)
