"""``flask dev seed``: counts, the application's invariants, a valid audit chain, reproducibility.

Seeds at a tiny scale on both databases; the benchmark (bench/load_bench.py) runs it at scale 10.
"""
from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from lms import create_app
from lms.extensions import db
from lms.models import (Assignment, Attempt, AttemptFile, AuditEntry, AuditHead, Course, Enrollment, Extension, Grade,
                        GradeEvent, Lesson, LessonProgress, RegradeRequest, SignOff, User)
from lms.services import accounts, grading, seed, storage
from tests.conftest import login

SCALE = 0.005


def run_seed(runner, tmp_path, *extra: str):
    return runner.invoke(args=["dev", "seed", "--scale", str(SCALE), "--content-dir", str(tmp_path / "seed"),
                               "--summary", str(tmp_path / "seed.json"), *extra])


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def seeded(app, runner, tmp_path):
    result = run_seed(runner, tmp_path)
    assert result.exit_code == 0, result.output
    return json.loads((tmp_path / "seed.json").read_text(encoding="utf-8")), result.output


def test_seed_makes_the_planned_amounts(app, seeded):
    """Students, mentors, courses, lessons, attempts and audit entries as the plan for the scale says."""
    summary, output = seeded
    plan = seed.Plan.for_scale(SCALE)
    assert summary["plan"]["students"] == plan.students
    assert count(User) == summary["counts"]["users"]
    roles = Counter(db.session.scalars(select(User.role)))
    assert roles["student"] == plan.students and roles["mentor"] == plan.mentors and roles["admin"] == 2
    assert roles["auditor"] >= 2
    assert count(Course) == plan.courses
    assert count(Lesson) == plan.courses * plan.lessons_per_course
    assert count(Assignment) == plan.courses * plan.assignments_per_course
    assert count(Attempt) == plan.attempts
    assert count(AuditEntry) == plan.audit_entries
    for model in (Enrollment, LessonProgress, AttemptFile, Grade, GradeEvent, SignOff):
        assert count(model) > 0, model
    assert "Sign in with the password 'seed-Pa55word-2026'" in output
    assert "Created in" in output and "attempts" in output


def test_seeded_data_keeps_the_applications_invariants(app, seeded):
    """One latest attempt per student and assignment, numbered 1..n; work only in enrolled courses;
    grades against the rubric; regrades only of released grades; files really stored."""
    per_pair: dict[tuple[int, int], list] = {}
    for row in db.session.execute(select(Attempt.user_id, Attempt.assignment_id, Attempt.number, Attempt.latest,
                                         Attempt.course_id, Attempt.brief_hash)):
        per_pair.setdefault((row.user_id, row.assignment_id), []).append(row)
    assignments = {a.id: a for a in db.session.scalars(select(Assignment))}
    enrolled = set(db.session.execute(select(Enrollment.user_id, Enrollment.course_id)).all())
    for (user_id, assignment_id), rows in per_pair.items():
        rows.sort(key=lambda r: r.number)
        assert [r.number for r in rows] == list(range(1, len(rows) + 1))
        assert [r.latest for r in rows] == [False] * (len(rows) - 1) + [True]
        assignment = assignments[assignment_id]
        assert all(r.course_id == assignment.course_id and r.brief_hash == assignment.content_hash for r in rows)
        assert (user_id, assignment.course_id) in enrolled
    for row in db.session.execute(select(LessonProgress.user_id, LessonProgress.course_id, Lesson.course_id)
                                  .join(Lesson, Lesson.id == LessonProgress.lesson_id)):
        assert row[1] == row[2] and (row[0], row[1]) in enrolled
    for extension in db.session.scalars(select(Extension)):
        assert (extension.user_id, assignments[extension.assignment_id].course_id) in enrolled
        assert extension.due_at > assignments[extension.assignment_id].due_at

    for grade, attempt in db.session.execute(select(Grade, Attempt).join(Attempt, Attempt.id == Grade.attempt_id)):
        rubric = assignments[attempt.assignment_id].rubric
        levels = [row["level"] for row in grade.levels]
        assert len(levels) == len(rubric)
        for criterion, row in zip(rubric, grade.levels):
            assert row["criterion"] == criterion["criterion"]
            assert row["points"] == str(criterion["levels"][row["level"]]["points"])
        assert (grade.raw_score, grade.score) == grading.score(rubric, levels, Decimal(0))
        assert grade.status in ("draft", "released")
        assert (grade.released_at is not None) == (grade.status == "released")
        events = db.session.scalars(select(GradeEvent.action).where(GradeEvent.attempt_id == attempt.id)).all()
        assert events and events[0] in ("draft_saved", "released")
    for request, grade in db.session.execute(select(RegradeRequest, Grade)
                                             .join(Grade, Grade.attempt_id == RegradeRequest.attempt_id)):
        assert grade.status == "released"
        if request.status == "accepted":
            assert grade.levels[request.criterion]["level"] == request.new_level != request.old_level

    referenced = db.session.execute(select(AttemptFile.content_hash, AttemptFile.size).distinct()).all()
    assert referenced and storage.verify(storage.get_storage(), referenced) == []


