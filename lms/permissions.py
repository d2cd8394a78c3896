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


def can_edit_content(user: User | None, course: Course, mentor_emails: set[str] | None = None) -> bool:
    """Mentors of the course and admins edit its files in the browser and view it as a student."""
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


def is_auditor(user: User | None) -> bool:
    """An active enterprise auditor."""
    return bool(user and user.is_authenticated and user.role == "auditor")


def audits_course(user: User | None, course_companies: set[str]) -> bool:
    """An auditor who audits every course, or whose company's case the course (or one of its lessons) uses.

    ``course_companies`` are the companies of the cases the course uses (see services.history).
    """
    if not is_auditor(user):
        return False
    return bool(user.audits_all or (user.company and user.company in course_companies))


def audits_case(user: User | None, case) -> bool:
    """An auditor who audits every course, or who belongs to the case's company."""
    if not is_auditor(user):
        return False
    return bool(user.audits_all or (user.company and user.company == case.company))


def can_review_course(user: User | None, course: Course, course_companies: set[str],
                      mentor_emails: set[str] | None = None) -> bool:
    """The course's auditors, its mentors and admins read its version history, diffs, sign-offs and report."""
    return is_admin(user) or is_mentor_of(user, course, mentor_emails) or audits_course(user, course_companies)


def can_review_case(user: User | None, case) -> bool:
    """The case's auditors and admins read its version history (a case belongs to no course)."""
    return is_admin(user) or audits_case(user, case)
