"""Who may do what: pure predicates, and the decorators built on them.

Forbidden objects answer 404 where their existence is private (another student's work,
unpublished courses) and 403 where the page is known to exist but the role may not use it
(for example a student opening the admin area).
"""
from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user

from .models import Course, User


def is_admin(user: User | None) -> bool:
    """An active administrator."""
    return bool(user and user.is_authenticated and user.role == "admin")


def is_mentor_of(user: User | None, course: Course, mentor_emails: set[str] | None = None) -> bool:
    """The user is a mentor listed in the course's front matter."""
    if not (user and user.is_authenticated and user.role == "mentor"):
        return False
    emails = mentor_emails if mentor_emails is not None else {m.email for m in course.mentors}
    return user.email.lower() in emails


def can_read_course(user: User | None, course: Course) -> bool:
    """Anyone reads a published, current course; mentors of the course and admins also see it unpublished."""
    if course.public:
        return True
    return is_admin(user) or is_mentor_of(user, course)


def can_enroll(user: User | None, course: Course) -> bool:
    """A signed-in student may enroll in a published, current course."""
    return bool(user and user.is_authenticated and user.role == "student" and course.public)


def can_grade(user: User | None, course: Course, mentor_emails: set[str] | None = None) -> bool:
    """Mentors of the course and admins see and grade its students' work."""
    return is_admin(user) or is_mentor_of(user, course, mentor_emails)


def can_see_attempt(user: User | None, attempt, course: Course) -> bool:
    """A student sees only their own attempts; graders of the course see all of its attempts."""
    if not (user and user.is_authenticated):
        return False
    return attempt.user_id == user.id or can_grade(user, course)


def role_required(*roles: str):
    """Decorator: the signed-in user must have one of ``roles`` (else 403; anonymous users go to login)."""
    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                from .extensions import login_manager
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorator
