"""Thin views over lms.services.history and signoff.

Courses and items a user may not review answer 404, so their existence stays private; the
workspace itself answers 403 to students. Only auditors sign off: mentors and admins read.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import Response, abort, flash, redirect, render_template, request, stream_with_context, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..models import Course
from ..permissions import audits_case, audits_course, can_review_case, can_review_course, role_required
from ..services import audit as audit_log
from ..services import history, signoff
from . import bp
from .forms import SignOffForm

KIND = "<any(case, course, lesson, assignment):kind>"


@dataclass(frozen=True)
class Target:
    """An item the current user may review, its course (None for a case), and whether they may sign off."""

    kind: str
    item: object
    course: Course | None
    can_sign: bool


def _reviewed_course(slug: str) -> Course:
    course = history.load_course(slug)
    if course is None:
        abort(404)
    companies = history.course_companies([course.id])[course.id]
    if not can_review_course(current_user, course, companies):
        abort(404)
    return course


def _reviewed_item(kind: str, item_id: int) -> Target:
    item, course = history.load_item(kind, item_id)
    if item is None:
        abort(404)
    if kind == "case":
        if not can_review_case(current_user, item):
            abort(404)
        return Target(kind, item, None, audits_case(current_user, item))
    companies = history.course_companies([course.id])[course.id]
    if not can_review_course(current_user, course, companies):
        abort(404)
    return Target(kind, item, course, audits_course(current_user, companies))


@bp.get("/")
@role_required("auditor", "mentor", "admin")
def index():
    courses = history.reviewable_courses(current_user)
    cases = history.company_cases(current_user)
    return render_template("audit/index.html", states=signoff.course_states(courses),
                           cases=signoff.item_states([("case", c) for c in cases]))


def _log_scope(courses: list) -> audit_log.Scope:
    """The part of the log the current user reads: admins everything; auditors the content and
    sign-off events of the courses and cases they review."""
    if current_user.role == "admin":
        return audit_log.EVERYTHING
    if current_user.audits_all:
        return audit_log.Scope(groups=audit_log.AUDITOR_GROUPS)
    return audit_log.Scope(course_ids=tuple(c.id for c in courses),
                           case_ids=tuple(history.company_case_ids(current_user)),
                           groups=audit_log.AUDITOR_GROUPS)


@bp.get("/log")
@role_required("auditor", "admin")
def log():
    courses = history.reviewable_course_titles(current_user)
    scope = _log_scope(courses)
    by_slug = {c.slug: c for c in courses}
    chosen = by_slug.get(request.args.get("course", ""))
    group = request.args.get("group") or None
    rows, older = audit_log.entries(scope=scope, course_id=chosen.id if chosen else None, group=group,
                                    before=request.args.get("before", type=int))
    seq, digest = audit_log.head()
    return render_template("audit/log.html", rows=rows, older=older, courses=courses, chosen=chosen,
                           group=group, groups=scope.groups or audit_log.ACTION_GROUPS,
                           titles={c.id: c.title for c in courses}, head_seq=seq, head_hash=digest)


@bp.get("/courses/<slug>")
@login_required
def course(slug: str):
    course = _reviewed_course(slug)
    return render_template("audit/course.html", course=course, state=signoff.course_state(course))


@bp.get(f"/{KIND}/<int:item_id>/versions")
@login_required
def versions(kind: str, item_id: int):
    target = _reviewed_item(kind, item_id)
    page = history.versions(kind, item_id, page=request.args.get("page", 1, type=int))
    state = signoff.item_state(kind, target.item, target.course)
    signed = {}
    for row in signoff.signoffs_of(kind, item_id, [v.number for v in page.rows]):
        signed.setdefault(row.version, []).append(row)
    return render_template("audit/versions.html", t=target, page=page, state=state, signed=signed)


def _version_page(target: Target, number: int, form: SignOffForm, status: int = 200):
    version = history.get_versions(target.kind, target.item.id, [number]).get(number)
    if version is None:
        abort(404)
    return render_template("audit/version.html", t=target, version=version, form=form,
                           state=signoff.item_state(target.kind, target.item, target.course),
                           signoffs=signoff.signoffs_of(target.kind, target.item.id, [number])), status


@bp.get(f"/{KIND}/<int:item_id>/versions/<int:number>")
@login_required
def version(kind: str, item_id: int, number: int):
    return _version_page(_reviewed_item(kind, item_id), number, SignOffForm(formdata=None))


@bp.post(f"/{KIND}/<int:item_id>/versions/<int:number>/signoff")
@login_required
def sign(kind: str, item_id: int, number: int):
    target = _reviewed_item(kind, item_id)
    if not target.can_sign:
        abort(403)
    form = SignOffForm()
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            abort(400)
        return _version_page(target, number, form, 400)
    version = history.get_versions(kind, item_id, [number]).get(number)
    if version is None:
        abort(404)
    try:
        signoff.sign_off(current_user, kind, target.item, version, form.decision.data, form.comment.data or "",
                         course_id=target.course.id if target.course else None)
    except signoff.SignOffError as exc:
        getattr(form, exc.field or "decision").errors = [exc.message]
        return _version_page(target, number, form, 400)
    flash(_("Approved version %(number)d.", number=number) if form.decision.data == "approved"
          else _("Changes requested on version %(number)d.", number=number), "success")
    return redirect(url_for(".version", kind=kind, item_id=item_id, number=number))


@bp.get(f"/{KIND}/<int:item_id>/diff")
@login_required
def diff(kind: str, item_id: int):
    target = _reviewed_item(kind, item_id)
    new = request.args.get("to", target.item.version, type=int)
    old = request.args.get("from", new - 1, type=int)
    found = history.get_versions(kind, item_id, [old, new])
    if old not in found or new not in found:
        abort(404)
    return render_template("audit/diff.html", t=target, old=found[old], new=found[new],
                           hunks=history.diff(found[old].source, found[new].source))


@bp.get("/courses/<slug>/report")
@login_required
def report(slug: str):
    course = _reviewed_course(slug)
    state = signoff.course_state(course)
    versions: dict[tuple[str, int], list] = {}
    for row in history.course_versions([(s.kind, s.item) for s in state.items]):
        versions.setdefault((row.item_type, row.item_id), []).append(row)
    return render_template("audit/report.html", course=course, state=state, versions=versions)


def _labels() -> dict[str, str]:
    return {"case": _("Case"), "course": _("Course"), "lesson": _("Lesson"), "assignment": _("Assignment"),
            "approved": _("Approved"), "changed": _("Changed since approved"),
            "changes_requested": _("Changes requested"), "never": _("Never reviewed"),
            "yes": _("yes"), "retired": _("retired")}


@bp.get("/courses/<slug>/report.csv")
@login_required
def report_csv(slug: str):
    course = _reviewed_course(slug)
    headers = [_("Kind"), _("Slug"), _("Title"), _("Path"), _("Version"), _("Current"), _("Retired"),
               _("Sign-off state"), _("Content hash"), _("Commit"), _("Commit author"), _("Committed at"),
               _("Synced at"), _("Sign-offs of this version")]
    chunks = signoff.report_csv(signoff.course_state(course), headers, _labels())
    response = Response(stream_with_context(chunks), mimetype="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{course.slug}-audit-report.csv"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
