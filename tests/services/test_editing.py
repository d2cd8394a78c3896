"""Saving from the browser editor: files written atomically, committed alone, synced, logged; on both databases."""
from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from lms.extensions import db
from lms.models import Asset, AuditEntry, ContentVersion, Lesson
from lms.services import editing
from lms.services.content import sync_tree
from lms.services.content.status import read_status
from lms.services.editing import files
from lms.services.editing.save import EDIT_LOCK_ID, edit_lock, settings
from tests.conftest import write_content
from tests.samples import LESSON_1, PNG_1PX, valid_tree

SETUP = "courses/py-data/lessons/01-setup.md"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def init_repo(top: Path, content_dir: Path) -> None:
    """A git repository at ``top`` holding content_dir's files, committed by someone else."""
    git(top, "init", "-q")
    git(top, "config", "user.name", "Initial Author")
    git(top, "config", "user.email", "initial@example.com")
    git(top, "add", "--", content_dir.relative_to(top).as_posix())
    git(top, "commit", "-q", "-m", "Initial content")


@pytest.fixture
def tree(app, content_dir):
    write_content(content_dir, valid_tree())
    assert sync_tree(content_dir).errors == []
    return content_dir


@pytest.fixture
def repo(tree, tmp_path):
    """content/ inside a git work tree whose top is tmp_path (the database and instance sit beside it)."""
    init_repo(tmp_path, tree)
    return tmp_path


@pytest.fixture
def mentor(make_user):
    return make_user("mentor", email="mentor@example.com", name="Mentor Chen")


def lesson_meta(**changes) -> dict:
    meta = {"title": "第一课：环境准备", "cases": ["port-cold-chain"], "minutes": 30}
    meta.update(changes)
    return meta


def setup_body() -> str:
    return editing.read_document("lesson", textwrap.dedent(LESSON_1))[3]


def opened_hash(content_dir: Path, rel: str = SETUP) -> str:
    return hashlib.sha256((content_dir / rel).read_bytes()).hexdigest()


def versions(kind: str = "lesson", slug: str = "setup") -> list[ContentVersion]:
    item_id = db.session.scalar(select(Lesson.id).where(Lesson.slug == slug))
    return list(db.session.scalars(select(ContentVersion).where(ContentVersion.item_type == kind,
                                                                ContentVersion.item_id == item_id)
                                   .order_by(ContentVersion.number)))


def audit_count() -> int:
    return db.session.scalar(select(func.count(AuditEntry.id)))


def save_setup(mentor, content_dir, body: str, **kwargs):
    kwargs.setdefault("base_hash", opened_hash(content_dir))
    kwargs.setdefault("message", "Explain the setup better")
    return editing.save_document(mentor, "lesson", "py-data", "setup", lesson_meta(), body, **kwargs)


def test_a_save_writes_commits_as_the_mentor_syncs_and_logs(app, repo, tree, mentor):
    """The file is written, committed with the mentor as author, synced with that commit id and audit-logged."""
    saved = save_setup(mentor, tree, setup_body() + "\n\n## 新的一节\n")
    status = read_status(app.instance_path)
    assert status["ok"] and status["commit"] == saved.commit_id and status["summary"]["updated"] == 1
    assert saved.changed and saved.commit_id
    assert "## 新的一节" in (tree / SETUP).read_text(encoding="utf-8")
    log = git(repo, "log", "-1", "--format=%H|%an|%ae|%cn|%s")
    assert log.strip() == f"{saved.commit_id}|Mentor Chen|mentor@example.com|LMS|Explain the setup better"
    latest = versions()[-1]
    assert latest.number == 2 and latest.commit_id == saved.commit_id
    assert latest.commit_author == "Mentor Chen" and latest.commit_email == "mentor@example.com"
    assert latest.content_hash == opened_hash(tree)
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "content.edited")).one()
    assert entry.actor_email == "mentor@example.com" and entry.object_type == "lesson"
    assert entry.details["commit"] == saved.commit_id
    assert entry.details["path"] == SETUP and entry.details["content_hash"] == latest.content_hash
    assert entry.details["previous_hash"] == versions()[0].content_hash and entry.details["synced"] is True
    assert git(repo, "status", "--porcelain", "--", "content").strip() == ""


