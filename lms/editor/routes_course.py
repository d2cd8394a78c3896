"""The course-wide editor pages: the lessons and their order, the assignments, the images, and
"view as student". Thin views over lms.services.editing, for the course's mentors and admins.
"""
from __future__ import annotations

import re

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..models import Assignment, Course, Lesson
from ..permissions import role_required
from ..services import editing
from ..urls import safe_next
from . import STUDENT_VIEW, bp, drafts
from .forms import AssetForm, OrderForm, StudentViewForm
from .routes import EDITORS, edited_course, message_or, refusal, saved_flash, titles


def _moved(order: list[str], move: str) -> list[str]:
    """``order`` after a "Move up" ("up:<slug>") or "Move down" ("down:<slug>") button."""
    direction, _sep, slug = move.partition(":")
    if slug in order:
        index = order.index(slug)
        other = index - 1 if direction == "up" else index + 1
        if 0 <= other < len(order):
            order[index], order[other] = order[other], order[index]
    return order


def _show_current_order(form: OrderForm, course: Course) -> int:
    """The lessons changed under the page: show the current order and say so (409)."""
    form.order.data = ",".join(f.slug for f in editing.lessons_on_disk(course.slug))
    form.listing.data = editing.listing_hash(course.slug)
    form.form_errors.append(_("The lessons changed since you opened this page (a lesson was added, removed or "
                              "moved by someone else). This is the current order: make your change again."))
    return 409


def _save_order(form: OrderForm, course: Course, order: list[str]) -> int:
    """Save the order; returns 302 when saved, else the status of the page that says why not."""
    if not form.validate():
        return 400
    try:
        saved = editing.save_order(current_user, course.slug, order, base_listing=form.listing.data or "",
                                   message=message_or(form, f"Reorder the lessons of {course.slug}"))
    except editing.Conflict:
        return _show_current_order(form, course)
    except editing.Invalid as exc:
        form.form_errors.append("; ".join(str(e) for e in exc.errors[:5]))
        return 400
    except (editing.CommitFailed, editing.Busy) as exc:
        message, status = refusal(exc)
        form.form_errors.append(message)
        return status
    saved_flash(saved)
    return 302


@bp.route("/courses/<course>/edit/order", methods=["GET", "POST"])
@role_required(*EDITORS)
def order(course: str):
    """The course's lessons: their order (Move up / Move down, then Save order) and links to edit them."""
    course = edited_course(course)
    current = [f.slug for f in editing.lessons_on_disk(course.slug)]
    form, status = OrderForm(), 200
    if request.method == "GET":
        form.order.data, form.listing.data = ",".join(current), editing.listing_hash(course.slug)
        form.message.data = f"Reorder the lessons of {course.slug}"
    else:
        order = [slug for slug in (form.order.data or "").split(",") if slug]
        if sorted(order) != sorted(current):
            status = _show_current_order(form, course)
        elif form.move.data:
            form.order.data = ",".join(_moved(order, form.move.data))
        elif form.save.data:
            status = _save_order(form, course, order)
            if status == 302:
                return redirect(url_for(".order", course=course.slug))
    return render_template("editor/order.html", course=course, form=form,
                           order=[slug for slug in (form.order.data or "").split(",") if slug],
                           titles=titles(Lesson, course)), status


@bp.get("/courses/<course>/edit/assignments")
@role_required(*EDITORS)
def assignments(course: str):
    course = edited_course(course)
    return render_template("editor/assignments.html", course=course,
                           slugs=editing.assignments_on_disk(course.slug), titles=titles(Assignment, course))


def _upload(form: AssetForm, course: Course) -> tuple[str | None, int]:
    """Check and save the uploaded image: (its name, 302) when saved, else (None, status) with the
    reason on the form."""
    upload = request.files.get(form.image.name) or next(iter(request.files.values()), None)
    if upload is None or not upload.filename:
        drafts.add_error(form.image, _("Choose an image to upload."))
        return None, 400
    name = None
    try:
        name = editing.asset_name(form.name.data or upload.filename)
        editing.check_image(upload.stream.path, name, upload.stream.size, current_app.config.get("LMS_MAX_ASSET_MB", 20))
        saved = editing.save_asset(current_user, course.slug, name, upload.stream.path, replace=form.replace.data,
                                   message=message_or(form, f"Add {name} to {course.slug}"))
    except editing.AssetRejected as exc:
        drafts.add_error(form.image, exc.message)
    except editing.AssetExists:
        drafts.add_error(form.name, _("An image named %(name)s exists already. Tick “Replace” to replace it, "
                                      "or choose another name.", name=name))
    except editing.Invalid as exc:
        form.form_errors.append("; ".join(str(e) for e in exc.errors[:5]))
    except (editing.CommitFailed, editing.Busy) as exc:
        message, status = refusal(exc)
        form.form_errors.append(message)
        return None, status
    else:
        saved_flash(saved)
        return name, 302
    return None, 400


@bp.route("/courses/<course>/edit/assets", methods=["GET", "POST"])
@role_required(*EDITORS)
def assets(course: str):
    """Images of the course: the list, and an upload form (images only, checked by content)."""
    course = edited_course(course)
    form = AssetForm()
    status = 200
    if request.method == "POST":
        name, status = _upload(form, course) if form.validate_on_submit() else (None, 400)
        if name is not None:
            flash(_("Show it in a lesson with: %(markdown)s", markdown=f"![…](../assets/{name})"), "success")
            return redirect(url_for(".assets", course=course.slug))
    return render_template("editor/assets.html", course=course, form=form,
                           files=editing.assets_on_disk(course.slug)), status


@bp.post("/courses/<course>/edit/student-view")
@role_required(*EDITORS)
def student_view(course: str):
    """Turn "view as a student" on or off for this course (kept in the session)."""
    course = edited_course(course)
    form = StudentViewForm()
    if not form.validate_on_submit():
        abort(400)
    slugs = set(session.get(STUDENT_VIEW, ()))
    if form.on.data == "1":
        slugs.add(course.slug)
    else:
        slugs.discard(course.slug)
    session[STUDENT_VIEW] = sorted(slugs)
    target = safe_next(form.next.data, url_for("catalog.course", slug=course.slug))
    if not re.match(rf"^/courses/{re.escape(course.slug)}(/|$)", target):
        target = url_for("catalog.course", slug=course.slug)
    return redirect(target)
