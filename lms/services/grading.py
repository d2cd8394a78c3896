"""Grading with the assignment's rubric: saving and releasing grades, history, regrade requests.

Every save names the grade version it started from (optimistic locking): a save made from a
stale form is refused with Conflict, whatever the database, and nothing is overwritten. Every
change adds a GradeEvent with the state before and after.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ..db_setup import begin_write
from ..extensions import db
from ..models import Assignment, Attempt, Grade, GradeEvent, RegradeRequest, User
from ..models.submissions import GRADING_STATES
from ..models.types import utcnow
from . import audit
from .render import render_user_markdown

CENT = Decimal("0.01")
MAX_FEEDBACK_CHARS = 50_000
MAX_REASON_CHARS = 5_000


class GradingError(Exception):
    """A refused grading action; ``message`` is shown in the user's language."""

    def __init__(self, message, field: str | None = None):
        super().__init__(str(message))
        self.message, self.field = message, field


class Conflict(GradingError):
    """The grade changed since the form was opened; the caller keeps the typed text."""

    def __init__(self):
        super().__init__(_l("Someone else saved this grade while you were editing it. Your text is "
                            "kept below; compare it with the saved grade, then save again."))


@dataclass(frozen=True)
class Marks:
    """What a mentor entered: a level index (or None) and a comment per criterion, and feedback."""

    levels: list[int | None]
    comments: list[str]
    feedback: str


def score(rubric: list[dict], levels: list[int | None], penalty_percent: Decimal) -> tuple[Decimal, Decimal]:
    """(raw score, final score): the chosen levels' points summed, less the late penalty."""
    raw = sum((Decimal(str(c["levels"][i]["points"])) for c, i in zip(rubric, levels) if i is not None),
              Decimal(0))
    final = raw * (Decimal(100) - penalty_percent) / Decimal(100)
    return raw.quantize(CENT, ROUND_HALF_UP), max(Decimal(0), final).quantize(CENT, ROUND_HALF_UP)


def _state(grade: Grade | None) -> dict | None:
    if grade is None:
        return None
    return {"status": grade.status, "levels": grade.levels, "feedback": grade.feedback,
            "raw_score": str(grade.raw_score), "penalty_percent": str(grade.penalty_percent),
            "score": str(grade.score), "rubric_hash": grade.rubric_hash}


def _level_rows(rubric: list[dict], marks: Marks) -> list[dict]:
    rows = []
    for index, criterion in enumerate(rubric):
        level = marks.levels[index] if index < len(marks.levels) else None
        if level is not None and not 0 <= level < len(criterion["levels"]):
            raise GradingError(_l("Pick one of the rubric's levels."), f"level_{index}")
        chosen = criterion["levels"][level] if level is not None else None
        comment = marks.comments[index].strip() if index < len(marks.comments) else ""
        rows.append({"criterion": criterion["criterion"], "level": level,
                     "points": str(chosen["points"]) if chosen else None,
                     "label": chosen["label"] if chosen else None, "comment": comment})
    return rows


def _refresh_grading_state(attempt: Attempt) -> None:
    """Store where ``attempt`` now stands in the grading queue (Attempt.grading_state), from its grade
    and open regrade requests. Call it after the change is flushed and after ``audit.record``: the
    audit head's lock orders concurrent grading transactions, so this reads what the others committed.
    """
    grade_status = select(Grade.status).where(Grade.attempt_id == attempt.id).scalar_subquery()
    state = case((~exists().where(Grade.attempt_id == attempt.id), GRADING_STATES["ungraded"]),
                 (exists().where(RegradeRequest.attempt_id == attempt.id, RegradeRequest.status == "open"),
                  GRADING_STATES["regrade"]),
                 (grade_status == "draft", GRADING_STATES["draft"]),
                 else_=GRADING_STATES["released"])
    db.session.flush()
    db.session.execute(update(Attempt).where(Attempt.id == attempt.id).values(grading_state=state)
                       .execution_options(synchronize_session=False))
    db.session.expire(attempt, ["grading_state"])


