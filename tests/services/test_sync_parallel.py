"""The content sync renders many files in worker processes, with exactly the serial results."""
from __future__ import annotations

import multiprocessing

import pytest
from sqlalchemy import select

from lms.extensions import db
from lms.models import Lesson
from lms.services.content import sync as sync_module
from lms.services.render import render_markdown
from tests.conftest import write_content
from tests.samples import valid_tree

SOURCES = [
    ("# 标题\n\n正文 **粗体** <script>alert(1)</script>\n\n## 二\n\n[下一课](02-next.md)", "courses/c/lessons/01-a.md"),
    ("```python\nprint('hi')\n```\n\n| a | b |\n|:-:|--:|\n| 1 | 2 |", "courses/c/lessons/02-next.md"),
    ("[外部](https://example.com) [逃逸](../../../../etc/passwd) ![图](../assets/x.png)", "courses/c/lessons/03-b.md"),
    ("<img src=x onerror=alert(1)> <a href='javascript:alert(1)'>x</a>", None),
]


def _lesson(n: int) -> str:
    return (f"---\ntitle: 第 {n} 课\n---\n# 第 {n} 课\n\n## 小节\n\n"
            f"[下一课]({n + 1:02d}-l{n + 1}.md) [不存在](99-missing-{n}.md)\n\n```python\nx = {n}\n```\n")


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_render_all_in_workers_matches_serial(monkeypatch, method):
    """Worker processes (forked or spawned) return what rendering here returns, in order."""
    items = SOURCES * 6
    monkeypatch.setattr(sync_module, "_process_context", lambda: multiprocessing.get_context(method))
    parallel = sync_module.render_all(items, workers=2, min_parallel=1)
    assert parallel == [render_markdown(source, path=path) for source, path in items]


def test_few_files_or_one_worker_render_here(monkeypatch):
    """Below the threshold, or with one worker, no process pool is started."""
    def no_pool(*args, **kwargs):
        raise AssertionError("a process pool was started")

    monkeypatch.setattr(sync_module, "ProcessPoolExecutor", no_pool)
    assert len(sync_module.render_all(SOURCES, workers=2)) == len(SOURCES)  # under PARALLEL_MIN_FILES
    assert len(sync_module.render_all(SOURCES * 30, workers=1)) == len(SOURCES) * 30


def test_render_all_falls_back_when_processes_fail(monkeypatch, caplog):
    """If worker processes cannot be started, the files are rendered in this process."""
    def broken_pool(*args, **kwargs):
        raise OSError("no processes allowed")

    monkeypatch.setattr(sync_module, "ProcessPoolExecutor", broken_pool)
    result = sync_module.render_all(SOURCES, workers=2, min_parallel=1)
    assert result == [render_markdown(source, path=path) for source, path in SOURCES]
    assert "rendering in this process" in caplog.text


def test_workers_setting(monkeypatch):
    """LMS_SYNC_WORKERS overrides the CPU count; the default is one per CPU, at most MAX_WORKERS."""
    monkeypatch.setenv("LMS_SYNC_WORKERS", "3")
    assert sync_module.default_workers() == 3
    monkeypatch.setenv("LMS_SYNC_WORKERS", "0")
    assert sync_module.default_workers() == 1
    monkeypatch.setenv("LMS_SYNC_WORKERS", "two")
    with pytest.raises(ValueError, match="LMS_SYNC_WORKERS"):
        sync_module.default_workers()
    monkeypatch.delenv("LMS_SYNC_WORKERS")
    assert 1 <= sync_module.default_workers() <= sync_module.MAX_WORKERS


def test_parallel_sync_stores_the_same_html_and_warnings(app, content_dir, monkeypatch):
    """A sync rendering in workers stores each file's serial rendering and reports the same
    warnings, in the same order, as a serial sync of the same tree."""
    tree = valid_tree()
    for n in range(3, 40):
        tree[f"courses/py-data/lessons/{n:02d}-l{n}.md"] = _lesson(n)
    write_content(content_dir, tree)
    serial_warnings = [str(w) for w in sync_module.check_tree(content_dir).warnings]  # validation only
    monkeypatch.setattr(sync_module, "PARALLEL_MIN_FILES", 1)
    monkeypatch.setattr(sync_module, "_process_context", lambda: multiprocessing.get_context("fork"))
    result = sync_module.sync_tree(content_dir, workers=2)
    assert result.errors == [] and result.rendered == len(tree) - 1  # all but the asset
    assert serial_warnings == []  # check_tree does not render, so link warnings come only from syncs
    missing = [str(w) for w in result.warnings if "99-missing" in str(w)]
    assert missing == [f"courses/py-data/lessons/{n:02d}-l{n}.md:8: link to "
                       f"'courses/py-data/lessons/99-missing-{n}.md', which does not exist" for n in range(3, 40)]
    for lesson in db.session.scalars(select(Lesson)):
        source = (content_dir / lesson.path).read_text(encoding="utf-8")
        body = source.split("---\n", 2)[2]
        expected = render_markdown(body, path=lesson.path)
        assert (lesson.html, lesson.toc_html) == (expected.html, expected.toc_html), lesson.path
