"""Version history of content items: whose courses a reviewer sees, the versions, and diffs.

Every page built on these functions runs a fixed number of queries, whatever the number of
versions: version lists are paginated and never load the sources they do not show.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from markupsafe import Markup, escape
from sqlalchemy import Row, Select, and_, func, or_, select, union
from sqlalchemy.orm import load_only, selectinload

from ..extensions import db
from ..models import Assignment, Case, ContentVersion, Course, CourseMentor, Lesson, User, course_cases, lesson_cases
from .tabular import Page

KINDS = {"case": Case, "course": Course, "lesson": Lesson, "assignment": Assignment}
PER_PAGE = 50
CONTEXT_LINES = 3
# Columns of a version that lists need; the source and the rendering stay in the database.
LIST_COLUMNS = (ContentVersion.item_type, ContentVersion.item_id, ContentVersion.number, ContentVersion.path,
                ContentVersion.content_hash, ContentVersion.commit_id, ContentVersion.commit_author,
                ContentVersion.commit_email, ContentVersion.committed_at, ContentVersion.synced_at)


def _company_course_ids(company: str):
    direct = (select(course_cases.c.course_id).join(Case, Case.id == course_cases.c.case_id)
              .where(Case.company == company))
    via_lessons = (select(Lesson.course_id).join(lesson_cases, lesson_cases.c.lesson_id == Lesson.id)
                   .join(Case, Case.id == lesson_cases.c.case_id).where(Case.company == company))
    return union(direct, via_lessons)


def course_companies(course_ids: list[int]) -> dict[int, set[str]]:
    """For each course, the companies of the cases it uses, in its own front matter or in a lesson's
    (retired lessons included: an auditor keeps seeing what was taught with their case)."""
    if not course_ids:
        return {}
    direct = (select(course_cases.c.course_id.label("course_id"), Case.company)
              .join(Case, Case.id == course_cases.c.case_id).where(course_cases.c.course_id.in_(course_ids)))
    via_lessons = (select(Lesson.course_id.label("course_id"), Case.company)
                   .join(lesson_cases, lesson_cases.c.lesson_id == Lesson.id)
                   .join(Case, Case.id == lesson_cases.c.case_id).where(Lesson.course_id.in_(course_ids)))
    found: dict[int, set[str]] = {course_id: set() for course_id in course_ids}
    for course_id, company in db.session.execute(union(direct, via_lessons)):
        found[course_id].add(company)
    return found


def _reviewable(stmt: Select, user: User) -> Select | None:
    """``stmt`` (over courses) narrowed to the courses whose history ``user`` may read, or None."""
    if user.role == "admin" or (user.role == "auditor" and user.audits_all):
        return stmt
    if user.role == "mentor":
        return stmt.where(Course.id.in_(select(CourseMentor.course_id)
                                        .where(CourseMentor.email == user.email.lower())))
    if user.role == "auditor" and user.company:
        return stmt.where(Course.id.in_(_company_course_ids(user.company)))
    return None


def reviewable_courses(user: User) -> list[Course]:
    """Courses whose history ``user`` may read, unpublished and retired ones included: every course
    for admins and all-courses auditors, the mentored ones for mentors, and for an auditor the
    courses that use a case of their company."""
    stmt = _reviewable(select(Course).options(selectinload(Course.mentors)).order_by(Course.title, Course.slug), user)
    return [] if stmt is None else list(db.session.scalars(stmt))


def reviewable_course_titles(user: User) -> list[Row]:
    """The same courses as ``reviewable_courses``, as (id, slug, title) rows: for lists and filters."""
    stmt = _reviewable(select(Course.id, Course.slug, Course.title).order_by(Course.title, Course.slug), user)
    return [] if stmt is None else list(db.session.execute(stmt))


def company_cases(user: User) -> list[Case]:
    """Cases an auditor reviews: their company's, or every case for admins and all-courses auditors."""
    stmt = _company_cases(select(Case).order_by(Case.title, Case.slug), user)
    return [] if stmt is None else list(db.session.scalars(stmt))


def company_case_ids(user: User) -> list[int]:
    stmt = _company_cases(select(Case.id), user)
    return [] if stmt is None else list(db.session.scalars(stmt))


def _company_cases(stmt: Select, user: User) -> Select | None:
    if user.role == "admin" or (user.role == "auditor" and user.audits_all):
        return stmt
    if user.role == "auditor" and user.company:
        return stmt.where(Case.company == user.company)
    return None


