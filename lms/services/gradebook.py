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
from datetime import datetime
from decimal import Decimal
from typing import Iterator

from sqlalchemy import Select, and_, bindparam, exists, false, func, or_, select, union_all

from ..extensions import db
from ..models import Assignment, Attempt, AttemptFile, Course, CourseMentor, Enrollment, Grade, User
from ..models.content import current_grade_hashes
from ..models.submissions import GRADING_STATES
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


STATE_NAMES = {state: name for name, state in GRADING_STATES.items()}


@dataclass(frozen=True, slots=True)
class QueueAttempt:
    """The columns of an attempt that the queue shows (no submitted text or files)."""

    id: int
    assignment_id: int
    number: int
    submitted_at: datetime
    late_days: int
    grading_state: int

    @property
    def late(self) -> bool:
        return self.late_days > 0


@dataclass(frozen=True, slots=True)
class QueueStudent:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class QueueAssignment:
    id: int
    title: str


@dataclass(frozen=True, slots=True)
class QueueGrade:
    id: int
    status: str
    score: Decimal
    points: Decimal
    rubric_hash: str | None
    rubric_version: int | None


@dataclass(frozen=True, slots=True)
class QueueRow:
    attempt: QueueAttempt
    student: QueueStudent
    assignment: QueueAssignment
    grade: QueueGrade | None
    older_rubric: bool = False  # graded with a rubric the assignment no longer has

    @property
    def status(self) -> str:
        """Not graded, regrade (an open request), draft or released: the attempt's stored grading state."""
        return STATE_NAMES[self.attempt.grading_state]


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


# Up to this many courses, the queue reads each course's part of the index in queue order and
# merges them (one statement); beyond it (an admin's every course), one scan of them all.
MERGED_COURSES = 400

# The queue's statements, built once per shape (number of courses, filters) with their values as
# bound parameters: building a union of per-course parts and its cache key took longer than the
# database took to answer it. The older-rubric filter compares against each assignment's current
# hashes and is built anew each time (it is rare).
_STATEMENTS: dict[tuple, Select] = {}


def _statement(key: tuple, build) -> Select:
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        if len(_STATEMENTS) >= 512:
            _STATEMENTS.clear()
        stmt = _STATEMENTS[key] = build()
    return stmt


def _conditions(assignment_id: int | None, status: str | None, older) -> list:
    conditions = [Attempt.latest.is_(True)]
    if assignment_id is not None:
        conditions.append(Attempt.assignment_id == bindparam("assignment_id"))
    if status in GRADING_STATES:
        conditions.append(Attempt.grading_state == bindparam("state"))
    if older is not None:
        conditions.append(Attempt.grading_state != GRADING_STATES["ungraded"])
    return conditions


def _queue_ids(n_courses: int, assignment_id: int | None, status: str | None, older):
    """The first ``:first`` latest attempts of the queue, as a subquery (id, grading_state,
    submitted_at), for ``n_courses`` courses bound as ``:c0``, ``:c1``... (or ``:courses``).

    The order (grading state, then oldest first) is ix_attempts_queue's within one course, so each
    course's part is a short index range walk with a LIMIT; they are merged and sorted in the
    database. Nothing sorts all the attempts of the courses.
    """
    conditions = _conditions(assignment_id, status, older)

    def part(courses) -> Select:
        stmt = select(Attempt.id, Attempt.grading_state, Attempt.submitted_at)
        if older is not None:
            stmt = stmt.join(Grade, Grade.attempt_id == Attempt.id).where(older)
        return (stmt.where(courses, *conditions)
                .order_by(Attempt.grading_state, Attempt.submitted_at, Attempt.id).limit(bindparam("first")))

    if n_courses == 1:
        return part(Attempt.course_id == bindparam("c0")).subquery("queue")
    if n_courses > MERGED_COURSES:
        return part(Attempt.course_id.in_(bindparam("courses", expanding=True))).subquery("queue")
    parts = [part(Attempt.course_id == bindparam(f"c{n}")).subquery(f"c{n}") for n in range(n_courses)]
    return union_all(*(select(*p.c).select_from(p) for p in parts)).subquery("queue")


