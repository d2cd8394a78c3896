"""``flask storage verify|gc`` against the files that attempt rows refer to."""
from __future__ import annotations

import os
import time
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from lms.extensions import db
from lms.models import Assignment, Attempt, AttemptFile, Course, User
from lms.services.storage import StoredFile, get_storage

OLD = time.time() - 3 * 3600


def put_bytes(data: bytes) -> StoredFile:
    incoming = get_storage().new_temp("f.bin")
    incoming.write(data)
    return get_storage().put(incoming)


@pytest.fixture
def attempt(app) -> Attempt:
    """One attempt with its course, assignment and student, the fewest columns each needs."""
    due = datetime(2030, 1, 1, tzinfo=timezone.utc)
    course = Course(slug="c", title="C", summary="", language="zh", path="courses/c/course.md",
                    content_hash="0" * 64)
    student = User(email="s@example.com", name="学生", role="student", password_hash="x")
    db.session.add_all([course, student])
    db.session.flush()
    assignment = Assignment(course_id=course.id, slug="a", title="A", due_at=due, points=Decimal(10),
                            path="courses/c/assignments/a.md", content_hash="1" * 64)
    db.session.add(assignment)
    db.session.flush()
    attempt = Attempt(assignment_id=assignment.id, course_id=course.id, user_id=student.id, number=1,
                      brief_hash="1" * 64, brief_version=1, due_at=due)
    db.session.add(attempt)
    db.session.commit()
    return attempt


def attach(attempt: Attempt, stored: StoredFile, position: int = 0) -> None:
    db.session.add(AttemptFile(attempt_id=attempt.id, position=position, filename=f"f{position}.zip",
                               content_hash=stored.content_hash, size=stored.size))
    db.session.commit()


def test_verify_passes_when_every_referenced_file_is_intact(runner, attempt):
    """Exit code 0 and a summary when all referenced files hash to their names."""
    attach(attempt, put_bytes(b"one"), 0)
    attach(attempt, put_bytes(b"two"), 1)
    result = runner.invoke(args=["storage", "verify"])
    assert result.exit_code == 0, result.output
    assert "2 files checked, 0 problems" in result.output


def test_verify_names_missing_and_corrupted_files(runner, attempt):
    """Exit code 1, with one line naming each missing or corrupted hash."""
    gone, flipped, fine = put_bytes(b"gone"), put_bytes(b"flipped"), put_bytes(b"fine")
    for position, stored in enumerate((gone, flipped, fine)):
        attach(attempt, stored, position)
    storage = get_storage()
    os.unlink(storage._path(gone.content_hash))
    with open(storage._path(flipped.content_hash), "r+b") as f:
        f.write(b"X")
    result = runner.invoke(args=["storage", "verify"])
    assert result.exit_code == 1
    assert f"missing {gone.content_hash} (4 bytes)" in result.output
    assert f"corrupt {flipped.content_hash}" in result.output
    assert fine.content_hash not in result.output
    assert "3 files checked, 2 problems" in result.output


def test_gc_removes_old_unreferenced_files_and_keeps_the_rest(runner, attempt):
    """gc deletes an old file no row names; the referenced one and a recent upload stay."""
    kept, orphan, recent = put_bytes(b"kept"), put_bytes(b"orphan"), put_bytes(b"recent")
    attach(attempt, kept)
    storage = get_storage()
    for stored in (kept, orphan):
        os.utime(storage._path(stored.content_hash), (OLD, OLD))
    dry = runner.invoke(args=["storage", "gc", "--dry-run"])
    assert dry.exit_code == 0 and f"would remove {orphan.content_hash}" in dry.output
    assert storage.exists(orphan.content_hash)
    result = runner.invoke(args=["storage", "gc", "--grace-hours", "2"])
    assert result.exit_code == 0, result.output
    assert "Removed 1 unreferenced files" in result.output
    assert sorted(storage.hashes()) == sorted([kept.content_hash, recent.content_hash])
