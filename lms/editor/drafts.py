"""Between a content file and the editor's form: fill the form from the file, build the file's
front matter from the form, and check the result with the content format's own rules.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from ..extensions import db
from ..i18n import select_timezone
from ..models import Case, Course, Lesson
from ..services import editing
from ..services.content.frontmatter import FrontMatterError
from ..services.render import Rendered, render_markdown
from . import assignment
from .assignment import text
from .forms import MAX_BODY, AssignmentForm, CourseForm, LessonForm, NewAssignmentForm, NewLessonForm
from .messages import explain

FORMS = {("course", False): CourseForm, ("lesson", False): LessonForm, ("lesson", True): NewLessonForm,
         ("assignment", False): AssignmentForm, ("assignment", True): NewAssignmentForm}


@dataclass
class Context:
    """What an editor page works on: the course, the kind of file, and the file as it was opened."""

    course: Course
    kind: str
    slug: str | None               # the item's slug; None for a new lesson or assignment
    opened: editing.Opened | None  # None for a new lesson or assignment, or a file gone since the page was opened
    admin: bool = False
    new: bool = False

    @property
    def path(self) -> str:
        """The content path the preview renders at (relative links resolve from its folder)."""
        if self.opened is not None:
            return self.opened.path
        if self.kind == "course":
            return f"courses/{self.course.slug}/course.md"
        folder = "lessons" if self.kind == "lesson" else "assignments"
        return f"courses/{self.course.slug}/{folder}/new.md"

    def default_message(self, slug: str | None = None) -> str:
        """The commit message the form starts with (in English, like the rest of the repository's history)."""
        course = self.course.slug
        if self.kind == "course":
            return f"Edit the description of course {course}"
        if self.new:
            return f"Add {self.kind} {slug} to {course}" if slug else ""
        return f"Edit {self.kind} {self.slug} of {course}"


@dataclass
class Draft:
    """The file a form would save, and what is wrong with it (field name -> messages)."""

    meta: dict
    body: str
    text: str | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)
    other: list[str] = field(default_factory=list)  # problems tied to no field

    @property
    def ok(self) -> bool:
        return self.text is not None and not self.errors and not self.other


def add_error(form_field, message) -> None:
    form_field.errors = [*form_field.errors, message]


def make_form(ctx: Context, formdata=None):
    """The form for ``ctx``, bound to ``formdata`` (None: to be filled from the file)."""
    form = FORMS[(ctx.kind, ctx.new)](formdata=formdata)
    current = _current_meta(ctx)
    if hasattr(form, "cases"):
        cases = db.session.execute(select(Case.slug, Case.title).where(Case.retired_at.is_(None))
                                   .order_by(Case.title)).all()
        form.cases.choices = [SelectChoice(slug, f"{title} ({slug})") for slug, title in cases]
        known = {slug for slug, _title in cases}
        # A case the file names but the database does not know (yet) stays selectable, so no save drops it.
        form.cases.choices += [SelectChoice(slug, slug) for slug in current.get("cases") or () if slug not in known]
    if ctx.kind == "assignment":
        lessons = db.session.execute(select(Lesson.slug, Lesson.title).where(
            Lesson.course_id == ctx.course.id, Lesson.retired_at.is_(None)).order_by(Lesson.position)).all()
        form.after_lesson.choices = [SelectChoice("", _("Not tied to a lesson"))] + [
            SelectChoice(slug, title) for slug, title in lessons]
        after = current.get("after_lesson")
        if after and after not in {slug for slug, _title in lessons}:
            form.after_lesson.choices.append(SelectChoice(after, after))
        if formdata is not None:
            assignment.tidy_rubric(form)
    if ctx.kind == "course" and not ctx.admin:
        form.mentors.render_kw = {"readonly": True, "rows": 3}
    return form


def _current_meta(ctx: Context) -> dict:
    """The normalised front matter of the file as opened ({} for a new or unreadable one)."""
    if ctx.opened is None:
        return {}
    try:
        return editing.read_document(ctx.kind, ctx.opened.text)[1]
    except FrontMatterError:
        return {}


