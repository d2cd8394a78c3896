"""Handing in project work: checks, storage, numbered attempts, extensions.

A submission is final when sent. Files are checked, then placed in storage under their
SHA-256 (fsynced, atomic) *before* the attempt row commits, so a failure at any point leaves
either nothing or an unreferenced file that ``flask storage gc`` removes later, never a row
pointing at a missing or half-written file.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import defer, joinedload, selectinload

from ..db_setup import begin_write, keeping_loaded
from ..extensions import db
from ..models import Assignment, Attempt, AttemptFile, Course, Enrollment, Extension, Grade, User
from ..models.types import utcnow
from ..permissions import can_read_course
from . import audit, deadlines, filecheck, storage
from .render import render_user_markdown

MAX_TEXT_CHARS = 50_000
MAX_URL_CHARS = 2000


class SubmissionError(Exception):
    """Work that cannot be accepted; ``message`` is shown to the student in their language."""

    def __init__(self, message, field: str | None = None):
        super().__init__(str(message))
        self.message, self.field = message, field


class Upload(Protocol):
    """An uploaded file as the request gives it: its name and the streamed temporary file."""

    filename: str | None
    stream: storage.IncomingFile


@dataclass(frozen=True)
class Standing:
    """Whether a student is enrolled in an assignment's course, and the due time of their extension."""

    enrolled: bool
    extended_to: datetime | None


@dataclass(frozen=True)
class StudentView:
    """What a student sees about one assignment: their deadline and attempts, newest first."""

    deadline: deadlines.Deadline
    attempts: list[Attempt]
    enrolled: bool

    def accepting(self, at: datetime | None = None) -> bool:
        return self.enrolled and deadlines.is_open(self.deadline, at or utcnow())


def extension_for(user: User, assignment: Assignment) -> Extension | None:
    return db.session.scalar(select(Extension).where(Extension.assignment_id == assignment.id,
                                                     Extension.user_id == user.id))


def find_assignment(course_slug: str, slug: str, viewer) -> tuple[Course, Assignment] | None:
    """A current assignment of a course the viewer may read (the catalog's rules), in one statement.

    Only the course and the assignment rows are loaded: the submission pages need nothing else.
    """
    row = db.session.execute(
        select(Course, Assignment)
        .join(Assignment, and_(Assignment.course_id == Course.id, Assignment.slug == slug,
                               Assignment.retired_at.is_(None)))
        .where(Course.slug == course_slug, Course.retired_at.is_(None))).first()
    if row is None or not can_read_course(viewer, row.Course):
        return None
    return row.Course, row.Assignment


def standing_for(user: User, assignment: Assignment) -> Standing:
    """The student's enrollment and extension for ``assignment``: one statement, two index lookups."""
    enrolled = select(Enrollment.id).where(Enrollment.user_id == user.id,
                                           Enrollment.course_id == assignment.course_id).scalar_subquery()
    extended = select(Extension.due_at).where(Extension.assignment_id == assignment.id,
                                              Extension.user_id == user.id).scalar_subquery()
    row = db.session.execute(select(enrolled.label("enrollment_id"), extended.label("extended_to"))).one()
    return Standing(row.enrollment_id is not None, row.extended_to)


def student_view(user: User, assignment: Assignment, standing: Standing | None = None) -> StudentView:
    """The student's deadline (with any extension), enrollment and attempts with their grades.

    Two statements (one when ``standing`` was read already). The attempts' texts, the grades'
    feedback and the files are not loaded: the pages that list attempts show neither.
    """
    standing = standing or standing_for(user, assignment)
    attempts = list(db.session.scalars(
        select(Attempt).where(Attempt.assignment_id == assignment.id, Attempt.user_id == user.id)
        .options(defer(Attempt.text), defer(Attempt.text_html),
                 joinedload(Attempt.grade).load_only(Grade.status, Grade.score, Grade.points))
        .order_by(Attempt.number.desc())))
    return StudentView(deadlines.deadline_for(assignment, extended_to=standing.extended_to),
                       attempts, standing.enrolled)


