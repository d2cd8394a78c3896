"""Thin views over lms.services.catalog."""
from __future__ import annotations

from flask import Response, abort, redirect, render_template, request, session
from flask_login import current_user

from ..db_setup import begin_write
from ..extensions import db
from ..httpcache import public_page
from ..learn.forms import CompleteForm, EnrollForm, UndoCompleteForm
from ..services import catalog as svc
from ..permissions import can_grade
from ..services import learning, submissions
from ..urls import safe_next
from . import bp
from .forms import LanguageForm

INLINE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp", "image/svg+xml", "application/pdf")


def _or_404(call, *args):
    try:
        return call(*args)
    except svc.NotFound:
        abort(404)


@bp.get("/")
@public_page
def index():
    facets = svc.catalog_facets()
    chosen = {key: request.args.get(key) or None for key in ("language", "level", "industry")}
    # Unknown filter values select nothing rather than erroring.
    filters = svc.CatalogFilters(**chosen)
    page = _or_404(svc.public_courses, filters, svc.page_number(request.args.get("page")))
    return render_template("catalog/index.html", courses=page.rows, page=page, facets=facets, chosen=chosen)


@bp.get("/courses/<slug>")
@public_page
def course(slug: str):
    course = _or_404(svc.public_course, slug, current_user)
    lessons = svc.current_lessons(course)
    enrollment, done_ids = learning.course_state(current_user, course)
    return render_template("catalog/course.html", course=course, mentors=svc.mentor_names(course), lessons=lessons,
                           assignments=svc.current_assignments(course), enrollment=enrollment, done_ids=done_ids,
                           progress=learning.percent(done_ids, lessons), enroll_form=EnrollForm())


@bp.get("/courses/<slug>/lessons/<lesson_slug>")
@public_page
def lesson(slug: str, lesson_slug: str):
    course, lesson, previous, following = _or_404(svc.public_lesson, slug, lesson_slug, current_user)
    enrollment, done_ids = learning.course_state(current_user, course)
    learning.record_visit(enrollment, lesson)
    lessons = svc.current_lessons(course)
    return render_template("catalog/lesson.html", course=course, lesson=lesson, previous=previous,
                           following=following, cases=svc.lesson_cases(lesson), lessons=lessons,
                           enrollment=enrollment, done=lesson.id in done_ids,
                           progress=learning.percent(done_ids, lessons), enroll_form=EnrollForm(),
                           complete_form=CompleteForm(), undo_form=UndoCompleteForm())


@bp.get("/courses/<slug>/assignments/<assignment_slug>")
@public_page
def assignment(slug: str, assignment_slug: str):
    course, assignment = _or_404(svc.public_assignment, slug, assignment_slug, current_user)
    mine = submissions.student_view(current_user, assignment) \
        if current_user.is_authenticated and current_user.role == "student" else None
    return render_template("catalog/assignment.html", course=course, assignment=assignment, mine=mine,
                           grader=can_grade(current_user, course))


@bp.get("/courses/<slug>/assets/<path:path>")
def asset(slug: str, path: str):
    asset, data = _or_404(svc.public_asset, slug, path, current_user)
    response = Response(data, mimetype=asset.content_type.split(";")[0])
    if ";" in asset.content_type:
        response.headers["Content-Type"] = asset.content_type
    filename = path.rsplit("/", 1)[-1]
    disposition = "inline" if asset.content_type in INLINE_TYPES else "attachment"
    response.headers.set("Content-Disposition", disposition, filename=filename)
    # Assets are files, not pages: nothing in them may run, even an SVG opened directly.
    response.headers["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
    response.set_etag(asset.content_hash)
    response.cache_control.public = True
    response.cache_control.max_age = 3600
    return response.make_conditional(request)


@bp.get("/cases")
@public_page
def cases():
    page = _or_404(svc.public_cases, svc.page_number(request.args.get("page")))
    return render_template("catalog/cases.html", cases=page.rows, page=page)


@bp.get("/cases/<slug>")
@public_page
def case(slug: str):
    case, page = _or_404(svc.public_case, slug, svc.page_number(request.args.get("page")))
    return render_template("catalog/case.html", case=case, courses=page.rows, page=page)


@bp.post("/language")
def language():
    form = LanguageForm()
    if form.validate_on_submit():
        session["lang"] = form.lang.data
        if current_user.is_authenticated:
            begin_write()
            current_user.locale = form.lang.data
            db.session.commit()
    return redirect(safe_next(form.next.data))
