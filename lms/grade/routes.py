"""Thin views over lms.services.grading, gradebook and submissions, for mentors and admins.

Attempts and courses a user may not grade answer 404, so their existence stays private.
"""
from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Response, abort, flash, redirect, render_template, request, stream_with_context, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from wtforms.fields.choices import SelectChoice

from ..extensions import db
from ..i18n import select_timezone
from ..models import Assignment, Attempt, Course, RegradeRequest
from ..permissions import can_grade, role_required
from ..services import gradebook, grading, submissions
from ..templating import num
from . import bp
from .forms import ExtensionForm, QueueFilterForm, RegradeAnswerForm, grade_form

def _status_choices() -> list[SelectChoice]:
    return [SelectChoice("", _("Any status")), SelectChoice("ungraded", _("Not graded")),
            SelectChoice("regrade", _("Regrade requested")), SelectChoice("draft", _("Draft")),
            SelectChoice("released", _("Released")),
            SelectChoice("old_rubric", _("Graded with an older rubric"))]


def _level_choices(rubric: list[dict], criterion: int) -> list[SelectChoice]:
    levels = rubric[criterion]["levels"] if criterion < len(rubric) else []
    return [SelectChoice(i, f"{num(level['points'])} · {level['label']}") for i, level in enumerate(levels)]


def _graded_course(slug: str) -> Course:
    course = db.session.scalar(select(Course).where(Course.slug == slug).options(selectinload(Course.mentors)))
    if course is None or not can_grade(current_user, course):
        abort(404)
    return course


def _course_assignment(slug: str, assignment_slug: str) -> tuple[Course, Assignment]:
    course = _graded_course(slug)
    assignment = db.session.scalar(select(Assignment).where(Assignment.course_id == course.id,
                                                            Assignment.slug == assignment_slug))
    if assignment is None:
        abort(404)
    return course, assignment


def _graded_attempt(attempt_id: int) -> tuple[Attempt, Course]:
    attempt = db.session.scalar(select(Attempt).where(Attempt.id == attempt_id).options(
        selectinload(Attempt.files), selectinload(Attempt.grade), selectinload(Attempt.user),
        selectinload(Attempt.assignment)))
    if attempt is None:
        abort(404)
    course = db.session.scalar(select(Course).where(Course.id == attempt.course_id)
                               .options(selectinload(Course.mentors)))
    if not can_grade(current_user, course):
        abort(404)
    return attempt, course


def _queue_filters(course_ids: list[int]):
    """The filter form over the courses' current assignments, the chosen one (id, slug, title,
    course_slug, course_title: only the columns the choices need) and the chosen status."""
    assignments = db.session.execute(
        select(Assignment.id, Assignment.slug, Assignment.title, Course.slug.label("course_slug"),
               Course.title.label("course_title")).join(Course, Course.id == Assignment.course_id)
        .where(Assignment.course_id.in_(course_ids), Assignment.retired_at.is_(None))
        .order_by(Course.title, Assignment.due_at)).all()
    keys = {f"{a.course_slug}/{a.slug}": a for a in assignments}
    form = QueueFilterForm(request.args)
    form.assignment.choices = [SelectChoice("", _("All assignments"))] + [
        SelectChoice(key, f"{a.course_title} · {a.title}") for key, a in keys.items()]
    form.status.choices = _status_choices()
    chosen = keys.get(form.assignment.data or "")
    status = form.status.data if form.status.data in gradebook.STATUSES else None
    return form, chosen, status


@bp.get("/")
@role_required("mentor", "admin")
def queue():
    course_ids = gradebook.graded_course_ids(current_user)
    form, chosen, status = _queue_filters(course_ids)
    page = gradebook.queue(course_ids, assignment_id=chosen.id if chosen else None, status=status,
                           page=request.args.get("page", 1, type=int))
    return render_template("grade/queue.html", form=form, page=page, chosen=chosen, status=status)


@bp.get("/next")
@role_required("mentor", "admin")
def next_ungraded():
    course_ids = gradebook.graded_course_ids(current_user)
    _form, chosen, _status = _queue_filters(course_ids)
    attempt_id = gradebook.next_ungraded(course_ids, chosen.id if chosen else None)
    if attempt_id is None:
        flash(_("Nothing left to grade here."), "success")
        return redirect(url_for(".queue", **request.args))
    return redirect(url_for(".attempt", attempt_id=attempt_id, **request.args))


def _marks(form, rubric) -> grading.Marks:
    return grading.Marks(levels=[getattr(form, f"level_{i}").data for i in range(len(rubric))],
                         comments=[getattr(form, f"comment_{i}").data or "" for i in range(len(rubric))],
                         feedback=form.feedback.data or "")


def _prefill(grade) -> dict:
    if grade is None:
        return {"version": "0"}
    data = {"version": str(grade.version), "feedback": grade.feedback}
    for index, row in enumerate(grade.levels):
        data[f"level_{index}"] = row.get("level")
        data[f"comment_{index}"] = row.get("comment", "")
    return data