def own_attempt(user: User, assignment: Assignment, number: int) -> Attempt | None:
    """The student's attempt ``number`` of ``assignment``, or None (never someone else's)."""
    return db.session.scalar(
        select(Attempt).where(Attempt.assignment_id == assignment.id, Attempt.user_id == user.id,
                              Attempt.number == number)
        .options(selectinload(Attempt.files), joinedload(Attempt.grade)))


def check_repo_url(value: str) -> str:
    """A repository link: http(s), with a host, no credentials, at most 2,000 characters."""
    value = value.strip()
    try:
        parts = urlsplit(value)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        parts, port_ok = None, False
    if (len(value) > MAX_URL_CHARS or parts is None or not port_ok
            or parts.scheme.lower() not in ("http", "https") or not parts.hostname
            or any(c.isspace() for c in value)):
        raise SubmissionError(_l("Enter a repository link that starts with https:// or http://."), "repo_url")
    if parts.username or parts.password:
        raise SubmissionError(_l("Remove the user name or password from the repository link."), "repo_url")
    return value


def _check_parts(assignment: Assignment, text: str, repo_url: str,
                 uploads: list[Upload]) -> tuple[str | None, list[str]]:
    """Check every part against the assignment's rules; the link and the files' safe names."""
    rules = assignment.submission or {}
    allowed = rules.get("files") or []
    text_mode, repo_mode = rules.get("text", "optional"), rules.get("repo_url", "none")
    if text_mode == "required" and not text.strip():
        raise SubmissionError(_l("This assignment needs a written answer."), "text")
    if len(text) > MAX_TEXT_CHARS:
        raise SubmissionError(_l("The written answer is too long (at most %(count)d characters).",
                                 count=MAX_TEXT_CHARS), "text")
    if text.strip() and text_mode == "none":
        raise SubmissionError(_l("This assignment does not take a written answer."), "text")
    url = None
    if repo_url.strip():
        if repo_mode == "none":
            raise SubmissionError(_l("This assignment does not take a repository link."), "repo_url")
        url = check_repo_url(repo_url)
    elif repo_mode == "required":
        raise SubmissionError(_l("This assignment needs a repository link."), "repo_url")
    if uploads and not allowed:
        raise SubmissionError(_l("This assignment does not take files."), "files")
    max_files = int(rules.get("max_files") or 5)
    if len(uploads) > max_files:
        raise SubmissionError(_l("Too many files: at most %(count)d may be handed in.", count=max_files), "files")
    max_bytes = int(float(rules.get("max_mb") or 50) * 1024 * 1024)
    names = [filecheck.safe_filename(u.filename or "") for u in uploads]
    for upload, name in zip(uploads, names):
        try:
            filecheck.check_file(upload.stream.path, name, allowed, max_bytes, upload.stream.size)
        except filecheck.FileRejected as exc:
            raise SubmissionError(exc.message, "files") from exc
    if len(set(n.lower() for n in names)) != len(names):
        raise SubmissionError(_l("Two files have the same name; rename one of them."), "files")
    if not (text.strip() or url or uploads):
        raise SubmissionError(_l("Nothing to hand in: add a file, a link or a written answer."), "files")
    return url, names


