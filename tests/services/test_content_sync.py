"""``sync_tree``: import, versions, retirement, all-or-nothing, no-op, git history. Both databases."""
from __future__ import annotations

import subprocess
from datetime import datetime, timezone

from sqlalchemy import func, select

from lms.extensions import db
from lms.models import Asset, AssetBlob, Assignment, Case, ContentVersion, Course, Lesson, SyncRun
from lms.services import content as content_service
from lms.services.content import sync as sync_module
from tests.conftest import write_content
from tests.samples import LESSON_2, valid_tree

L2 = "courses/py-data/lessons/02-reading-data.md"


def sync(content_dir):
    result = content_service.sync_tree(content_dir)
    assert result.errors == [], result.errors
    return result


def table_counts() -> dict[str, int]:
    return {model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Case, Course, Lesson, Assignment, ContentVersion, Asset, AssetBlob, SyncRun)}


def test_first_sync_imports_the_tree(app, content_dir):
    """Every file becomes an item with rendered HTML and a first version."""
    write_content(content_dir, valid_tree())
    result = sync(content_dir)
    assert len(result.created) == 6
    course = db.session.scalar(select(Course))
    assert (course.slug, course.language, course.level, course.published) == ("py-data", "zh-CN", "beginner", True)
    assert [m.email for m in course.mentors] == ["mentor@example.com"]
    assert [c.slug for c in course.cases] == ["port-cold-chain"]
    assert [(l.position, l.slug) for l in course.lessons] == [(1, "setup"), (2, "reading-data")]
    lesson = course.lessons[0]
    assert "<table>" in lesson.html and "codehilite" in lesson.html and "环境准备" in lesson.html
    assert 'href="/courses/py-data/lessons/reading-data"' in lesson.html
    assert 'src="/courses/py-data/assets/flow.png"' in lesson.html
    assignment = db.session.scalar(select(Assignment))
    assert assignment.due_at == datetime(2027, 1, 15, 15, 59, tzinfo=timezone.utc)
    assert float(assignment.points) == 10
    assert assignment.rubric[0]["criterion"] == "代码质量"
    assert assignment.late == {"policy": "accept", "penalty_per_day": 10, "until": None}
    assert assignment.submission["files"] == [".zip", ".pdf"] and assignment.submission["text"] == "optional"
    versions = db.session.scalars(select(ContentVersion)).all()
    assert len(versions) == 5 and {v.number for v in versions} == {1}
    assert all(len(v.content_hash) == 64 and v.source.startswith("---") for v in versions)
    asset = db.session.scalar(select(Asset))
    assert (asset.path, asset.content_type) == ("flow.png", "image/png")


def test_noop_resync_renders_nothing_and_writes_nothing(app, content_dir, monkeypatch):
    """A second sync of the same tree neither renders nor changes a single row."""
    write_content(content_dir, valid_tree())
    sync(content_dir)
    before = table_counts()
    stamps = db.session.execute(select(Lesson.id, Lesson.updated_at)).all()
    calls = []
    monkeypatch.setattr(sync_module, "render_markdown", lambda *a, **k: calls.append(a))
    result = sync(content_dir)
    assert calls == [] and result.rendered == 0 and not result.changed
    db.session.expire_all()
    assert table_counts() == before
    assert db.session.execute(select(Lesson.id, Lesson.updated_at)).all() == stamps


def test_a_change_adds_a_version_and_renders_only_that_file(app, content_dir, monkeypatch):
    """Editing one lesson re-renders that lesson only and keeps the old version's source."""
    write_content(content_dir, valid_tree())
    sync(content_dir)
    (content_dir / L2).write_text(LESSON_2.replace("读取 CSV", "读取 Excel"), encoding="utf-8")
    real, rendered = sync_module.render_markdown, []
    monkeypatch.setattr(sync_module, "render_markdown",
                        lambda source, path=None: rendered.append(path) or real(source, path=path))
    result = sync(content_dir)
    assert rendered == [L2] and result.updated == [L2]
    lesson = db.session.scalar(select(Lesson).where(Lesson.slug == "reading-data"))
    assert lesson.version == 2 and "读取 Excel" in lesson.html
    versions = db.session.scalars(select(ContentVersion).where(
        ContentVersion.item_type == "lesson", ContentVersion.item_id == lesson.id).order_by(ContentVersion.number)).all()
    assert [v.number for v in versions] == [1, 2]
    assert "读取 CSV" in versions[0].source and "读取 Excel" in versions[1].source
    assert versions[0].content_hash != versions[1].content_hash
    assert "读取 CSV" in versions[0].html


def test_an_invalid_tree_changes_nothing(app, content_dir):
    """One bad file stops the whole sync, valid edits in other files included."""
    write_content(content_dir, valid_tree())
    sync(content_dir)
    before = table_counts()
    (content_dir / L2).write_text(LESSON_2.replace("读取 CSV", "读取 Excel"), encoding="utf-8")
    (content_dir / "courses/py-data/course.md").write_text("---\ntitle: broken\n---\n", encoding="utf-8")
    (content_dir / "courses/py-data/lessons/01-setup.md").unlink()
    result = content_service.sync_tree(content_dir)
    assert result.errors and not result.changed
    db.session.expire_all()
    assert table_counts() == before
    lesson = db.session.scalar(select(Lesson).where(Lesson.slug == "reading-data"))
    assert lesson.version == 1 and "读取 CSV" in lesson.html
    assert db.session.scalar(select(Lesson).where(Lesson.slug == "setup")).retired_at is None