def test_a_commit_holds_only_the_saved_file(repo, tree, mentor):
    """Other staged, unstaged and untracked changes, inside content/ and outside it, stay out of the commit."""
    (repo / "notes.txt").write_text("staged elsewhere\n")
    git(repo, "add", "notes.txt")
    (tree / "courses/py-data/lessons/02-reading-data.md").write_text(
        textwrap.dedent("---\ntitle: 第二课：读取数据（草稿）\n---\n草稿\n"), encoding="utf-8")
    saved = save_setup(mentor, tree, setup_body() + "\nmore\n")
    changed = git(repo, "show", "--name-only", "--format=", saved.commit_id).split()
    assert changed == ["content/" + SETUP]
    status = git(repo, "status", "--porcelain").splitlines()
    assert "A  notes.txt" in status  # still staged, not committed
    assert " M content/courses/py-data/lessons/02-reading-data.md" in status


def test_saving_outside_git_still_saves_and_versions_by_hash(tree, mentor):
    """Without a git work tree the file is saved and synced; the version has its hash and no commit."""
    saved = save_setup(mentor, tree, setup_body() + "\nno git here\n")
    assert saved.changed and saved.commit_id is None
    latest = versions()[-1]
    assert latest.number == 2 and latest.commit_id is None
    assert latest.content_hash == opened_hash(tree)
    assert "no git here" in latest.source


def test_an_unchanged_form_keeps_every_byte_and_commits_nothing(repo, tree, mentor):
    """Saving what is already there changes no byte, makes no commit and no version."""
    before, head = (tree / SETUP).read_bytes(), git(repo, "rev-parse", "HEAD")
    saved = save_setup(mentor, tree, setup_body())
    assert not saved.changed
    assert (tree / SETUP).read_bytes() == before and git(repo, "rev-parse", "HEAD") == head
    assert len(versions()) == 1


def test_a_stale_editor_is_refused_and_nothing_changes(repo, tree, mentor):
    """A file that changed since the editor opened it is not overwritten; the conflict carries the current bytes."""
    stale = opened_hash(tree)
    save_setup(mentor, tree, setup_body() + "\nfirst mentor\n")
    current = (tree / SETUP).read_bytes()
    with pytest.raises(editing.Conflict) as caught:
        save_setup(mentor, tree, setup_body() + "\nsecond mentor\n", base_hash=stale)
    assert caught.value.current == current
    assert (tree / SETUP).read_bytes() == current
    assert len(versions()) == 2


def test_a_failing_commit_puts_the_file_back_and_leaves_the_database_alone(repo, tree, mentor):
    """A pre-commit hook that refuses: the old bytes are back, nothing staged, no version, no audit entry."""
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'rejected by policy' >&2\nexit 1\n")
    hook.chmod(0o755)
    before, head, entries = (tree / SETUP).read_bytes(), git(repo, "rev-parse", "HEAD"), audit_count()
    with pytest.raises(editing.CommitFailed) as caught:
        save_setup(mentor, tree, setup_body() + "\nwill not land\n")
    assert "rejected by policy" in caught.value.detail
    assert (tree / SETUP).read_bytes() == before
    assert git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "status", "--porcelain", "--", "content").strip() == ""
    db.session.rollback()
    assert len(versions()) == 1 and audit_count() == entries


def test_a_failing_commit_of_a_new_lesson_removes_it(repo, tree, mentor):
    """A new file whose commit fails is deleted and unstaged again."""
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\nexit 1\n")
    hook.chmod(0o755)
    with pytest.raises(editing.CommitFailed):
        editing.save_document(mentor, "lesson", "py-data", "charts", {"title": "图表"}, "text", base_hash=None,
                              message="Add charts")
    assert not (tree / "courses/py-data/lessons/03-charts.md").exists()
    assert git(repo, "status", "--porcelain", "--", "content").strip() == ""
    assert db.session.scalar(select(Lesson).where(Lesson.slug == "charts")) is None


def test_a_broken_git_reports_the_error_and_saves_nothing(repo, tree, mentor, app):
    """content/ is in a repository but git cannot run: refused before a byte is written."""
    app.config["LMS_GIT"] = str(repo / "no-such-git")
    before = (tree / SETUP).read_bytes()
    with pytest.raises(editing.CommitFailed) as caught:
        save_setup(mentor, tree, setup_body() + "\nx\n")
    assert "no-such-git" in caught.value.detail
    assert (tree / SETUP).read_bytes() == before and len(versions()) == 1