def save_grade(actor: User, attempt: Attempt, marks: Marks, *, release: bool, expected_version: int,
               now: datetime | None = None) -> Grade:
    """Save the grade of ``attempt`` as a draft or released, from the version the form showed.

    ``expected_version`` is 0 for an attempt never graded. Raises Conflict when the grade was
    saved by anyone since; GradingError when a released grade would miss a criterion.
    """
    now = now or utcnow()
    assignment: Assignment = attempt.assignment
    rubric = assignment.rubric
    rows = _level_rows(rubric, marks)
    if release and any(row["level"] is None for row in rows):
        raise GradingError(_l("Pick a level for every criterion before releasing the grade."), "levels")
    if len(marks.feedback) > MAX_FEEDBACK_CHARS:
        raise GradingError(_l("The feedback is too long (at most %(count)d characters).",
                              count=MAX_FEEDBACK_CHARS), "feedback")
    raw, final = score(rubric, [row["level"] for row in rows], attempt.penalty_percent)
    values = dict(levels=rows, feedback=marks.feedback,
                  feedback_html=render_user_markdown(marks.feedback),
                  raw_score=raw, penalty_percent=attempt.penalty_percent, score=final,
                  points=assignment.points, rubric_hash=assignment.rubric_hash,
                  rubric_version=assignment.version, grader_id=actor.id, updated_at=now,
                  status="released" if release else "draft")
    begin_write()
    grade = db.session.scalar(select(Grade).where(Grade.attempt_id == attempt.id))
    old = _state(grade)
    if grade is None:
        if expected_version != 0:
            db.session.rollback()
            raise Conflict()
        grade = Grade(attempt_id=attempt.id, version=1, released_at=now if release else None, **values)
        db.session.add(grade)
        try:
            db.session.flush()
        except IntegrityError:  # another mentor created it at the same moment
            db.session.rollback()
            raise Conflict() from None
    else:
        if release and grade.released_at is None:
            values["released_at"] = now
        result = db.session.execute(
            update(Grade).where(Grade.id == grade.id, Grade.version == expected_version)
            .values(version=Grade.version + 1, **values))
        if result.rowcount != 1:
            db.session.rollback()
            raise Conflict()
        db.session.refresh(grade)
    action = "released" if release else "draft_saved"
    if old and old["status"] == "released" and not release:
        action = "withdrawn"
    new = _state(grade)
    db.session.add(GradeEvent(attempt_id=attempt.id, actor_id=actor.id, at=now, action=action, old=old, new=new))
    audit.record(f"grade.{action}", "attempt", attempt.id, actor=actor, course_id=attempt.course_id, at=now,
                 details={"student_id": attempt.user_id, "assignment_id": attempt.assignment_id,
                          "old": old and {k: old[k] for k in ("status", "score")},
                          "new": {k: new[k] for k in ("status", "score", "rubric_hash")}})
    _refresh_grading_state(attempt)
    db.session.commit()
    return grade


def history(attempt: Attempt) -> list[GradeEvent]:
    """Every grade change of an attempt, oldest first, with who made it."""
    return list(db.session.scalars(select(GradeEvent).where(GradeEvent.attempt_id == attempt.id)
                                   .options(selectinload(GradeEvent.actor)).order_by(GradeEvent.id)))


def regrade_requests(attempt: Attempt) -> list[RegradeRequest]:
    """Regrade requests of an attempt, by criterion."""
    return list(db.session.scalars(select(RegradeRequest).where(RegradeRequest.attempt_id == attempt.id)
                                   .options(selectinload(RegradeRequest.responder))
                                   .order_by(RegradeRequest.criterion)))