def submit(user: User, assignment: Assignment, *, text: str = "", repo_url: str = "",
           uploads: list[Upload] = (), now: datetime | None = None,
           standing: Standing | None = None) -> Attempt:
    """Hand in work as the student's next numbered attempt, or raise SubmissionError.

    The time of receipt is taken here, on the server; lateness and penalty are fixed with it.
    Nothing is written unless every part is acceptable. ``standing`` is the student's
    enrollment and extension if the caller read them already (see standing_for).

    The files are stored (fsynced) before the write transaction begins, which then holds the
    write lock for three statements: mark the previous attempt not latest (which gives its
    number), insert the attempt, insert its files.
    """
    now = now or utcnow()
    uploads = [u for u in uploads if u.filename]
    standing = standing or standing_for(user, assignment)
    if not standing.enrolled:
        raise SubmissionError(_l("Enroll in the course before handing in work."))
    deadline = deadlines.deadline_for(assignment, extended_to=standing.extended_to)
    if not deadlines.is_open(deadline, now):
        raise SubmissionError(_l("Submissions for this assignment are closed."))
    url, names = _check_parts(assignment, text, repo_url, uploads)
    late = deadlines.lateness(deadline, now)
    html = render_user_markdown(text)
    store = storage.get_storage()
    placed = [(name, store.put(u.stream)) for name, u in zip(names, uploads)]
    assignment_id, user_id = assignment.id, user.id
    values = dict(assignment_id=assignment_id, course_id=assignment.course_id, user_id=user_id,
                  submitted_at=now, text=text, text_html=html, repo_url=url, brief_hash=assignment.content_hash,
                  brief_version=assignment.version, due_at=deadline.due_at, late_days=late.late_days,
                  penalty_percent=late.penalty_percent, latest=True)
    mine = (Attempt.assignment_id == assignment_id, Attempt.user_id == user_id)
    with keeping_loaded():
        for try_ in range(3):
            begin_write()
            unmark = update(Attempt).where(*mine, Attempt.latest.is_(True)).values(latest=False)
            if try_ == 0:  # the latest attempt is the newest one: its number comes back from the update
                number = max(db.session.scalars(unmark.returning(Attempt.number)).all(), default=0) + 1
            else:  # a simultaneous submission, or a student without a latest attempt: count
                number = (db.session.scalar(select(func.max(Attempt.number)).where(*mine)) or 0) + 1
                db.session.execute(unmark)
            attempt = Attempt(number=number, **values)
            attempt.files = [AttemptFile(position=i, filename=name, content_hash=stored.content_hash,
                                         size=stored.size) for i, (name, stored) in enumerate(placed)]
            db.session.add(attempt)
            try:
                db.session.commit()
                return attempt
            except IntegrityError:  # another submission took the number: take the next one
                db.session.rollback()
    raise SubmissionError(_l("Your work could not be saved because another submission was being saved. "
                             "Please send it again."))


def extensions(assignment: Assignment) -> list[tuple[Extension, User]]:
    """Extensions granted for an assignment, with their students, by student name."""
    return list(db.session.execute(
        select(Extension, User).join(User, User.id == Extension.user_id)
        .where(Extension.assignment_id == assignment.id).order_by(User.name, User.id)))


def grant_extension(actor: User, assignment: Assignment, student_email: str, due_at: datetime,
                    reason: str = "", now: datetime | None = None) -> Extension:
    """Give one enrolled student a later due time (granting again replaces the earlier extension)."""
    student = db.session.scalar(
        select(User).join(Enrollment, Enrollment.user_id == User.id)
        .where(User.email == student_email.strip().lower(), Enrollment.course_id == assignment.course_id))
    if student is None:
        raise SubmissionError(_l("No student with this e-mail address is enrolled in the course."), "email")
    if due_at <= assignment.due_at:
        raise SubmissionError(_l("An extension must end after the assignment's due time."), "due_at")
    student_id, actor_id, assignment_id = student.id, actor.id, assignment.id
    begin_write()
    extension = db.session.scalar(select(Extension).where(Extension.assignment_id == assignment_id,
                                                          Extension.user_id == student_id))
    values = dict(due_at=due_at, reason=reason.strip(), granted_by_id=actor_id, granted_at=now or utcnow())
    if extension is None:
        extension = Extension(assignment_id=assignment_id, user_id=student_id, **values)
        db.session.add(extension)
    else:
        for key, value in values.items():
            setattr(extension, key, value)
    audit.record("extension.granted", "assignment", assignment_id, actor=actor, course_id=assignment.course_id,
                 details={"student_id": student_id, "due_at": due_at.isoformat(), "reason": values["reason"]})
    db.session.commit()
    return extension