def test_audit_chain_verifies_and_the_app_keeps_writing_after_the_seed(app, seeded, runner):
    """``flask audit verify`` passes; new rows get fresh ids (PostgreSQL sequences moved on) and extend the chain."""
    summary, _output = seeded
    verify = runner.invoke(args=["audit", "verify"])
    assert verify.exit_code == 0, verify.output
    assert f"OK: {count(AuditEntry)} entries" in verify.output
    head = db.session.scalar(select(AuditHead))
    assert head.seq == db.session.scalar(select(func.max(AuditEntry.seq)))
    assert runner.invoke(args=["storage", "verify"]).exit_code == 0

    admin = db.session.scalar(select(User).where(User.email == summary["logins"]["admin"]))
    new = accounts.create_user(email="after-seed@example.com", name="After Seed", password="another-Pa55-2026",
                               role="student", actor=admin)
    assert new.id > max(db.session.scalars(select(User.id).where(User.id != new.id)))
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0

    # The printed accounts sign in with the printed password.
    for role in ("student", "mentor", "auditor", "admin"):
        response = login(app.test_client(), summary["logins"][role], summary["password"])
        assert response.status_code == 302, (role, response.get_data(as_text=True)[:300])


def test_seed_refuses_a_database_with_accounts_unless_forced_and_a_foreign_content_folder(app, runner, tmp_path,
                                                                                           make_user):
    make_user("admin", "someone@example.com")
    refused = run_seed(runner, tmp_path)
    assert refused.exit_code != 0 and "not empty" in refused.output
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.md").write_text("mine", encoding="utf-8")
    foreign = runner.invoke(args=["dev", "seed", "--scale", str(SCALE), "--force",
                                  "--content-dir", str(tmp_path / "mine")])
    assert foreign.exit_code != 0 and "did not write" in foreign.output
    forced = run_seed(runner, tmp_path, "--force")
    assert forced.exit_code == 0, forced.output
    assert count(Attempt) == seed.Plan.for_scale(SCALE).attempts


def test_seed_is_refused_in_production(app, runner, tmp_path):
    app.config["LMS_ENV"] = "production"
    result = run_seed(runner, tmp_path)
    assert result.exit_code != 0 and "never done in production" in result.output
    assert count(User) == 0


# Columns that the sync stamps with the current time differ between runs, and so does the password
# hash's random salt; everything else must not.
def _dump() -> dict[str, list]:
    skip = {"created_at", "updated_at", "synced_at", "started_at", "finished_at", "source_dir", "hash",
            "prev_hash", "password_hash"}
    tables = ("users", "enrollments", "lesson_progress", "attempts", "attempt_files", "grades", "grade_events",
              "regrade_requests", "extensions", "sign_offs", "lessons", "assignments")
    dump = {}
    for name in tables:
        table = db.metadata.tables[name]
        columns = [c for c in table.c if c.name not in skip]
        dump[name] = [tuple(row) for row in db.session.execute(select(*columns).order_by(table.c.id))]
    dump["audit"] = [tuple(row) for row in db.session.execute(
        select(AuditEntry.seq, AuditEntry.actor_id, AuditEntry.action, AuditEntry.object_id, AuditEntry.details)
        .where(~AuditEntry.action.like("content.%")).order_by(AuditEntry.seq))]
    return dump


def _seed_fresh_sqlite(tmp_path, name: str, rng_seed: int) -> dict[str, list]:
    other = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path / name), "SECRET_KEY": "test",
                        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / name}.sqlite3",
                        "LMS_UPLOAD_DIR": str(tmp_path / name / "uploads")})
    with other.app_context():
        db.create_all()
        seed.seed(seed.Plan.for_scale(SCALE), tmp_path / name / "content", seed=rng_seed)
        dump = _dump()
        db.session.remove()
        db.engine.dispose()
    return dump


def test_the_same_seed_gives_the_same_data(app, seeded, tmp_path):
    """Seeding another database with the same seed gives the same rows; another seed does not."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("compared on SQLite files; the PostgreSQL run checks the rest")
    first = _dump()
    assert _seed_fresh_sqlite(tmp_path, "again", seed.DEFAULT_SEED) == first
    assert _seed_fresh_sqlite(tmp_path, "other", seed.DEFAULT_SEED + 1)["attempts"] != first["attempts"]