def test_a_tree_that_would_break_is_refused_and_restored(tree, mentor):
    """A new lesson naming a case that does not exist is caught by the content check; nothing stays on disk."""
    with pytest.raises(editing.Invalid) as caught:
        editing.save_document(mentor, "lesson", "py-data", "charts", {"title": "图表", "cases": ["no-such-case"]},
                              "text", base_hash=None, message="Add charts")
    assert any("no-such-case" in e.message for e in caught.value.errors)
    assert not (tree / "courses/py-data/lessons/03-charts.md").exists()


def test_a_new_lesson_gets_the_next_number_and_its_slug_must_be_free(tree, mentor):
    saved = editing.save_document(mentor, "lesson", "py-data", "charts", {"title": "图表"}, "## 图表\n",
                                  base_hash=None, message="Add charts")
    assert saved.changed
    assert (tree / "courses/py-data/lessons/03-charts.md").read_text(encoding="utf-8") == \
        "---\ntitle: 图表\n---\n\n## 图表\n"
    lesson = db.session.scalar(select(Lesson).where(Lesson.slug == "charts"))
    assert lesson.position == 3 and lesson.retired_at is None
    with pytest.raises(editing.SlugTaken):
        editing.save_document(mentor, "lesson", "py-data", "setup", {"title": "x"}, "", base_hash=None, message="x")


def test_reordering_renames_the_files_and_keeps_the_lessons(repo, tree, mentor):
    """The order is written as file numbers; the lessons (and their history) stay the same rows."""
    ids = dict(db.session.execute(select(Lesson.slug, Lesson.id)).all())
    listing = editing.listing_hash("py-data")
    saved = editing.save_order(mentor, "py-data", ["reading-data", "setup"], base_listing=listing,
                               message="Reading data first")
    assert sorted(p.name for p in (tree / "courses/py-data/lessons").iterdir()) == \
        ["01-reading-data.md", "02-setup.md"]
    renamed = git(repo, "show", "--name-status", "--format=", saved.commit_id).split()
    assert renamed == ["R100", "content/courses/py-data/lessons/02-reading-data.md",
                       "content/courses/py-data/lessons/01-reading-data.md",
                       "R100", "content/courses/py-data/lessons/01-setup.md", "content/courses/py-data/lessons/02-setup.md"]
    lessons = {lesson.slug: lesson for lesson in db.session.scalars(select(Lesson))}
    assert {slug: lesson.id for slug, lesson in lessons.items()} == ids
    assert lessons["reading-data"].position == 1 and lessons["setup"].position == 2
    with pytest.raises(editing.Conflict):
        editing.save_order(mentor, "py-data", ["setup", "reading-data"], base_listing=listing, message="stale")


def test_an_uploaded_image_is_committed_and_served(repo, tree, mentor, tmp_path):
    upload = tmp_path / "upload.bin"
    upload.write_bytes(PNG_1PX)
    name = editing.asset_name("Cold Room Layout.PNG")
    assert name == "cold-room-layout.png"
    editing.check_image(str(upload), name, len(PNG_1PX), 20)
    saved = editing.save_asset(mentor, "py-data", name, str(upload), replace=False, message="Add the layout")
    assert (tree / "courses/py-data/assets/cold-room-layout.png").read_bytes() == PNG_1PX
    assert git(repo, "show", "--name-only", "--format=", saved.commit_id).split() == \
        ["content/courses/py-data/assets/cold-room-layout.png"]
    asset = db.session.scalar(select(Asset).where(Asset.path == "cold-room-layout.png"))
    assert asset.content_type == "image/png"
    assert db.session.scalar(select(AuditEntry.action).where(AuditEntry.action == "content.asset_uploaded"))
    with pytest.raises(editing.AssetExists):
        editing.save_asset(mentor, "py-data", name, str(upload), replace=False, message="again")


@pytest.mark.parametrize("name", ["evil.svg", "a.png.html", "a.html.png", "photo", "x.exe", "../x.png", ".png",
                                  "照片.png"])
def test_asset_names_that_are_refused(name):
    with pytest.raises(editing.AssetRejected):
        editing.asset_name(name)


def test_image_content_is_checked_by_its_bytes(tmp_path):
    """A text file or a GIF named .png is refused, and so is an image over the size limit."""
    fake = tmp_path / "fake.png"
    fake.write_bytes(b"<html><script>alert(1)</script></html>")
    with pytest.raises(editing.AssetRejected):
        editing.check_image(str(fake), "fake.png", fake.stat().st_size, 20)
    gif = tmp_path / "gif.png"
    gif.write_bytes(b"GIF89a" + b"\0" * 20)
    with pytest.raises(editing.AssetRejected):
        editing.check_image(str(gif), "gif.png", gif.stat().st_size, 20)
    big = tmp_path / "big.png"
    big.write_bytes(PNG_1PX + b"\0" * (1024 * 1024))
    with pytest.raises(editing.AssetRejected):
        editing.check_image(str(big), "big.png", big.stat().st_size, 1)