def load_course(slug: str) -> Course | None:
    """A course by slug, whatever its state, with its mentors."""
    return db.session.scalar(select(Course).where(Course.slug == slug).options(selectinload(Course.mentors)))


def load_item(kind: str, item_id: int) -> tuple[object | None, Course | None]:
    """An item of ``kind`` and the course it belongs to (itself for a course, None for a case)."""
    model = KINDS[kind]
    if kind == "course":
        course = db.session.scalar(select(Course).where(Course.id == item_id).options(selectinload(Course.mentors)))
        return course, course
    item = db.session.get(model, item_id)
    if item is None or kind == "case":
        return item, None
    course = db.session.scalar(select(Course).where(Course.id == item.course_id)
                               .options(selectinload(Course.mentors)))
    return item, course


def course_items(course: Course) -> list[tuple[str, object]]:
    """The course and all its lessons and assignments, retired ones included, as (kind, item)."""
    lessons = db.session.scalars(select(Lesson).where(Lesson.course_id == course.id)
                                 .order_by(Lesson.retired_at.is_not(None), Lesson.position, Lesson.slug))
    assignments = db.session.scalars(select(Assignment).where(Assignment.course_id == course.id)
                                     .order_by(Assignment.retired_at.is_not(None), Assignment.due_at,
                                               Assignment.slug))
    return [("course", course), *(("lesson", x) for x in lessons), *(("assignment", x) for x in assignments)]


def versions(kind: str, item_id: int, page: int = 1, per_page: int = PER_PAGE) -> Page:
    """One page of an item's versions, newest first, without their sources."""
    where = (ContentVersion.item_type == kind, ContentVersion.item_id == item_id)
    total = db.session.scalar(select(func.count(ContentVersion.id)).where(*where)) or 0
    page = max(1, page)
    rows = db.session.scalars(select(ContentVersion).options(load_only(*LIST_COLUMNS)).where(*where)
                              .order_by(ContentVersion.number.desc())
                              .limit(per_page).offset((page - 1) * per_page)).all()
    return Page(list(rows), page, per_page, total)


def get_versions(kind: str, item_id: int, numbers: list[int]) -> dict[int, ContentVersion]:
    """The named versions of an item, in full, by number (missing numbers are absent)."""
    rows = db.session.scalars(select(ContentVersion).where(
        ContentVersion.item_type == kind, ContentVersion.item_id == item_id, ContentVersion.number.in_(numbers)))
    return {row.number: row for row in rows}


def course_versions(items: list[tuple[str, object]]):
    """Every version of the given items without their sources, item by item, oldest first (streamed)."""
    by_kind: dict[str, list[int]] = {}
    for kind, item in items:
        by_kind.setdefault(kind, []).append(item.id)
    if not by_kind:
        return iter(())
    condition = or_(*(and_(ContentVersion.item_type == kind, ContentVersion.item_id.in_(ids))
                      for kind, ids in by_kind.items()))
    stmt = (select(ContentVersion).options(load_only(*LIST_COLUMNS)).where(condition)
            .order_by(ContentVersion.item_type, ContentVersion.item_id, ContentVersion.number)
            .execution_options(yield_per=500))
    return db.session.scalars(stmt)


@dataclass(frozen=True)
class DiffLine:
    """One line of a diff: ``op`` is "add", "del" or "same"; ``text`` is already HTML-escaped."""

    op: str
    old_number: int | None
    new_number: int | None
    text: Markup


@dataclass
class Hunk:
    lines: list[DiffLine] = field(default_factory=list)


def diff(old: str, new: str, context: int = CONTEXT_LINES) -> list[Hunk]:
    """A line-by-line diff of two Markdown sources, as hunks with ``context`` unchanged lines
    around each change. Every line is HTML-escaped here, so a template may print it as is."""
    a, b = old.splitlines(), new.splitlines()
    hunks = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for group in matcher.get_grouped_opcodes(context):
        hunk = Hunk()
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                hunk.lines.extend(DiffLine("same", i + 1, j1 + (i - i1) + 1, escape(a[i])) for i in range(i1, i2))
                continue
            if tag in ("replace", "delete"):
                hunk.lines.extend(DiffLine("del", i + 1, None, escape(a[i])) for i in range(i1, i2))
            if tag in ("replace", "insert"):
                hunk.lines.extend(DiffLine("add", None, j + 1, escape(b[j])) for j in range(j1, j2))
        hunks.append(hunk)
    return hunks