def request_regrade(student: User, attempt: Attempt, criterion: int, reason: str,
                    now: datetime | None = None) -> RegradeRequest:
    """A student asks, once per criterion of a released grade, for it to be looked at again."""
    grade = attempt.grade
    if attempt.user_id != student.id or grade is None or not grade.released:
        raise GradingError(_l("Only a released grade can be appealed."))
    if not 0 <= criterion < len(grade.levels):
        raise GradingError(_l("Choose a criterion of the rubric."), "criterion")
    reason = reason.strip()
    if not reason:
        raise GradingError(_l("Explain why this criterion should be looked at again."), "reason")
    if len(reason) > MAX_REASON_CHARS:
        raise GradingError(_l("The reason is too long (at most %(count)d characters).",
                              count=MAX_REASON_CHARS), "reason")
    now = now or utcnow()
    begin_write()
    request = RegradeRequest(attempt_id=attempt.id, course_id=attempt.course_id, criterion=criterion,
                             reason=reason, created_at=now, old_level=grade.levels[criterion]["level"])
    try:
        db.session.add(request)
        db.session.flush()
        db.session.add(GradeEvent(attempt_id=attempt.id, actor_id=student.id, at=now, action="regrade_requested",
                                  old=None, new={"criterion": criterion, "reason": reason}))
        audit.record("grade.regrade_requested", "attempt", attempt.id, actor=student, course_id=attempt.course_id,
                     at=now, details={"criterion": criterion})
        _refresh_grading_state(attempt)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise GradingError(_l("A regrade of this criterion was already requested.")) from None
    return request


def answer_regrade(actor: User, request: RegradeRequest, *, accept: bool, new_level: int | None,
                   response: str, expected_version: int, now: datetime | None = None) -> RegradeRequest:
    """Accept a regrade request with a new level (the score is recomputed) or decline it.

    The grade stays released; both the answer and any grade change go into the history.
    """
    now = now or utcnow()
    if request.status != "open":
        raise GradingError(_l("This regrade request has already been answered."))
    response = response.strip()
    if not accept and not response:
        raise GradingError(_l("Say why the request is declined."), "response")
    attempt = db.session.get(Attempt, request.attempt_id)
    grade = attempt.grade
    begin_write()
    old = _state(grade)
    if accept:
        criterion = attempt.assignment.rubric[request.criterion] if request.criterion < len(
            attempt.assignment.rubric) else None
        if criterion is None or new_level is None or not 0 <= new_level < len(criterion["levels"]):
            db.session.rollback()
            raise GradingError(_l("Pick one of the rubric's levels."), "new_level")
        levels = [dict(row) for row in grade.levels]
        chosen = criterion["levels"][new_level]
        levels[request.criterion].update(level=new_level, points=str(chosen["points"]), label=chosen["label"])
        raw, final = score(attempt.assignment.rubric, [row["level"] for row in levels], grade.penalty_percent)
        result = db.session.execute(
            update(Grade).where(Grade.id == grade.id, Grade.version == expected_version)
            .values(version=Grade.version + 1, levels=levels, raw_score=raw, score=final,
                    grader_id=actor.id, updated_at=now))
        if result.rowcount != 1:
            db.session.rollback()
            raise Conflict()
        db.session.refresh(grade)
    answered = db.session.execute(
        update(RegradeRequest).where(RegradeRequest.id == request.id, RegradeRequest.status == "open")
        .values(status="accepted" if accept else "declined", response=response,
                new_level=new_level if accept else None, responder_id=actor.id, responded_at=now))
    if answered.rowcount != 1:
        db.session.rollback()
        raise GradingError(_l("This regrade request has already been answered."))
    action = "regrade_accepted" if accept else "regrade_declined"
    new = _state(grade) or {}
    db.session.add(GradeEvent(attempt_id=attempt.id, actor_id=actor.id, at=now, action=action,
                              old=old, new={**new, "criterion": request.criterion, "response": response}))
    audit.record(f"grade.{action}", "attempt", attempt.id, actor=actor, course_id=attempt.course_id, at=now,
                 details={"criterion": request.criterion, "old_score": old and old["score"],
                          "new_score": new.get("score")})
    _refresh_grading_state(attempt)
    db.session.commit()
    db.session.refresh(request)
    return request