@pytest.mark.parametrize("slug", ["../x", "..", "a/b", "Setup", "a--b", "-a", "", "x" * 101, "a\0b"])
def test_paths_are_built_from_slugs_only(slug):
    with pytest.raises(files.BadPath):
        files.lesson_file("py-data", 1, slug)
    with pytest.raises(files.BadPath):
        files.assignment_file(slug, "ok")


def test_paths_never_leave_the_content_folder(tmp_path):
    root = tmp_path / "content"
    (root / "courses").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    os.symlink(tmp_path / "outside", root / "courses" / "link")
    for rel in ("../outside/x.md", "courses/../../x.md", "/etc/passwd", "courses/link/x.md", "courses/./x.md"):
        with pytest.raises(files.BadPath):
            files.inside(root, rel)
    assert files.inside(root, "courses/py/course.md") == root.resolve() / "courses/py/course.md"


def test_compose_keeps_the_front_matter_lines_when_their_meaning_is_the_same():
    """Comments and quoting survive an edit of the text; an edit of a field rewrites the front matter."""
    original = "---\n# keep me\ntitle: \"第一课\"\nminutes: 30\n---\n\nOld text.\n"
    assert editing.compose("lesson", {"title": "第一课", "minutes": 30}, "Old text.\r\n", original) == original
    assert editing.compose("lesson", {"title": "第一课", "minutes": 30}, "New text.", original) == \
        "---\n# keep me\ntitle: \"第一课\"\nminutes: 30\n---\n\nNew text.\n"
    assert editing.compose("lesson", {"title": "Lesson 1: setup", "minutes": 30}, "Old text.", original) == \
        "---\ntitle: 'Lesson 1: setup'\nminutes: 30\n---\n\nOld text.\n"
    crlf = original.replace("\n", "\r\n")
    assert editing.compose("lesson", {"title": "第一课", "minutes": 30}, "New\ntext", crlf) == \
        "---\r\n# keep me\r\ntitle: \"第一课\"\r\nminutes: 30\r\n---\r\n\r\nNew\r\ntext\r\n"


def test_front_matter_is_valid_for_the_content_format():
    """What the editor writes for an assignment passes the same validator as sync."""
    meta = {"title": "项目：周报", "due": "2027-04-18T23:59:00+08:00", "points": 10,
            "submission": {"files": [".zip"], "repo_url": "optional"},
            "late": {"penalty_per_day": 10, "until": "2027-04-20T23:59:00+08:00"},
            "rubric": [{"criterion": "代码", "levels": [{"points": 10, "label": "好", "description": "yes: no"},
                                                        {"points": 0, "label": "缺失"}]}]}
    text = editing.compose("assignment", meta, "Brief")
    assert editing.problems("assignment", text) == []
    assert "due: 2027-04-18T23:59:00+08:00\n" in text


def test_only_one_save_runs_at_a_time(app, tmp_path):
    """The file lock refuses a second save while another process holds it (Busy after the timeout)."""
    lock = tmp_path / "instance" / "content-edit.lock"
    lock.parent.mkdir(exist_ok=True)
    with open(lock, "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(editing.Busy):
            with edit_lock(lock, timeout=0.2):
                pass
    with edit_lock(lock, timeout=0.2):
        pass


def test_servers_sharing_postgresql_take_turns(app, tmp_path):
    """On PostgreSQL a save also holds an advisory lock, so servers with a shared content folder take turns."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the advisory lock is PostgreSQL's")
    other = db.engine.connect()
    try:
        assert other.execute(text("SELECT pg_try_advisory_lock(:id)"), {"id": EDIT_LOCK_ID}).scalar()
        with pytest.raises(editing.Busy):
            with edit_lock(tmp_path / "a.lock", timeout=0.2):
                pass
        other.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": EDIT_LOCK_ID})
    finally:
        other.close()
    with edit_lock(tmp_path / "a.lock", timeout=0.2):
        pass


def test_settings_come_from_the_app(app, content_dir):
    config = settings()
    assert config.root == content_dir and config.committer.name == "LMS" and config.git == "git"