def fill(form, ctx: Context) -> tuple[list[str], bool]:
    """Fill a fresh form from the file (or with defaults for a new one). Returns the file's problems
    that no field shows, and False when the file cannot be read at all (then nothing is filled)."""
    form.message.data = ctx.default_message()
    zone = select_timezone()
    if ctx.new:
        if ctx.kind == "assignment":
            assignment.fill_new(form, zone)
        return [], True
    form.base_hash.data = ctx.opened.hash
    try:
        raw, meta, problems, body = editing.read_document(ctx.kind, ctx.opened.text)
    except FrontMatterError as exc:
        return [_("Line %(line)d: %(message)s", line=exc.line, message=explain(exc.message)[1])], False
    form.body.data = body
    if ctx.kind == "course":
        form.title.data, form.summary.data = meta["title"], meta["summary"]
        form.language.data, form.level.data = meta["language"], meta["level"] or ""
        form.published.data, form.cases.data = meta["published"], meta["cases"]
        form.mentors.data = "\n".join(meta["mentors"])
    elif ctx.kind == "lesson":
        form.title.data, form.minutes.data, form.cases.data = meta["title"], meta["minutes"], meta["cases"]
    else:
        assignment.fill(form, raw, meta, zone)
    other = []
    for line, message in problems:
        name, text = explain(message)
        target = getattr(form, name, None) if name else None
        if target is not None:
            add_error(target, text)
        else:
            other.append(_("Line %(line)d: %(message)s", line=line, message=text))
    return other, True


def _meta(form, ctx: Context, draft: Draft) -> dict:
    if ctx.kind == "lesson":
        meta = {"title": text(form.title.data)}
        if form.cases.data:
            meta["cases"] = list(form.cases.data)
        if form.minutes.data is not None:
            meta["minutes"] = form.minutes.data
        return meta
    if ctx.kind == "course":
        summary = " ".join(line.strip() for line in (form.summary.data or "").splitlines() if line.strip())
        meta = {"title": text(form.title.data), "summary": summary,
                "language": form.language.data}
        if form.level.data:
            meta["level"] = form.level.data
        meta["mentors"] = _mentors(form, ctx)
        if form.cases.data:
            meta["cases"] = list(form.cases.data)
        if not form.published.data:
            meta["published"] = False
        return meta
    rubric_errors: list[str] = []
    meta = assignment.meta(form, rubric_errors)
    if rubric_errors:
        draft.errors["rubric"] = rubric_errors
    return meta


def _mentors(form, ctx: Context) -> list[str]:
    if ctx.admin:
        return [e for e in re.split(r"[\s,;]+", form.mentors.data or "") if e]
    return _current_meta(ctx).get("mentors") or []


def build(form, ctx: Context) -> Draft:
    """The file the form describes, checked with the content format's rules; errors go to the
    form's fields (in the reader's language), to ``Draft.errors["rubric"]`` and ``Draft.other``."""
    draft = Draft(meta={}, body=form.body.data or "")
    draft.meta = _meta(form, ctx, draft)
    original = ctx.opened.text if ctx.opened else None
    draft.text = editing.compose(ctx.kind, draft.meta, draft.body, original)
    for _line, message in editing.problems(ctx.kind, draft.text):
        name, text = explain(message)
        target = getattr(form, name, None) if name else None
        if name == "rubric":
            draft.errors.setdefault("rubric", []).append(text)
        elif target is None:
            draft.other.append(text)
        else:
            draft.errors.setdefault(name, []).append(text)
            if not target.errors:  # else the form's own message already says it
                add_error(target, text)
    return draft


def field_errors(form, draft: Draft | None = None) -> dict[str, list[str]]:
    """Every field's errors by the field's id, and the rubric's (the preview endpoint sends them)."""
    found = {}
    for form_field in form:
        if form_field.type in ("FieldList", "CSRFTokenField", "SubmitField", "HiddenField"):
            continue
        if form_field.errors:
            found[form_field.id] = [str(e) for e in form_field.errors]
    if draft is not None and draft.errors.get("rubric"):
        found["rubric"] = list(dict.fromkeys(draft.errors["rubric"]))
    return found


def preview(ctx: Context, body: str) -> Rendered:
    """The body as students will see it: the same render-and-sanitize function as sync (nothing for a
    text too long to save)."""
    if len(body or "") > MAX_BODY:
        return Rendered(html="", toc_html="", links=())
    return render_markdown(body or "", path=ctx.path)
