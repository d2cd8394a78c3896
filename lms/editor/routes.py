"""The editors of one file (course description, lesson, assignment) and the live preview: thin
views over lms.services.editing, for the mentors of a course and admins.

Other signed-in users get 403 (students, auditors) or 404 (a mentor of another course: the
course's existence stays private, as in grading). Pages read the files in content/, which is
the source of truth, not the database.
"""
from __future__ import annotations

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import Course
from ..permissions import can_edit_content, is_admin, role_required
from ..services import editing, history
from ..services.content.tree import LESSON_RE
from . import bp, drafts
from .messages import explain

EDITORS = ("mentor", "admin")


def edited_course(slug: str) -> Course:
    course = None
    if editing.valid_slug(slug):
        course = db.session.scalar(select(Course).where(Course.slug == slug).options(selectinload(Course.mentors)))
    if course is None or course.retired_at is not None or not can_edit_content(current_user, course):
        abort(404)
    return course


def _context(course: Course, kind: str, slug: str | None, new: bool) -> drafts.Context:
    """The file to edit; a file that is not there is 404, except on a POST, where the page shows
    the mentor's text and says the file is gone (it was removed or renamed since it was opened)."""
    opened = None
    if not new:
        if slug is not None and not editing.valid_slug(slug):
            abort(404)
        opened = editing.open_document(kind, course.slug, slug)
        if opened is None and request.method != "POST":
            abort(404)
    return drafts.Context(course, kind, None if new else (slug or course.slug), opened, admin=is_admin(current_user),
                          new=new)


def titles(model, course: Course) -> dict[str, str]:
    return dict(db.session.execute(select(model.slug, model.title).where(model.course_id == course.id)).all())


def _is_own_file(ctx: drafts.Context, slug: str, path: str) -> bool:
    if ctx.kind == "lesson":
        match = LESSON_RE.match(path.rsplit("/", 1)[-1])
        return path.startswith(f"courses/{ctx.course.slug}/lessons/") and bool(match) and match.group(2) == slug
    if ctx.kind == "assignment":
        return path == f"courses/{ctx.course.slug}/assignments/{slug}.md"
    return path == f"courses/{ctx.course.slug}/course.md"


def _slug_taken_message(kind: str) -> str:
    if kind == "lesson":
        return _("This course already has a lesson with this slug.")
    return _("This course already has an assignment with this slug.")


def _slug_free(form, ctx: drafts.Context) -> bool:
    """A new lesson or assignment's slug is not used yet (the save checks again under its lock)."""
    if not ctx.new or form.slug.errors or not form.slug.data:
        return True
    if editing.slug_taken(ctx.kind, ctx.course.slug, form.slug.data):
        drafts.add_error(form.slug, _slug_taken_message(ctx.kind))
        return False
    return True


def message_or(form, default: str) -> str:
    """The commit message the mentor wrote, or the default one when they left it empty."""
    return (form.message.data or "").strip() or default


def saved_flash(saved: editing.Saved) -> None:
    if not saved.changed:
        flash(_("Nothing changed, so nothing was saved."), "success")
        return
    if saved.commit_id:
        flash(_("Saved and committed as %(commit)s. The course shows the new version now.",
                commit=saved.commit_id[:10]), "success")
    else:
        flash(_("Saved. The course shows the new version now. (The content folder is not in a git repository, "
                "so no commit was made; the version is kept by its content hash.)"), "success")
    if saved.sync_failed or saved.sync_errors:
        problems = "; ".join(str(e) for e in saved.sync_errors[:5])
        flash(_("The file is saved, but the content folder could not be imported, so students still see the "
                "previous version. %(problems)s", problems=problems), "error")


def refusal(exc: editing.EditError) -> tuple[str, int]:
    """The message and status for a save that was refused by the repository or the lock."""
    if isinstance(exc, editing.CommitFailed):
        return _("Not saved: git could not commit the change, so the file was put back as it was and nothing "
                 "changed. Git said: %(detail)s", detail=exc.detail), 500
    return _("Another save is in progress. Wait a moment, then save again."), 503


def _explain_invalid(form, ctx: drafts.Context, item: str, errors, other: list) -> None:
    """Content errors of a refused save: under their field when they are about this file, else listed."""
    for error in errors:
        name, text = explain(error.message)
        target = getattr(form, name, None) if name and name != "rubric" else None
        if not _is_own_file(ctx, item, error.path):
            other.append(_("%(path)s, line %(line)d: %(message)s", path=error.path, line=error.line, message=text))
        elif target is not None:
            drafts.add_error(target, text)
        else:
            other.append(text)


