"""Thin views over lms.services.learning."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..permissions import role_required
from ..services import catalog as catalog_svc
from ..services import learning
from . import bp
from .forms import CompleteForm, EnrollForm, UndoCompleteForm


def _public_course(slug: str):
    try:
        return catalog_svc.public_course(slug)
    except catalog_svc.NotFound:
        abort(404)


@bp.get("/dashboard")
@login_required
def dashboard():
    courses = learning.dashboard(current_user) if current_user.role == "student" else []
    mentored = catalog_svc.mentor_courses(current_user.email) if current_user.role == "mentor" else []
    return render_template("learn/dashboard.html", courses=courses, mentored=mentored)


@bp.post("/courses/<slug>/enroll")
@role_required("student")
def enroll(slug: str):
    course = _public_course(slug)
    if not EnrollForm().validate_on_submit():
        abort(400)
    learning.enroll(current_user, course)
    flash(_("You are enrolled in %(title)s.", title=course.title), "success")
    lessons = catalog_svc.current_lessons(course)
    if lessons:
        return redirect(url_for("catalog.lesson", slug=course.slug, lesson_slug=lessons[0].slug))
    return redirect(url_for("catalog.course", slug=course.slug))


def _set_complete(slug: str, lesson_slug: str, done: bool, form_class):
    try:
        course, lesson, _previous, following = catalog_svc.public_lesson(slug, lesson_slug)
    except catalog_svc.NotFound:
        abort(404)
    if not form_class().validate_on_submit():
        abort(400)
    try:
        learning.set_complete(current_user, lesson, done)
    except learning.LearningError as exc:
        flash(str(exc.message), "error")
        return redirect(url_for("catalog.course", slug=course.slug))
    return redirect(url_for("catalog.lesson", slug=course.slug, lesson_slug=lesson.slug) + "#progress")


@bp.post("/courses/<slug>/lessons/<lesson_slug>/complete")
@role_required("student")
def complete(slug: str, lesson_slug: str):
    return _set_complete(slug, lesson_slug, True, CompleteForm)


@bp.post("/courses/<slug>/lessons/<lesson_slug>/incomplete")
@role_required("student")
def incomplete(slug: str, lesson_slug: str):
    return _set_complete(slug, lesson_slug, False, UndoCompleteForm)