def _course_params(course_ids: list[int]) -> dict:
    if len(course_ids) > MERGED_COURSES:
        return {"courses": list(course_ids)}
    return {f"c{n}": course_id for n, course_id in enumerate(course_ids)}


# The queue counts at most this many attempts past the page shown (40 pages of 50); a longer queue
# shows "page 1 of more than 40". Counting 10,000 ahead took 1.6 ms of index walk on every request
# at scale 10, 2,000 take 0.3 ms.
COUNT_AHEAD = 2_000


@dataclass
class QueuePage(Page):
    """A page of the queue; ``capped`` when there are more than ``total`` attempts (not all counted)."""

    capped: bool = False


def _count_statement(assignment_id: int | None, status: str | None, older) -> Select:
    """How many latest attempts match, up to ``:cap``: counted in ix_attempts_queue, nothing
    sorted (but for the rare older-rubric filter, which compares each grade's rubric)."""
    stmt = select(Attempt.id).where(Attempt.course_id.in_(bindparam("courses", expanding=True)),
                                    *_conditions(assignment_id, status if older is None else None, None))
    if older is not None:
        stmt = stmt.join(Grade, Grade.attempt_id == Attempt.id).where(older)
    return select(func.count()).select_from(stmt.limit(bindparam("cap")).subquery())


def _rows_statement(n_courses: int, assignment_id: int | None, status: str | None, older) -> Select:
    """One page of the queue: only the columns it shows, no submitted text, feedback or brief."""
    found = _queue_ids(n_courses, assignment_id, status, older)
    order = (found.c.grading_state, found.c.submitted_at, found.c.id)
    # The page's ids first, then its rows: the joins run for one page, not for every course's part.
    top = select(*found.c).order_by(*order).limit(bindparam("limit")).offset(bindparam("offset")).subquery("page")
    return (select(top.c.id, Attempt.assignment_id, Attempt.number, Attempt.submitted_at, Attempt.late_days,
                   Attempt.grading_state, User.id, User.name, Grade.id, Grade.status, Grade.score, Grade.points,
                   Grade.rubric_hash, Grade.rubric_version)
            .select_from(top).join(Attempt, Attempt.id == top.c.id)
            .join(User, User.id == Attempt.user_id)
            .outerjoin(Grade, Grade.attempt_id == Attempt.id)
            .order_by(top.c.grading_state, top.c.submitted_at, top.c.id))


def _single_course(course_ids: list[int], assignment_id: int | None) -> list[int]:
    """With an assignment chosen, only its course: the others hold none of its attempts."""
    if assignment_id is None:
        return course_ids
    course_id = db.session.scalar(select(Assignment.course_id).where(Assignment.id == assignment_id))
    return [course_id] if course_id in course_ids else []


def _params(assignment_id: int | None, status: str | None) -> dict:
    params: dict = {}
    if assignment_id is not None:
        params["assignment_id"] = assignment_id
    if status in GRADING_STATES:
        params["state"] = GRADING_STATES[status]
    return params


