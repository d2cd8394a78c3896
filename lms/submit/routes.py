"""Thin views over lms.services.submissions and grading, for students."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from ..extensions import db
from ..models import Attempt, AttemptFile, Course
from ..permissions import can_see_attempt, role_required
from ..services import grading, storage, submissions
from ..templating import num
from . import bp
from .forms import RegradeForm, SubmitForm


def _assignment(slug: str, assignment_slug: str):
    found = submissions.find_assignment(slug, assignment_slug, current_user)
    if found is None:
        abort(404)
    return found


def _own_attempt(slug: str, assignment_slug: str, number: int):
    course, assignment = _assignment(slug, assignment_slug)
    attempt = submissions.own_attempt(current_user, assignment, number)
    if attempt is None:
        abort(404)
    return course, assignment, attempt


def _describe(form: SubmitForm, assignment) -> None:
    """Hints and required marks on the form from the assignment's submission settings."""
    rules = assignment.submission or {}
    if rules.get("files"):
        form.files.description = _("Up to %(count)d file(s) of %(types)s, at most %(mb)s MiB each",
                                   count=rules.get("max_files", 5), types=", ".join(rules["files"]),
                                   mb=num(rules.get("max_mb", 50)))
    form.repo_url.flags.required = rules.get("repo_url") == "required"
    form.text.flags.required = rules.get("text", "optional") == "required"
    if rules.get("repo_url") == "optional":
        form.repo_url.label.text = _("Repository link (optional)")
    if rules.get("text", "optional") == "optional":
        form.text.label.text = _("Written answer (optional)")


@bp.route("/courses/<slug>/assignments/<assignment_slug>/submit", methods=["GET", "POST"])
@role_required("student")
def submit(slug: str, assignment_slug: str):
    course, assignment = _assignment(slug, assignment_slug)
    standing = submissions.standing_for(current_user, assignment)
    form = SubmitForm()
    if form.validate_on_submit():
        try:
            attempt = submissions.submit(current_user, assignment, text=form.text.data or "",
                                         repo_url=form.repo_url.data or "",
                                         uploads=request.files.getlist(form.files.name), standing=standing)
        except submissions.SubmissionError as exc:
            getattr(form, exc.field or "submit").errors = [exc.message]
            status = 400
        else:
            flash(_("Attempt %(number)d was handed in.", number=attempt.number), "success")
            return redirect(url_for(".attempt", slug=slug, assignment_slug=assignment_slug,
                                    number=attempt.number))
    else:
        status = 400 if form.errors else 200
    view = submissions.student_view(current_user, assignment, standing)
    _describe(form, assignment)
    return render_template("submit/submit.html", course=course, assignment=assignment, view=view,
                           form=form), status


@bp.get("/courses/<slug>/assignments/<assignment_slug>/attempts/<int:number>")
@login_required
def attempt(slug: str, assignment_slug: str, number: int):
    course, assignment, attempt = _own_attempt(slug, assignment_slug, number)
    form = RegradeForm()
    grade = attempt.grade if attempt.grade and attempt.grade.released else None
    requests = grading.regrade_requests(attempt) if grade else []
    asked = {r.criterion for r in requests}
    if grade:
        form.criterion.choices = [SelectChoice(i, row["criterion"]) for i, row in enumerate(grade.levels)
                                  if i not in asked]
    return render_template("submit/attempt.html", course=course, assignment=assignment, attempt=attempt,
                           grade=grade, requests=requests, form=form)


@bp.post("/courses/<slug>/assignments/<assignment_slug>/attempts/<int:number>/regrade")
@login_required
def regrade(slug: str, assignment_slug: str, number: int):
    course, assignment, attempt = _own_attempt(slug, assignment_slug, number)
    form = RegradeForm()
    form.criterion.choices = [SelectChoice(i, row["criterion"]) for i, row in enumerate(attempt.grade.levels)] \
        if attempt.grade else []
    target = url_for(".attempt", slug=slug, assignment_slug=assignment_slug, number=number)
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            abort(400)
        flash(_("Choose a criterion and explain why it should be looked at again."), "error")
        return redirect(target + "#regrade")
    try:
        grading.request_regrade(current_user, attempt, form.criterion.data, form.reason.data)
    except grading.GradingError as exc:
        flash(str(exc.message), "error")
    else:
        flash(_("Your regrade request was sent to the mentors."), "success")
    return redirect(target + "#regrade")


@bp.get("/attempts/<int:attempt_id>/files/<int:file_id>")
@login_required
def download(attempt_id: int, file_id: int):
    row = db.session.execute(
        select(AttemptFile, Attempt, Course).join(Attempt, Attempt.id == AttemptFile.attempt_id)
        .join(Course, Course.id == Attempt.course_id)
        .where(AttemptFile.id == file_id, AttemptFile.attempt_id == attempt_id)).first()
    if row is None or not can_see_attempt(current_user, row.Attempt, row.Course):
        abort(404)
    stored = row.AttemptFile
    try:
        handle = storage.get_storage().open(stored.content_hash)
    except storage.FileMissing:
        abort(410)
    response = send_file(handle, mimetype="application/octet-stream", as_attachment=True,
                         download_name=stored.filename, conditional=True, etag=stored.content_hash,
                         max_age=0)
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response.headers["Cache-Control"] = "private, no-store"
    return response
