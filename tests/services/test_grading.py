"""Deadlines, scores, and grading and handing in under concurrency and crashes, on both databases."""
from __future__ import annotations

import threading
from datetime import datetime, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from lms.extensions import db
from lms.models import Assignment, Attempt, AttemptFile, Course, Extension, Grade, GradeEvent, User
from lms.models.submissions import GRADING_STATES
from lms.services import deadlines, grading, submissions
from lms.services.content import sync_tree
from lms.services.storage import get_storage
from tests.conftest import write_content
from tests.samples import valid_tree
from tests.views.test_gradebook import Upload, bare_student
from tests.views.test_submissions import make_zip

SHANGHAI = ZoneInfo("Asia/Shanghai")
DUE = datetime(2027, 1, 15, 23, 59, 59, tzinfo=SHANGHAI)
RUBRIC = [{"criterion": "代码质量", "levels": [{"points": 6, "label": "优秀"}, {"points": 3, "label": "合格"}]},
          {"criterion": "报告", "levels": [{"points": 4, "label": "优秀"}, {"points": 0, "label": "缺失"}]}]


def at(day: int, hour: int, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    """A time in January 2027, Asia/Shanghai."""
    return datetime(2027, 1, day, hour, minute, second, micro, tzinfo=SHANGHAI)


def deadline(late: dict, due: datetime = DUE, extended_to: datetime | None = None) -> deadlines.Deadline:
    assignment = Assignment(due_at=due, late=late)
    return deadlines.deadline_for(assignment, Extension(due_at=extended_to) if extended_to else None)


ACCEPT = {"policy": "accept", "penalty_per_day": 10}


# --- Deadlines --------------------------------------------------------------------------------

@pytest.mark.parametrize("received, days, penalty", [
    (at(15, 23, 59, 58), 0, 0),
    (at(15, 23, 59, 59), 0, 0),
    (at(15, 23, 59, 59, 900_000), 0, 0),  # lateness is counted in whole seconds
    (datetime(2027, 1, 15, 15, 59, 59, tzinfo=timezone.utc), 0, 0),  # the same instant in UTC
    (at(16, 0, 0, 0), 1, 10),
    (datetime(2027, 1, 15, 16, 0, 0, tzinfo=timezone.utc), 1, 10),
    (at(16, 23, 59, 59), 1, 10),  # exactly 24 hours late: still the first day
    (at(17, 0, 0, 0), 2, 20),  # 24 hours and one second
    (at(25, 23, 59, 59), 10, 100),
    (at(26, 0, 0, 0), 11, 100),  # capped at 100%
])
def test_lateness_around_a_235959_due_time(received, days, penalty):
    """Due 23:59:59+08:00: on time through 23:59:59.9, one day late from 00:00:00, 10% a started day, at most 100%."""
    rules = deadline(ACCEPT)

    late = deadlines.lateness(rules, received)

    assert (late.late_days, late.penalty_percent) == (days, Decimal(penalty))
    assert late.late is (days > 0)
    assert deadlines.is_open(rules, received)  # 'accept' without 'until' never closes


def test_penalty_is_capped_at_100_percent_even_with_a_steep_rate():
    """30% a day: four started days late is 100%, not 120%."""
    late = deadlines.lateness(deadline({"policy": "accept", "penalty_per_day": 30}), at(19, 0))

    assert (late.late_days, late.penalty_percent) == (4, Decimal(100))


@pytest.mark.parametrize("received, days", [
    (at(15, 23, 59, 59, 999_999), 0),
    (at(16, 0, 0, 0), 0),
    (at(16, 0, 0, 0, 999_999), 0),
    (at(16, 0, 0, 1), 1),
    (at(17, 0, 0, 0), 1),
    (at(17, 0, 0, 1), 2),
])
def test_lateness_around_a_midnight_due_time(received, days):
    """Due 00:00:00+08:00: work received at midnight itself is on time; one second later is a day late."""
    late = deadlines.lateness(deadline(ACCEPT, due=at(16, 0, 0, 0)), received)

    assert late.late_days == days


@pytest.mark.parametrize("received, accepted", [
    (at(15, 23, 59, 59), True),
    (at(15, 23, 59, 59, 900_000), True),
    (at(16, 0, 0, 0), False),
    (at(20, 0, 0, 0), False),
])
def test_reject_policy_closes_at_the_due_time(received, accepted):
    """With 'policy: reject' 23:59:59 is accepted and 00:00:00 the next day is refused."""
    assert deadlines.is_open(deadline({"policy": "reject"}), received) is accepted


def test_until_closes_late_work_and_an_extension_moves_both_times_by_the_same_amount():
    """'until' ends the late window; a two-day extension moves the due time and the closing time two days."""
    late = {"policy": "accept", "penalty_per_day": 10, "until": "2027-01-20T23:59:59+08:00"}
    plain, extended = deadline(late), deadline(late, extended_to=at(17, 23, 59, 59))

    assert (plain.closes_at, plain.extended) == (at(20, 23, 59, 59), False)
    assert deadlines.is_open(plain, at(20, 23, 59, 59)) and not deadlines.is_open(plain, at(21, 0, 0, 0))
    assert (extended.due_at, extended.closes_at, extended.extended) == (at(17, 23, 59, 59), at(22, 23, 59, 59), True)
    assert deadlines.is_open(extended, at(22, 23, 59, 59)) and not deadlines.is_open(extended, at(23, 0, 0, 0))
    assert deadlines.lateness(extended, at(17, 23, 59, 59)).late_days == 0
    assert deadlines.lateness(extended, at(18, 0, 0, 0)).late_days == 1


def test_an_extension_with_reject_policy_closes_at_the_extended_time():
    """Under 'reject' the extension's time is both the due and the closing time."""
    rules = deadline({"policy": "reject"}, extended_to=at(17, 12, 0, 0))

    assert deadlines.is_open(rules, at(17, 12, 0, 0)) and not deadlines.is_open(rules, at(17, 12, 0, 1))


def test_an_extension_earlier_than_the_due_time_changes_nothing():
    """A stale extension that ends before the assignment's due time neither shortens nor marks the deadline."""
    rules = deadline(ACCEPT, extended_to=at(14, 12, 0, 0))

    assert (rules.due_at, rules.extended) == (DUE, False)


# --- Handing in at the boundary, stored ------------------------------------------------------

@pytest.fixture
def final(app, content_dir) -> Assignment:
    """The sample assignment, due 2027-01-15T23:59:59+08:00, late work accepted at 10% a day."""
    tree = valid_tree()
    tree["courses/py-data/assignments/final-project.md"] = tree["courses/py-data/assignments/final-project.md"].replace(
        "due: 2027-01-15T23:59:00+08:00", "due: 2027-01-15T23:59:59+08:00")
    write_content(content_dir, tree)
    assert sync_tree(content_dir).errors == []
    assignment = db.session.scalar(select(Assignment).where(Assignment.slug == "final-project"))
    assert assignment.due_at == DUE
    return assignment


def enrolled(name: str, email: str, assignment: Assignment) -> User:
    return bare_student(name, email, db.session.get(Course, assignment.course_id))


@pytest.mark.parametrize("received, days, penalty", [
    (at(15, 23, 59, 59), 0, "0"),
    (at(15, 23, 59, 59, 900_000), 0, "0"),
    (at(16, 0, 0, 0), 1, "10"),
    (at(17, 0, 0, 0), 2, "20"),
])
def test_submit_stores_lateness_decided_at_receipt(final, received, days, penalty):
    """The attempt row keeps the receipt time, the due time it was judged by, days late and penalty."""
    student = enrolled("王小明", "wang@example.com", final)

    attempt_id = submissions.submit(student, final, text="报告", now=received).id
    db.session.expire_all()
    stored = db.session.get(Attempt, attempt_id)

    assert (stored.late_days, stored.penalty_percent) == (days, Decimal(penalty))
    assert stored.submitted_at == received and stored.due_at == DUE


def test_submit_refuses_work_after_a_reject_deadline(app, content_dir):
    """'policy: reject': 23:59:59 is attempt 1; 00:00:00 raises SubmissionError and stores nothing."""
    tree = valid_tree()
    tree["courses/py-data/assignments/final-project.md"] = (
        tree["courses/py-data/assignments/final-project.md"]
        .replace("due: 2027-01-15T23:59:00+08:00", "due: 2027-01-15T23:59:59+08:00")
        .replace("  policy: accept\n  penalty_per_day: 10\n", "  policy: reject\n"))
    write_content(content_dir, tree)
    assert sync_tree(content_dir).errors == []
    assignment = db.session.scalar(select(Assignment).where(Assignment.slug == "final-project"))
    student = enrolled("王小明", "wang@example.com", assignment)

    assert submissions.submit(student, assignment, text="准时", now=at(15, 23, 59, 59)).number == 1
    with pytest.raises(submissions.SubmissionError, match="closed"):
        submissions.submit(student, assignment, text="迟了", now=at(16, 0, 0, 0))
    db.session.rollback()
    assert db.session.scalars(select(Attempt.text)).all() == ["准时"]


# --- Scores -----------------------------------------------------------------------------------

@pytest.mark.parametrize("levels, raw", [
    ([0, 0], "10.00"), ([1, 0], "7.00"), ([0, 1], "6.00"), ([1, 1], "3.00"), ([None, 0], "4.00"),
    ([None, None], "0.00"),
])
def test_score_sums_the_chosen_levels(levels, raw):
    """The raw score is the sum of the chosen levels' points; an unchosen criterion adds nothing."""
    assert grading.score(RUBRIC, levels, Decimal(0)) == (Decimal(raw), Decimal(raw))


@pytest.mark.parametrize("levels, penalty, final", [
    ([0, 0], "10", "9.00"),
    ([1, 0], "12.5", "6.13"),  # 6.125 rounds half up, not to even
    ([0, 0], "33.33", "6.67"),
    ([1, 1], "15", "2.55"),
    ([0, 0], "100", "0.00"),
    ([0, 0], "150", "0.00"),  # never negative
])
def test_score_takes_the_penalty_off_and_rounds_half_up_to_cents(levels, penalty, final):
    """The final score is raw x (100 - penalty)%, rounded half up to 0.01 and never below zero."""
    raw, score = grading.score(RUBRIC, levels, Decimal(penalty))

    assert score == Decimal(final) and str(score) == final
    assert raw == grading.score(RUBRIC, levels, Decimal(0))[0]


def test_score_adds_fractional_points_exactly():
    """0.1 + 0.2 points is 0.30, not a binary-float 0.30000000000000004 rounded by luck."""
    rubric = [{"criterion": "a", "levels": [{"points": 0.1, "label": "x"}]},
              {"criterion": "b", "levels": [{"points": 0.2, "label": "y"}]}]

    assert grading.score(rubric, [0, 0], Decimal(0)) == (Decimal("0.30"), Decimal("0.30"))


def test_raw_and_final_scores_round_the_same_way():
    """With no penalty the final score equals the raw score, even for points with three decimals."""
    rubric = [{"criterion": "a", "levels": [{"points": 2.665, "label": "x"}]}]

    raw, final = grading.score(rubric, [0], Decimal(0))

    assert raw == final


# --- Concurrent grading -----------------------------------------------------------------------

@pytest.fixture
def attempt(final, make_user) -> Attempt:
    """One on-time attempt of the final project and its course's mentor (mentor@example.com)."""
    make_user("mentor", email="mentor@example.com", name="Mentor Chen")
    student = enrolled("王小明", "wang@example.com", final)
    return submissions.submit(student, final, text="报告", now=at(10, 12))


def mentor_of_course() -> User:
    return db.session.scalar(select(User).where(User.email == "mentor@example.com"))


def race_to_grade(app, attempt_id: int, version: int) -> list[tuple[str, str]]:
    """Two mentors' saves from the same form version, at once; returns (outcome, feedback) per thread.

    Each thread has its own app context, session and connection. On PostgreSQL both also
    wait, after reading the grade, for the other to have read it: both then write from the
    same stale state, the hardest interleaving for the lock. SQLite serialises writers at
    BEGIN IMMEDIATE, so there the second save starts after the first committed.
    """
    start, after_read = threading.Barrier(2, timeout=20), threading.Barrier(2, timeout=20)
    meet_after_read = db.engine.dialect.name == "postgresql"
    outcomes: list[tuple[str, str] | None] = [None, None]
    read_state, state_of = threading.local(), grading._state

    def state_then_meet(grade):
        if meet_after_read and not getattr(read_state, "met", False):
            read_state.met = True
            after_read.wait()
        return state_of(grade)

    def save(index: int, feedback: str, levels: list[int]) -> None:
        with app.app_context():
            try:
                attempt = db.session.get(Attempt, attempt_id)
                shown = attempt.grade.version if attempt.grade else 0  # the version the form showed
                assert shown == version
                actor = db.session.scalar(select(User).where(User.email == "mentor@example.com"))
                start.wait()
                grading.save_grade(actor, attempt, grading.Marks(levels, ["", ""], feedback), release=True,
                                   expected_version=shown)
                outcomes[index] = ("saved", feedback)
            except grading.Conflict:
                outcomes[index] = ("conflict", feedback)
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                outcomes[index] = ("error", repr(exc))

    db.session.rollback()  # no transaction of the test's own stays open
    original = grading._state
    grading._state = state_then_meet
    try:
        threads = [threading.Thread(target=save, args=(0, "甲导师：很好", [0, 0])),
                   threading.Thread(target=save, args=(1, "乙导师：一般", [1, 1]))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        grading._state = original
    return outcomes


@pytest.mark.parametrize("earlier_saves", [0, 2], ids=["first-grade-insert", "regrade-update"])
def test_two_mentors_saving_at_once_one_wins_and_the_other_gets_conflict(app, attempt, earlier_saves):
    """Same version, same moment: exactly one save lands, whole; the other is refused with Conflict."""
    mentor = mentor_of_course()
    for n in range(earlier_saves):
        grading.save_grade(mentor, attempt, grading.Marks([0, 1], ["", ""], f"草稿 {n}"), release=False,
                           expected_version=n)

    outcomes = race_to_grade(app, attempt.id, earlier_saves)

    assert sorted(kind for kind, _ in outcomes) == ["conflict", "saved"], outcomes
    winner = next(feedback for kind, feedback in outcomes if kind == "saved")
    db.session.rollback()
    grade = db.session.scalar(select(Grade).where(Grade.attempt_id == attempt.id))
    assert (grade.feedback, grade.version, grade.status) == (winner, earlier_saves + 1, "released")
    assert grade.score == (Decimal(10) if winner.startswith("甲") else Decimal(3))
    events = db.session.scalars(select(GradeEvent).where(GradeEvent.attempt_id == attempt.id)
                                .order_by(GradeEvent.id)).all()
    assert len(events) == earlier_saves + 1
    assert (events[-1].action, events[-1].new["feedback"]) == ("released", winner)


# --- A crash mid-submission -------------------------------------------------------------------

class PowerCut(Exception):
    pass


def cut(*_args, **_kwargs):
    raise PowerCut()


@pytest.mark.parametrize("crash_at", ["file rows", "commit"])
def test_a_crash_after_storing_the_file_leaves_no_rows_and_gc_removes_the_orphan(app, final, runner, monkeypatch,
                                                                                 crash_at):
    """The file is placed, then the attempt never commits: no row, verify is clean, gc deletes the file."""
    student = enrolled("王小明", "wang@example.com", final)
    kept = make_zip({"v1.py": b"print(1)\n"})
    first = submissions.submit(student, final, uploads=[Upload("v1.zip", kept)], now=at(10, 12))
    kept_hash = first.files[0].content_hash
    store = get_storage()

    with monkeypatch.context() as patch:
        if crash_at == "commit":
            patch.setattr(type(db.session), "commit", cut)
        else:
            patch.setattr(submissions, "AttemptFile", cut)
        with pytest.raises(PowerCut):
            submissions.submit(student, final, uploads=[Upload("v2.zip", make_zip({"v2.py": b"print(2)\n"}))],
                               now=at(11, 12))
    db.session.rollback()  # what the end of the request does with the broken unit of work

    assert db.session.execute(select(Attempt.number, Attempt.latest)).all() == [(1, True)]
    assert db.session.scalars(select(AttemptFile.content_hash)).all() == [kept_hash]
    orphans = [h for h in store.hashes() if h != kept_hash]
    assert len(orphans) == 1
    verify = runner.invoke(args=["storage", "verify"])
    assert verify.exit_code == 0, verify.output
    assert "1 files checked, 0 problems" in verify.output
    gc = runner.invoke(args=["storage", "gc", "--grace-hours", "0"])
    assert gc.exit_code == 0, gc.output
    assert f"removed {orphans[0]}" in gc.output and "Removed 1 unreferenced files" in gc.output
    assert list(store.hashes()) == [kept_hash]
    with store.open(kept_hash) as handle:
        assert handle.read() == kept


# --- A burst of submissions -------------------------------------------------------------------

def test_a_burst_of_50_submissions_numbers_every_attempt_once(app, final):
    """25 students hand in twice each, all 50 at once: 1 and 2 per student, nothing lost, one latest each."""
    students = [enrolled(f"学生 {n}", f"burst{n}@example.com", final).id for n in range(25)]
    assignment_id = final.id
    db.session.rollback()
    start = threading.Barrier(50, timeout=30)
    errors: list[str] = []

    def hand_in(user_id: int, copy: int) -> None:
        with app.app_context():
            try:
                start.wait()
                user, assignment = db.session.get(User, user_id), db.session.get(Assignment, assignment_id)
                submissions.submit(user, assignment, text=f"{user_id}/{copy}")
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(repr(exc))

    threads = [threading.Thread(target=hand_in, args=(uid, copy)) for uid in students for copy in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    db.session.rollback()
    rows = db.session.execute(select(Attempt.user_id, Attempt.number, Attempt.latest, Attempt.text)).all()
    assert sorted(r.text for r in rows) == sorted(f"{uid}/{copy}" for uid in students for copy in (1, 2))
    for uid in students:
        mine = sorted((r.number, r.latest) for r in rows if r.user_id == uid)
        assert mine == [(1, False), (2, True)], (uid, mine)
    assert db.session.scalar(select(func.count(Attempt.id)).where(Attempt.latest.is_(True))) == 25


# --- The queue's stored state -----------------------------------------------------------------

def queue_state(attempt_id: int) -> int:
    db.session.expire_all()
    return db.session.scalar(select(Attempt.grading_state).where(Attempt.id == attempt_id))


def test_every_grading_change_keeps_the_attempts_place_in_the_queue(attempt, final):
    """Attempt.grading_state follows the grade and its regrade requests: not graded, draft, released,
    open regrade (even after a withdrawal), answered; a new attempt starts not graded."""
    mentor, states = mentor_of_course(), GRADING_STATES
    assert queue_state(attempt.id) == states["ungraded"]
    grade = grading.save_grade(mentor, attempt, grading.Marks([0, None], ["", ""], "草稿"), release=False,
                               expected_version=0)
    assert queue_state(attempt.id) == states["draft"]
    grade = grading.save_grade(mentor, attempt, grading.Marks([0, 1], ["", ""], "好"), release=True,
                               expected_version=grade.version)
    assert queue_state(attempt.id) == states["released"]
    student = db.session.get(User, attempt.user_id)
    first = grading.request_regrade(student, attempt, 0, "第一项应该更高")
    second = grading.request_regrade(student, attempt, 1, "第二项也是")
    assert queue_state(attempt.id) == states["regrade"]
    grade = grading.save_grade(mentor, attempt, grading.Marks([0, 1], ["", ""], "撤回"), release=False,
                               expected_version=db.session.get(Grade, grade.id).version)
    assert queue_state(attempt.id) == states["regrade"]  # open requests come first, whatever the grade
    grade = grading.save_grade(mentor, attempt, grading.Marks([0, 1], ["", ""], "好"), release=True,
                               expected_version=grade.version)
    grading.answer_regrade(mentor, first, accept=True, new_level=1, response="同意",
                           expected_version=grade.version)
    assert queue_state(attempt.id) == states["regrade"]  # one request is still open
    grading.answer_regrade(mentor, second, accept=False, new_level=None, response="维持原分",
                           expected_version=db.session.get(Grade, grade.id).version)
    assert queue_state(attempt.id) == states["released"]
    newer = submissions.submit(student, final, text="第二次", now=at(10, 13))
    assert (queue_state(newer.id), queue_state(attempt.id)) == (states["ungraded"], states["released"])
