"""Read-side queries for the public catalog: every page runs a fixed number of queries."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import Asset, AssetBlob, Assignment, Case, Course, CourseMentor, Lesson, User, course_cases
from ..permissions import can_read_course
from .content.schema import LEVELS


class NotFound(LookupError):
    """The item does not exist or is not public."""


@dataclass(frozen=True)
class CatalogFilters:
    language: str | None = None
    level: str | None = None
    industry: str | None = None


def public_courses(filters: CatalogFilters) -> list[Course]:
    """Published, current courses matching the filters, with their cases loaded."""
    query = (select(Course).where(Course.published.is_(True), Course.retired_at.is_(None))
             .options(selectinload(Course.cases)).order_by(Course.title))
    if filters.language:
        query = query.where(Course.language == filters.language)
    if filters.level:
        query = query.where(Course.level == filters.level)
    if filters.industry:
        query = query.where(exists().where(
            course_cases.c.course_id == Course.id, course_cases.c.case_id == Case.id,
            Case.industry == filters.industry, Case.retired_at.is_(None)))
    return list(db.session.scalars(query))


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


def public_case(slug: str) -> tuple[Case, list[Course]]:
    """A current case and the public courses built on it."""
    case = db.session.scalar(select(Case).where(Case.slug == slug, Case.retired_at.is_(None)))
    if case is None:
        raise NotFound(slug)
    courses = db.session.scalars(
        select(Course).join(course_cases, course_cases.c.course_id == Course.id)
        .where(course_cases.c.case_id == case.id, Course.published.is_(True), Course.retired_at.is_(None))
        .order_by(Course.title))
    return case, list(courses)


def public_cases() -> list[Case]:
    return list(db.session.scalars(select(Case).where(Case.retired_at.is_(None)).order_by(Case.title)))


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
