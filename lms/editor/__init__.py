"""Mentors edit their courses in the browser: description, lessons, order, assignments, images.

Every save writes the file in content/, commits it (inside a git work tree) with the mentor as
author and syncs it (see lms/services/editing). Mentors and admins can also view a course as
a student sees it.
"""
from flask import Blueprint, session
from flask_login import current_user

from ..permissions import can_edit_content

bp = Blueprint("editor", __name__)
STUDENT_VIEW = "student_view"  # session key: slugs of the courses shown as students see them


def in_student_view(course) -> bool:
    """The current user edits ``course`` and asked to see it as a student does."""
    return course.slug in session.get(STUDENT_VIEW, ()) and can_edit_content(current_user, course)


@bp.app_context_processor
def _editor_helpers() -> dict:
    return {"can_edit": lambda course: can_edit_content(current_user, course), "student_view": in_student_view}


from . import routes, routes_course  # noqa: E402,F401
