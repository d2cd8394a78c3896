"""What mentors see across many attempts: the grading queue, the gradebook, CSV and zip exports.

The pages run a fixed number of queries whatever the number of attempts; the exports are
generators that read and stream 500 students at a time (a fixed number of queries per chunk),
so memory stays flat for any course size.
"""
from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Iterator

from sqlalchemy import and_, case, false, func, or_, select

from ..extensions import db
from ..models import Assignment, Attempt, AttemptFile, Course, CourseMentor, Enrollment, Grade, RegradeRequest, User
from . import filecheck, storage
from .tabular import Page, drain, safe_cell

STATUSES = ("ungraded", "regrade", "draft", "released", "old_rubric")
CHUNK = 500


def graded_course_ids(user: User) -> list[int]:
    """Courses whose work ``user`` may grade: the ones they mentor; every course for an admin."""
    if user.role == "admin":
        return list(db.session.scalars(select(Course.id)))
    if user.role != "mentor":
        return []
    return list(db.session.scalars(select(CourseMentor.course_id).where(CourseMentor.email == user.email.lower())))


@dataclass(frozen=True)
class QueueRow:
    attempt: Attempt
    student: User
    assignment: Assignment
    grade: Grade | None
    open_regrades: int

    @property
    def older_rubric(self) -> bool:
        """Graded with a rubric the assignment no longer has."""
        return self.grade is not None and self.assignment.graded_with_older_rubric(self.grade.rubric_hash)

    @property
    def status(self) -> str:
        if self.grade is None:
            return "ungraded"
        if self.open_regrades:
            return "regrade"
        return self.grade.status


def _open_regrades():
    return (select(func.count(RegradeRequest.id))
            .where(RegradeRequest.attempt_id == Attempt.id, RegradeRequest.status == "open")
            .correlate(Attempt).scalar_subquery())


def _older_rubric(course_ids: list[int], assignment_id: int | None):
    """A condition true for grades saved with a rubric other than their assignment's current one
    (one query for the courses' assignments; the comparison itself runs in the database)."""
    stmt = select(Assignment).where(Assignment.course_id.in_(course_ids))
    if assignment_id is not None:
        stmt = stmt.where(Assignment.id == assignment_id)
    current = [(a.id, a.current_grade_hashes) for a in db.session.scalars(stmt)]
    if not current:
        return false()
    return or_(*(and_(Attempt.assignment_id == a_id, Grade.rubric_hash.notin_(hashes))
                 for a_id, hashes in current))


def _queue_select(course_ids: list[int], assignment_id: int | None, status: str | None):
    regrades = _open_regrades()
    stmt = (select(Attempt, User, Assignment, Grade, regrades.label("regrades"))
            .join(User, User.id == Attempt.user_id)
            .join(Assignment, Assignment.id == Attempt.assignment_id)
            .outerjoin(Grade, Grade.attempt_id == Attempt.id)
            .where(Attempt.course_id.in_(course_ids), Attempt.latest.is_(True)))
    if assignment_id is not None:
        stmt = stmt.where(Attempt.assignment_id == assignment_id)
    if status == "ungraded":
        stmt = stmt.where(Grade.id.is_(None))
    elif status == "regrade":
        stmt = stmt.where(regrades > 0)
    elif status in ("draft", "released"):
        stmt = stmt.where(Grade.status == status, regrades == 0)
    elif status == "old_rubric":
        stmt = stmt.where(_older_rubric(course_ids, assignment_id))
    order = case((Grade.id.is_(None), 0), (regrades > 0, 1), (Grade.status == "draft", 2), else_=3)
    return stmt, order


def queue(course_ids: list[int], *, assignment_id: int | None = None, status: str | None = None,
          page: int = 1, per_page: int = 50) -> Page:
    """Latest attempts to grade: ungraded first, then open regrades, drafts, released; oldest first."""
    stmt, order = _queue_select(course_ids, assignment_id, status)
    total = db.session.scalar(select(func.count()).select_from(stmt.with_only_columns(Attempt.id).subquery()))
    page = max(1, page)
    rows = db.session.execute(stmt.order_by(order, Attempt.submitted_at, Attempt.id)
                              .limit(per_page).offset((page - 1) * per_page)).all()
    return Page([QueueRow(*row) for row in rows], page, per_page, total or 0)


def next_ungraded(course_ids: list[int], assignment_id: int | None = None) -> int | None:
    """The id of the oldest ungraded latest attempt, or None when everything is graded."""
    stmt, _order = _queue_select(course_ids, assignment_id, "ungraded")
    return db.session.scalar(stmt.with_only_columns(Attempt.id).order_by(Attempt.submitted_at, Attempt.id).limit(1))


@dataclass
class Cell:
    """One student's standing on one assignment."""

    score: Decimal | None = None  # the released score of their newest graded attempt
    late: bool = False
    attempts: int = 0
    pending: bool = False  # a newer attempt is waiting for a (released) grade
    older_rubric_attempt: int | None = None  # the released grade used a rubric since changed


@dataclass
class Row:
    student: User
    cells: dict[int, Cell] = field(default_factory=dict)

    @property
    def total(self) -> Decimal:
        return sum((c.score for c in self.cells.values() if c.score is not None), Decimal(0))


def course_assignments(course: Course) -> list[Assignment]:
    return list(db.session.scalars(select(Assignment).where(
        Assignment.course_id == course.id, Assignment.retired_at.is_(None)).order_by(Assignment.due_at, Assignment.slug)))


