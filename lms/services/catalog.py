"""Read-side queries for the public catalog: every page runs a fixed number of queries."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, exists, func, select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import Asset, AssetBlob, Assignment, Case, Course, CourseMentor, Lesson, User, course_cases
from ..permissions import can_read_course
from .content.schema import LEVELS
from .tabular import Page

PER_PAGE = 24  # courses or cases on one page of a public list


class NotFound(LookupError):
    """The item does not exist or is not public."""


@dataclass(frozen=True)
class CatalogFilters:
    language: str | None = None
    level: str | None = None
    industry: str | None = None


def page_number(raw: str | None) -> int:
    """The 1-based page a ``?page=`` parameter asks for: missing, non-numeric, zero or negative
    values mean page 1 (pages past the last are NotFound, see ``_page``)."""
    try:
        return max(1, int(raw or 1))
    except ValueError:
        return 1


def _page(query: Select, order, page: int, per_page: int, *options) -> Page:
    """One page of ``query``'s rows in ``order``: a COUNT, then the rows by LIMIT/OFFSET.

    Page 1 always exists (it may be empty); a later page past the last raises NotFound without
    reading rows. ``order`` must be a total order (end with a unique column), or rows could
    repeat or go missing from one page to the next.
    """
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    result = Page([], page, per_page, total)
    if page > result.pages:
        raise NotFound(f"page {page}")
    if total:
        result.rows = list(db.session.scalars(
            query.options(*options).order_by(*order).limit(per_page).offset((page - 1) * per_page)))
    return result


def public_courses(filters: CatalogFilters, page: int = 1, per_page: int = PER_PAGE) -> Page:
    """A page of the published, current courses matching the filters, by title, with their cases
    loaded. NotFound for a page after the last."""
    query = select(Course).where(Course.published.is_(True), Course.retired_at.is_(None))
    if filters.language:
        query = query.where(Course.language == filters.language)
    if filters.level:
        query = query.where(Course.level == filters.level)
    if filters.industry:
        query = query.where(exists().where(
            course_cases.c.course_id == Course.id, course_cases.c.case_id == Case.id,
            Case.industry == filters.industry, Case.retired_at.is_(None)))
    return _page(query, (Course.title, Course.id), page, per_page, selectinload(Course.cases))


def catalog_facets() -> dict[str, list[str]]:
    """The values the catalog can be filtered by, taken from public courses."""
    public = (Course.published.is_(True), Course.retired_at.is_(None))
    languages = db.session.scalars(select(Course.language).where(*public).distinct().order_by(Course.language))
    levels = db.session.scalars(select(Course.level).where(*public, Course.level.is_not(None)).distinct())
    industries = db.session.scalars(
        select(Case.industry).join(course_cases, course_cases.c.case_id == Case.id)
        .join(Course, Course.id == course_cases.c.course_id)
        .where(*public, Case.retired_at.is_(None)).distinct().order_by(Case.industry))
    return {"language": list(languages), "level": sorted(levels, key=LEVELS.index), "industry": list(industries)}


def _readable(course: Course, viewer) -> bool:
    """Current courses only; unpublished ones just for their mentors and admins."""
    return course.retired_at is None and can_read_course(viewer, course)


def public_course(slug: str, viewer=None, *, assignments: bool = True) -> Course:
    """A course the viewer may read, with its cases, mentors, lessons and (unless told not to)
    assignments loaded.

    Everyone reads published, current courses; the course's mentors and admins also read it
    while it is unpublished (a preview of what students will see). Others get NotFound.
    """
    options = [selectinload(Course.cases), selectinload(Course.mentors), selectinload(Course.lessons)]
    if assignments:
        options.append(selectinload(Course.assignments))
    course = db.session.scalar(select(Course).where(Course.slug == slug).options(*options))
    if course is None or not _readable(course, viewer):
        raise NotFound(slug)
    return course


def mentor_names(course: Course) -> list[tuple[str, str | None]]:
    """(e-mail, display name if the mentor has an account) for each mentor, in file order."""
    emails = [m.email for m in course.mentors]
    names = dict(db.session.execute(select(User.email, User.name).where(User.email.in_(emails))).all()) if emails else {}
    return [(email, names.get(email)) for email in emails]


def current_lessons(course: Course) -> list[Lesson]:
    return [lesson for lesson in course.lessons if lesson.retired_at is None]


def current_assignments(course: Course) -> list[Assignment]:
    return [a for a in course.assignments if a.retired_at is None]


def public_lesson(course_slug: str, lesson_slug: str, viewer=None) -> tuple[Course, Lesson, Lesson | None, Lesson | None]:
    """A lesson of a course the viewer may read, with the previous and next current lessons."""
    course = public_course(course_slug, viewer, assignments=False)  # a lesson page shows none
    lessons = current_lessons(course)
    for index, lesson in enumerate(lessons):
        if lesson.slug == lesson_slug:
            previous = lessons[index - 1] if index > 0 else None
            following = lessons[index + 1] if index + 1 < len(lessons) else None
            return course, lesson, previous, following
    raise NotFound(lesson_slug)


def lesson_cases(lesson: Lesson) -> list[Case]:
    return [case for case in lesson.cases if case.retired_at is None]


def public_assignment(course_slug: str, slug: str, viewer=None) -> tuple[Course, Assignment]:
    """An assignment brief of a course the viewer may read."""
    course = public_course(course_slug, viewer)
    for assignment in current_assignments(course):
        if assignment.slug == slug:
            return course, assignment
    raise NotFound(slug)


def public_case(slug: str, page: int = 1, per_page: int = PER_PAGE) -> tuple[Case, Page]:
    """A current case and a page of the public courses built on it, by title. NotFound for an
    unknown case or a page after the last."""
    case = db.session.scalar(select(Case).where(Case.slug == slug, Case.retired_at.is_(None)))
    if case is None:
        raise NotFound(slug)
    courses = (select(Course).join(course_cases, course_cases.c.course_id == Course.id)
               .where(course_cases.c.case_id == case.id, Course.published.is_(True), Course.retired_at.is_(None)))
    return case, _page(courses, (Course.title, Course.id), page, per_page)


def public_cases(page: int = 1, per_page: int = PER_PAGE) -> Page:
    """A page of the current cases, by title. NotFound for a page after the last."""
    return _page(select(Case).where(Case.retired_at.is_(None)), (Case.title, Case.id), page, per_page)


def public_asset(course_slug: str, path: str, viewer=None) -> tuple[Asset, bytes]:
    """The bytes and type of a current asset of a course the viewer may read."""
    row = db.session.execute(
        select(Asset, AssetBlob.data, Course).join(AssetBlob, AssetBlob.content_hash == Asset.content_hash)
        .join(Course, Course.id == Asset.course_id)
        .where(Course.slug == course_slug, Asset.path == path, Asset.retired_at.is_(None),
               Course.retired_at.is_(None))).first()
    if row is None or not _readable(row[2], viewer):
        raise NotFound(path)
    return row[0], row[1]


def mentor_courses(email: str) -> list[Course]:
    """Current courses whose front matter lists ``email`` as a mentor (published or not)."""
    return list(db.session.scalars(
        select(Course).join(CourseMentor).where(CourseMentor.email == email.lower(), Course.retired_at.is_(None))
        .order_by(Course.title)))