def test_an_invalid_first_sync_writes_no_row(app, content_dir):
    """A tree with errors imports nothing at all, not even the valid files."""
    files = valid_tree()
    files["courses/py-data/assignments/final-project.md"] = "---\ntitle: x\n---\n"
    write_content(content_dir, files)
    assert content_service.sync_tree(content_dir).errors
    assert set(table_counts().values()) == {0}


def test_renumbering_a_lesson_keeps_its_identity(app, content_dir):
    """A lesson is its slug: a new number moves it without a new version."""
    write_content(content_dir, valid_tree())
    sync(content_dir)
    lesson_id = db.session.scalar(select(Lesson.id).where(Lesson.slug == "reading-data"))
    (content_dir / L2).rename(content_dir / "courses/py-data/lessons/05-reading-data.md")
    sync(content_dir)
    lesson = db.session.get(Lesson, lesson_id)
    assert (lesson.position, lesson.version, lesson.retired_at) == (5, 1, None)
    assert lesson.path.endswith("05-reading-data.md")


def test_a_removed_file_retires_its_item_and_keeps_history(app, content_dir):
    """Deleting a lesson hides it but keeps the row and its versions; restoring it brings it back."""
    write_content(content_dir, valid_tree())
    sync(content_dir)
    (content_dir / L2).unlink()
    (content_dir / "courses/py-data/assignments/final-project.md").unlink()
    (content_dir / "courses/py-data/assets/flow.png").unlink()
    result = sync(content_dir)
    assert set(result.retired) == {L2, "courses/py-data/assignments/final-project.md",
                                   "courses/py-data/assets/flow.png"}
    lesson = db.session.scalar(select(Lesson).where(Lesson.slug == "reading-data"))
    assert lesson.retired_at is not None
    assert db.session.scalar(select(func.count()).select_from(ContentVersion).where(
        ContentVersion.item_id == lesson.id, ContentVersion.item_type == "lesson")) == 1
    assert db.session.scalar(select(Asset)).retired_at is not None
    write_content(content_dir, {L2: LESSON_2})
    sync(content_dir)
    db.session.refresh(lesson)
    assert lesson.retired_at is None and lesson.version == 1


def test_a_removed_course_retires_everything_in_it(app, content_dir):
    """A course folder that disappears retires the course, its lessons and assignments."""
    files = valid_tree()
    write_content(content_dir, files)
    sync(content_dir)
    import shutil
    shutil.rmtree(content_dir / "courses")
    sync(content_dir)
    for model in (Course, Lesson, Assignment):
        assert all(item.retired_at is not None for item in db.session.scalars(select(model)))
    assert db.session.scalar(select(Case)).retired_at is None


def git(cwd, *args):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def test_versions_record_the_git_commit(app, content_dir):
    """Committed files carry their last commit's id, author and date; uncommitted edits carry none."""
    write_content(content_dir, valid_tree())
    git(content_dir, "init", "-q")
    git(content_dir, "add", ".")
    git(content_dir, "-c", "user.name=陈静", "-c", "user.email=chen@example.com", "commit", "-q", "-m", "first")
    head = git(content_dir, "rev-parse", "HEAD")
    result = sync(content_dir)
    assert result.commit_id == head
    version = db.session.scalar(select(ContentVersion).where(ContentVersion.path == L2))
    assert (version.commit_id, version.commit_author, version.commit_email) == (head, "陈静", "chen@example.com")
    assert version.committed_at is not None
    (content_dir / L2).write_text(LESSON_2 + "\n更多内容\n", encoding="utf-8")
    sync(content_dir)
    latest = db.session.scalar(select(ContentVersion).where(ContentVersion.path == L2, ContentVersion.number == 2))
    assert latest.commit_id is None
    git(content_dir, "-c", "user.name=Sarah", "-c", "user.email=s@example.com", "commit", "-q", "-am", "more")
    (content_dir / L2).write_text(LESSON_2 + "\n更多内容\n再改一次\n", encoding="utf-8")
    git(content_dir, "-c", "user.name=Sarah", "-c", "user.email=s@example.com", "commit", "-q", "-am", "again")
    sync(content_dir)
    third = db.session.scalar(select(ContentVersion).where(ContentVersion.path == L2, ContentVersion.number == 3))
    assert third.commit_id == git(content_dir, "rev-parse", "HEAD") and third.commit_author == "Sarah"


def test_missing_link_targets_are_warnings(app, content_dir):
    """A relative link to a file that does not exist is reported, without failing the sync."""
    files = valid_tree()
    files[L2] = LESSON_2 + "\n[gone](07-gone.md) ![x](../assets/none.png)\n"
    write_content(content_dir, files)
    result = sync(content_dir)
    messages = [str(w) for w in result.warnings]
    assert any("07-gone.md" in m for m in messages) and any("none.png" in m for m in messages)


def test_oversized_asset_is_an_error(app, content_dir):
    """Assets above the size limit are refused before anything is written."""
    files = valid_tree()
    files["courses/py-data/assets/huge.bin"] = b"\0" * (1024 * 1024 + 1)
    write_content(content_dir, files)
    result = content_service.sync_tree(content_dir, max_asset_mb=1)
    assert [str(e) for e in result.errors] == ["courses/py-data/assets/huge.bin:1: the asset is larger than 1 MiB"]
    assert set(table_counts().values()) == {0}