def _fill(course: Course, students: list[User], assignments: list[Assignment]) -> list[Row]:
    current = {a.id: a.current_grade_hashes for a in assignments}  # hashed once, not per attempt
    rows = {s.id: Row(s, {a: Cell() for a in current}) for s in students}
    if not rows:
        return []
    attempts = db.session.execute(
        select(Attempt.id, Attempt.user_id, Attempt.assignment_id, Attempt.number, Attempt.late_days,
               Attempt.latest, Grade.status, Grade.score, Grade.rubric_hash)
        .outerjoin(Grade, Grade.attempt_id == Attempt.id)
        .where(Attempt.course_id == course.id, Attempt.user_id.in_(rows)).order_by(Attempt.number))
    for attempt_id, user_id, assignment_id, number, late_days, latest, status, value, rubric in attempts:
        cell = rows[user_id].cells.get(assignment_id)
        if cell is None:
            continue
        cell.attempts = max(cell.attempts, number)
        if status == "released":
            cell.score, cell.late, cell.pending = value, late_days > 0, False
            cell.older_rubric_attempt = attempt_id if rubric not in current[assignment_id] else None
        elif latest:
            cell.pending = True
    return list(rows.values())


def _students(course: Course):
    return (select(User).join(Enrollment, Enrollment.user_id == User.id)
            .where(Enrollment.course_id == course.id))


def gradebook(course: Course, *, page: int = 1, per_page: int = 100) -> tuple[list[Assignment], Page]:
    """The course's current assignments and one page of enrolled students with their cells."""
    assignments = course_assignments(course)
    total = db.session.scalar(select(func.count()).select_from(Enrollment).where(Enrollment.course_id == course.id))
    page = max(1, page)
    students = list(db.session.scalars(_students(course).order_by(User.name, User.id)
                                       .limit(per_page).offset((page - 1) * per_page)))
    return assignments, Page(_fill(course, students, assignments), page, per_page, total or 0)


def gradebook_csv(course: Course, headers: list[str], late_mark: str) -> Iterator[str]:
    """The whole gradebook as CSV text chunks, UTF-8 BOM first so spreadsheet programs read Chinese.

    ``headers`` are the translated labels of the fixed columns (name, e-mail, total).
    """
    assignments = course_assignments(course)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([headers[0], headers[1],
                     *(safe_cell(f"{a.title} ({_num(a.points)})") for a in assignments), headers[2]])
    yield "\ufeff" + drain(buffer)
    last_id = 0
    while True:
        students = list(db.session.scalars(_students(course).where(User.id > last_id)
                                           .order_by(User.id).limit(CHUNK)))
        if not students:
            return
        last_id = students[-1].id
        for row in _fill(course, students, assignments):
            cells = [row.cells[a.id] for a in assignments]
            writer.writerow([safe_cell(row.student.name), safe_cell(row.student.email),
                             *(("" if c.score is None else _num(c.score)) + (f" {late_mark}" if c.late else "")
                               for c in cells), _num(row.total)])
        yield drain(buffer)
        db.session.expunge_all()


def _num(value) -> str:
    return format(Decimal(value).normalize(), "f")


class _Pipe(io.RawIOBase):
    """A write-only, unseekable sink whose bytes the zip generator hands out chunk by chunk."""

    def __init__(self):
        self.chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data, self.chunks = b"".join(self.chunks), []
        return data


def _entry_name(student: User, attempt: Attempt, filename: str) -> str:
    """``<e-mail>/attempt-<n>/<file>``: one plain folder per student, whatever the address holds."""
    folder = filecheck.safe_filename(student.email.replace("\\", "_").replace("/", "_"))
    return f"{folder}/attempt-{attempt.number}/{filecheck.safe_filename(filename)}"


def attempts_zip(assignment: Assignment) -> Iterator[bytes]:
    """A zip of every student's latest attempt (files, text, link), streamed as it is built."""
    store = storage.get_storage()
    pipe = _Pipe()
    archive = zipfile.ZipFile(pipe, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True)
    last_id = 0
    while True:
        batch = db.session.execute(
            select(Attempt, User).join(User, User.id == Attempt.user_id)
            .where(Attempt.assignment_id == assignment.id, Attempt.latest.is_(True), Attempt.id > last_id)
            .order_by(Attempt.id).limit(CHUNK)).all()
        if not batch:
            break
        last_id = batch[-1][0].id
        files = db.session.execute(
            select(AttemptFile.attempt_id, AttemptFile)
            .where(AttemptFile.attempt_id.in_([a.id for a, _u in batch]))).all()
        by_attempt: dict[int, list] = {}
        for attempt_id, stored in files:
            by_attempt.setdefault(attempt_id, []).append(stored)
        for attempt, student in batch:
            summary = [f"# {student.name} <{student.email}>", "",
                       f"attempt {attempt.number}, {attempt.submitted_at.isoformat()}"]
            if attempt.repo_url:
                summary += ["", attempt.repo_url]
            if attempt.text:
                summary += ["", attempt.text]
            archive.writestr(_entry_name(student, attempt, "submission.md"), "\n".join(summary) + "\n",
                             compress_type=zipfile.ZIP_DEFLATED)
            yield pipe.take()
            for stored in sorted(by_attempt.get(attempt.id, []), key=lambda f: f.position):
                info = zipfile.ZipInfo(_entry_name(student, attempt, stored.filename),
                                       date_time=attempt.submitted_at.timetuple()[:6])
                with store.open(stored.content_hash) as source, archive.open(info, "w", force_zip64=True) as target:
                    while chunk := source.read(1024 * 1024):
                        target.write(chunk)
                        yield pipe.take()
        db.session.expunge_all()
    archive.close()
    yield pipe.take()