@bp.route("/attempts/<int:attempt_id>", methods=["GET", "POST"])
@login_required
def attempt(attempt_id: int):
    attempt, course = _graded_attempt(attempt_id)
    rubric = attempt.assignment.rubric
    status, conflict = 200, False
    if request.method == "POST":
        form = grade_form(rubric)
        if not form.validate():
            if "csrf_token" in form.errors:
                abort(400)
            status = 400
        else:
            try:
                grading.save_grade(current_user, attempt, _marks(form, rubric), release=bool(form.release.data),
                                   expected_version=int(form.version.data or 0))
            except grading.Conflict as exc:
                form.form_errors.append(exc.message)
                status, conflict = 409, True
                db.session.expire_all()
            except grading.GradingError as exc:
                form.form_errors.append(exc.message)
                status = 400
            else:
                flash(_("Grade released to the student.") if form.release.data else _("Draft saved."), "success")
                return redirect(url_for(".attempt", attempt_id=attempt.id))
        if status == 400:
            db.session.rollback()
    else:
        form = grade_form(rubric, formdata=None, data=_prefill(attempt.grade))
    if conflict:
        attempt, course = _graded_attempt(attempt_id)
        form.version.raw_data = None
        form.version.data = str(attempt.grade.version) if attempt.grade else "0"
    earlier = list(db.session.scalars(select(Attempt).where(
        Attempt.assignment_id == attempt.assignment_id, Attempt.user_id == attempt.user_id)
        .order_by(Attempt.number.desc())))
    requests = grading.regrade_requests(attempt)
    answer_forms = {}
    for r in requests:
        if r.status == "open":
            answer = RegradeAnswerForm(formdata=None, data={"version": str(attempt.grade.version)}, prefix=f"r{r.id}")
            answer.new_level.choices = _level_choices(rubric, r.criterion)
            answer_forms[r.id] = answer
    return render_template("grade/attempt.html", attempt=attempt, course=course, assignment=attempt.assignment,
                           form=form, rubric=rubric, conflict=conflict, earlier=earlier,
                           history=grading.history(attempt), requests=requests, answer_forms=answer_forms,
                           queue_args=request.args), status


@bp.post("/regrades/<int:request_id>")
@login_required
def answer_regrade(request_id: int):
    regrade = db.session.get(RegradeRequest, request_id)
    if regrade is None:
        abort(404)
    attempt, _course = _graded_attempt(regrade.attempt_id)
    form = RegradeAnswerForm(prefix=f"r{regrade.id}")
    rubric = attempt.assignment.rubric
    form.new_level.choices = _level_choices(rubric, regrade.criterion)
    target = url_for(".attempt", attempt_id=attempt.id) + "#regrades"
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            abort(400)
        flash(_("Choose to accept or decline the request."), "error")
        return redirect(target)
    try:
        grading.answer_regrade(current_user, regrade, accept=form.decision.data == "accept",
                               new_level=form.new_level.data, response=form.response.data or "",
                               expected_version=int(form.version.data or 0))
    except grading.GradingError as exc:
        flash(str(exc.message), "error")
    else:
        flash(_("Your answer was sent to the student."), "success")
    return redirect(target)


@bp.get("/courses/<slug>/gradebook")
@login_required
def course_gradebook(slug: str):
    course = _graded_course(slug)
    assignments, page = gradebook.gradebook(course, page=request.args.get("page", 1, type=int))
    return render_template("grade/gradebook.html", course=course, assignments=assignments, page=page)


@bp.get("/courses/<slug>/gradebook.csv")
@login_required
def gradebook_csv(slug: str):
    course = _graded_course(slug)
    headers = [_("Name"), _("E-mail"), _("Total")]
    chunks = gradebook.gradebook_csv(course, headers, late_mark=_("(late)"))
    response = Response(stream_with_context(chunks), mimetype="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{course.slug}-gradebook.csv"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/courses/<slug>/assignments/<assignment_slug>/attempts.zip")
@login_required
def attempts_zip(slug: str, assignment_slug: str):
    _course, assignment = _course_assignment(slug, assignment_slug)
    response = Response(stream_with_context(gradebook.attempts_zip(assignment)), mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{slug}-{assignment_slug}-attempts.zip"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/courses/<slug>/assignments/<assignment_slug>/extensions", methods=["GET", "POST"])
@login_required
def extensions(slug: str, assignment_slug: str):
    course, assignment = _course_assignment(slug, assignment_slug)
    form = ExtensionForm()
    status = 200
    if form.validate_on_submit():
        due_at = form.due_at.data.replace(tzinfo=ZoneInfo(select_timezone()))
        try:
            submissions.grant_extension(current_user, assignment, form.email.data, due_at, form.reason.data or "")
        except submissions.SubmissionError as exc:
            getattr(form, exc.field or "email").errors = [exc.message]
            status = 400
        else:
            flash(_("Extension granted."), "success")
            return redirect(url_for(".extensions", slug=slug, assignment_slug=assignment_slug))
    elif form.is_submitted():
        if "csrf_token" in form.errors:
            abort(400)
        status = 400
    return render_template("grade/extensions.html", course=course, assignment=assignment, form=form,
                           granted=submissions.extensions(assignment)), status