def queue(course_ids: list[int], *, assignment_id: int | None = None, status: str | None = None,
          page: int = 1, per_page: int = 50) -> QueuePage:
    """Latest attempts to grade: ungraded first, then open regrades, drafts, released; oldest first.

    The total is counted up to COUNT_AHEAD attempts past this page (a page of a queue of 80,000
    need not count them all); ``capped`` says there are more.
    """
    page = max(1, page)
    course_ids = _single_course(course_ids, assignment_id)
    if not course_ids:
        return QueuePage([], page, per_page, 0)
    older = _older_rubric(course_ids, assignment_id) if status == "old_rubric" else None
    offset = (page - 1) * per_page
    cap = offset + COUNT_AHEAD
    shape = (len(course_ids) if len(course_ids) <= MERGED_COURSES else "many", assignment_id is not None,
             status if status in GRADING_STATES else None)
    if older is None:
        count = _statement(("count", *shape), lambda: _count_statement(assignment_id, status, None))
        rows_stmt = _statement(("rows", *shape), lambda: _rows_statement(len(course_ids), assignment_id, status, None))
    else:
        count = _count_statement(assignment_id, status, older)
        rows_stmt = _rows_statement(len(course_ids), assignment_id, status, older)
    params = _params(assignment_id, status)
    total = db.session.scalar(count, {**params, "courses": list(course_ids), "cap": cap + 1}) or 0
    found = db.session.execute(rows_stmt, {**params, **_course_params(course_ids), "first": offset + per_page,
                                           "limit": per_page, "offset": offset}).all()
    assignments = {row.id: row for row in db.session.execute(
        select(Assignment.id, Assignment.title, Assignment.rubric, Assignment.content_hash)
        .where(Assignment.id.in_({row[1] for row in found})))}
    # hashed once per assignment, not per attempt
    current = {a_id: current_grade_hashes(a.rubric, a.content_hash) for a_id, a in assignments.items()}
    rows = []
    for (attempt_id, a_id, number, submitted_at, late_days, state, user_id, name, grade_id, grade_status, score,
         points, grade_rubric, rubric_version) in found:
        grade = None if grade_id is None else QueueGrade(grade_id, grade_status, score, points, grade_rubric,
                                                         rubric_version)
        rows.append(QueueRow(QueueAttempt(attempt_id, a_id, number, submitted_at, late_days, state),
                             QueueStudent(user_id, name), QueueAssignment(a_id, assignments[a_id].title), grade,
                             grade is not None and grade_rubric not in current[a_id]))
    return QueuePage(rows, page, per_page, min(total, cap), total > cap)


def next_ungraded(course_ids: list[int], assignment_id: int | None = None) -> int | None:
    """The id of the oldest ungraded latest attempt, or None when everything is graded."""
    course_ids = _single_course(course_ids, assignment_id)
    if not course_ids:
        return None
    shape = (len(course_ids) if len(course_ids) <= MERGED_COURSES else "many", assignment_id is not None)

    def build():
        top = _queue_ids(len(course_ids), assignment_id, "ungraded", None)
        return select(top.c.id).order_by(top.c.submitted_at, top.c.id).limit(1)

    stmt = _statement(("next", *shape), build)
    return db.session.scalar(stmt, {**_params(assignment_id, "ungraded"), **_course_params(course_ids), "first": 1})


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
    student: tuple  # a row of (id, name, email): all a gradebook shows of a student
    cells: dict[int, Cell] = field(default_factory=dict)

    @property
    def total(self) -> Decimal:
        return sum((c.score for c in self.cells.values() if c.score is not None), Decimal(0))


def course_assignments(course: Course) -> list[Assignment]:
    return list(db.session.scalars(select(Assignment).where(
        Assignment.course_id == course.id, Assignment.retired_at.is_(None)).order_by(Assignment.due_at, Assignment.slug)))


def _fill(course: Course, students: list, assignments: list[Assignment]) -> list[Row]:
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


STUDENT_COLUMNS = (User.id, User.name, User.email)


def _students(course: Course):
    return (select(*STUDENT_COLUMNS).join(Enrollment, Enrollment.user_id == User.id)
            .where(Enrollment.course_id == course.id))


def gradebook(course: Course, *, page: int = 1, per_page: int = 100) -> tuple[list[Assignment], Page]:
    """The course's current assignments and one page of enrolled students with their cells."""
    assignments = course_assignments(course)
    total, users = db.session.execute(select(
        select(func.count()).select_from(Enrollment).where(Enrollment.course_id == course.id).scalar_subquery(),
        select(func.max(User.id)).scalar_subquery())).one()
    page = max(1, page)
    offset = (page - 1) * per_page
    if total and (offset + per_page) * (users or 0) < total * total:
        # A course most students take: walk everybody in name order (ix_users_name) and keep the
        # enrolled, a few hundred probes; sorting all its students would read every one of them.
        stmt = select(*STUDENT_COLUMNS).where(exists().where(Enrollment.user_id == User.id,
                                                             Enrollment.course_id == course.id))
    else:
        stmt = _students(course)  # a smaller course: sort its students
    students = db.session.execute(stmt.order_by(User.name, User.id).limit(per_page).offset(offset)).all()
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
        students = db.session.execute(_students(course).where(User.id > last_id)
                                      .order_by(User.id).limit(CHUNK)).all()
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