def _save_document(ctx: drafts.Context, form, draft: drafts.Draft, item: str, page: dict) -> editing.Saved | None:
    """Save the draft; on a refusal, fill ``page`` (status, conflict, messages) and return None."""
    base = None if ctx.new else (form.base_hash.data or "")
    try:
        return editing.save_document(current_user, ctx.kind, ctx.course.slug, item, draft.meta, draft.body,
                                     base_hash=base, message=message_or(form, ctx.default_message(item)))
    except editing.Conflict as exc:
        current = exc.current.decode("utf-8", "replace") if exc.current is not None else ""
        page.update(status=409, stale=False,
                    conflict={"hunks": history.diff(current, draft.text), "gone": exc.current is None})
        # The mentor has now seen the current file: saving again is a deliberate choice.
        form.base_hash.data = editing.content_hash(exc.current) if exc.current is not None else ""
    except editing.SlugTaken:
        drafts.add_error(form.slug, _slug_taken_message(ctx.kind))
    except editing.Invalid as exc:
        _explain_invalid(form, ctx, item, exc.errors, page["other"])
    except (editing.CommitFailed, editing.Busy) as exc:
        message, page["status"] = refusal(exc)
        page["other"].append(message)
    return None


def _document(course_slug: str, kind: str, slug: str | None = None, new: bool = False):
    """The editor page of one file: GET fills the form from the file; POST previews, adds rubric rows or saves."""
    course = edited_course(course_slug)
    ctx = _context(course, kind, slug, new)
    page = {"status": 200, "conflict": None, "stale": False, "readable": True, "rubric_errors": []}
    if request.method == "GET":
        form = drafts.make_form(ctx)
        page["other"], page["readable"] = drafts.fill(form, ctx)
    else:
        form = drafts.make_form(ctx, request.form)
        valid = form.validate() and _slug_free(form, ctx)
        draft = drafts.build(form, ctx)
        page.update(other=draft.other, rubric_errors=draft.errors.get("rubric", []),
                    stale=not new and (ctx.opened is None or form.base_hash.data != ctx.opened.hash))
        if not (form.preview.data or getattr(form, "more_rows", None) and form.more_rows.data):  # Save, or Enter
            page["status"] = 400
            item = form.slug.data if new else ctx.slug
            saved = _save_document(ctx, form, draft, item, page) if valid and draft.ok else None
            if saved is not None:
                saved_flash(saved)
                endpoint = {"course": ".edit_course", "lesson": ".edit_lesson", "assignment": ".edit_assignment"}[kind]
                return redirect(url_for(endpoint, course=course.slug, **({} if kind == "course" else {kind: item})))
    return render_template("editor/document.html", course=course, ctx=ctx, form=form,
                           preview=drafts.preview(ctx, form.body.data), **page), page["status"]


@bp.route("/courses/<course>/edit", methods=["GET", "POST"])
@role_required(*EDITORS)
def edit_course(course: str):
    return _document(course, "course")


@bp.route("/courses/<course>/edit/lessons/new", methods=["GET", "POST"])
@role_required(*EDITORS)
def new_lesson(course: str):
    return _document(course, "lesson", new=True)


@bp.route("/courses/<course>/edit/lessons/<lesson>", methods=["GET", "POST"])
@role_required(*EDITORS)
def edit_lesson(course: str, lesson: str):
    return _document(course, "lesson", lesson)


@bp.route("/courses/<course>/edit/assignments/new", methods=["GET", "POST"])
@role_required(*EDITORS)
def new_assignment(course: str):
    return _document(course, "assignment", new=True)


@bp.route("/courses/<course>/edit/assignments/<assignment>", methods=["GET", "POST"])
@role_required(*EDITORS)
def edit_assignment(course: str, assignment: str):
    return _document(course, "assignment", assignment)


@bp.post("/courses/<course>/edit/preview")
@role_required(*EDITORS)
def preview(course: str):
    """The live preview: the body rendered as students will see it, and the form's errors, as JSON."""
    course = edited_course(course)
    kind = request.form.get("kind")
    if kind not in editing.KINDS:  # no form around it: render the Markdown as a lesson of the course
        source = next((request.form[k] for k in ("body", "markdown", "text", "source") if k in request.form), "")
        rendered = drafts.preview(drafts.Context(course, "lesson", None, None, new=True), source)
        return jsonify(html=rendered.html, toc=rendered.toc_html, errors={}, other=[], stale=False)
    item = request.form.get("item") or None
    ctx = _context(course, kind, item, new=kind != "course" and item is None)
    form = drafts.make_form(ctx, request.form)
    form.validate()
    _slug_free(form, ctx)
    draft = drafts.build(form, ctx)
    rendered = drafts.preview(ctx, form.body.data)
    return jsonify(html=rendered.html, toc=rendered.toc_html, errors=drafts.field_errors(form, draft),
                   other=[str(text) for text in draft.other],
                   stale=not ctx.new and (ctx.opened is None or form.base_hash.data != ctx.opened.hash))
