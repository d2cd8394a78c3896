"""``flask content check|sync`` as a mentor or CI job uses them."""
from __future__ import annotations

import json

from sqlalchemy import func, select

from lms.extensions import db
from lms.models import Lesson, User
from tests.conftest import write_content
from tests.samples import ASSIGNMENT, valid_tree

A = "courses/py-data/assignments/final-project.md"


def test_check_passes_on_a_valid_tree(runner, content_dir):
    """A valid tree checks OK with exit status 0 and writes nothing."""
    write_content(content_dir, valid_tree())
    result = runner.invoke(args=["content", "check", str(content_dir)])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output and "2 lesson(s)" in result.output
    assert db.session.scalar(select(func.count()).select_from(Lesson)) == 0


def test_check_lists_every_error_with_path_and_line(runner, content_dir):
    """Errors are printed as path:line: message, all of them, with a non-zero exit."""
    files = valid_tree()
    files[A] = ASSIGNMENT.replace("points: 10", "points: 12").replace("due: 2027-01-15T23:59:00+08:00", "due: 2027-01-15T23:59:00")
    write_content(content_dir, files)
    result = runner.invoke(args=["content", "check", str(content_dir)])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if f"{A}:" in line]
    assert any(line.endswith(f"{A}:3: 'due' has no UTC offset; add one, e.g. 2026-12-01T23:59:00+08:00") for line in lines)
    assert any(f"{A}:4: the rubric's highest levels add up to 10, but 'points' is 12" in line for line in lines)


def test_sync_uses_the_configured_folder_by_default(runner, content_dir, app):
    """Without PATH, sync reads LMS_CONTENT_DIR; a second run reports that nothing changed."""
    write_content(content_dir, valid_tree())
    first = runner.invoke(args=["content", "sync"])
    assert first.exit_code == 0, first.output
    assert "created: courses/py-data/lessons/01-setup.md" in first.output
    assert db.session.scalar(select(func.count()).select_from(Lesson)) == 2
    second = runner.invoke(args=["content", "sync"])
    assert second.exit_code == 0 and "Up to date" in second.output
    status = json.loads((app.instance_path and open(f"{app.instance_path}/last-sync.json", encoding="utf-8").read()))
    assert status["ok"] is True and status["summary"]["rendered"] == 0


def test_failed_sync_exits_non_zero_and_imports_nothing(runner, content_dir, app):
    """A failing sync says nothing was imported and records the failure for the admin."""
    files = valid_tree()
    files[A] = ASSIGNMENT.replace("title: 期末项目\n", "")
    write_content(content_dir, files)
    result = runner.invoke(args=["content", "sync", str(content_dir)])
    assert result.exit_code == 1 and "nothing was imported" in result.output
    assert f"{A}:1: missing required key 'title'" in result.output
    assert db.session.scalar(select(func.count()).select_from(Lesson)) == 0
    status = json.loads(open(f"{app.instance_path}/last-sync.json", encoding="utf-8").read())
    assert status["ok"] is False and any("missing required key 'title'" in e for e in status["errors"])


def test_check_of_a_missing_folder_fails(runner, tmp_path):
    """A wrong PATH is an error, not an empty success."""
    result = runner.invoke(args=["content", "check", str(tmp_path / "nowhere")])
    assert result.exit_code != 0


def test_demo_accounts_are_created_once_and_printed(runner):
    """The demo accounts exist after the command, which can run again safely."""
    for _ in range(2):
        result = runner.invoke(args=["dev", "demo-accounts"])
        assert result.exit_code == 0, result.output
    assert "student@demo.example.com" in result.output and "password:" in result.output
    users = db.session.scalars(select(User)).all()
    assert {u.role for u in users} == {"student", "mentor", "auditor", "admin"}
    assert len(users) == len({u.email for u in users})
    student = next(u for u in users if u.email == "student@demo.example.com")
    assert student.password_hash.startswith("scrypt:") and student.check_password("student-demo-2026")


def test_demo_accounts_are_refused_in_production(runner, app):
    """Known passwords never reach a production database."""
    app.config["LMS_ENV"] = "production"
    result = runner.invoke(args=["dev", "demo-accounts"])
    assert result.exit_code != 0 and "never created in production" in result.output
