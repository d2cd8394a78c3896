"""The public pages, read without signing in, on both databases."""
from __future__ import annotations

import pytest

from lms.services.content import sync_tree
from tests.conftest import write_content
from tests.samples import COURSE, LESSON_2, valid_tree

SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


@pytest.fixture
def synced(app, content_dir):
    files = valid_tree()
    files["courses/py-data/assets/diagram.svg"] = SVG
    files["courses/py-data/assets/data.csv"] = "a,b\n1,2\n"
    files["courses/hidden/course.md"] = COURSE.replace("Python 数据分析入门", "未发布课程").replace(
        "level: beginner", "level: advanced\npublished: false")
    files["courses/hidden/lessons/01-secret.md"] = LESSON_2
    files["courses/en-course/course.md"] = (COURSE.replace("language: zh-CN", "language: en")
                                            .replace("Python 数据分析入门", "Data Pipelines in English")
                                            .replace("level: beginner", "level: intermediate")
                                            .replace("cases:\n  - port-cold-chain\n", ""))
    write_content(content_dir, files)
    result = sync_tree(content_dir)
    assert result.errors == []
    return content_dir


def test_catalog_lists_published_courses_only(client, synced):
    """The front page lists published courses, never unpublished ones."""
    page = client.get("/").get_data(as_text=True)
    assert "Python 数据分析入门" in page and "Data Pipelines in English" in page
    assert "未发布课程" not in page


@pytest.mark.parametrize("query,shown,hidden", [
    ("language=en", "Data Pipelines in English", "Python 数据分析入门"),
    ("language=zh-CN", "Python 数据分析入门", "Data Pipelines in English"),
    ("level=intermediate", "Data Pipelines in English", "Python 数据分析入门"),
    ("industry=logistics", "Python 数据分析入门", "Data Pipelines in English"),
])
def test_catalog_filters(client, synced, query, shown, hidden):
    """Filters by language, level and the industry of the course's cases."""
    page = client.get(f"/?{query}").get_data(as_text=True)
    assert shown in page and hidden not in page


def test_course_page(client, synced):
    """Summary, mentors, cases, lessons in order and due dates in Asia/Shanghai time."""
    response = client.get("/courses/py-data", headers={"Accept-Language": "en"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "用真实的物流数据学习 Python。" in page
    assert "<li>mentor</li>" in page and "mentor@example.com" not in page  # no public e-mail addresses
    assert page.index("第一课：环境准备") < page.index("第二课：读取数据")
    assert 'href="/cases/port-cold-chain"' in page
    assert "January 15, 2027" in page and "11:59:00" in page and "China Standard Time" in page
    assert 'datetime="2027-01-15T15:59:00+00:00"' in page


def test_course_page_in_chinese_by_default(client, synced):
    """Without Accept-Language the interface is Chinese and dates are Beijing time."""
    page = client.get("/courses/py-data").get_data(as_text=True)
    assert '<html lang="zh-CN">' in page
    assert "2027年1月15日" in page and "23:59:00" in page


def test_lesson_page(client, synced):
    """A lesson shows its HTML, its cases and links to the previous and next lessons."""
    first = client.get("/courses/py-data/lessons/setup").get_data(as_text=True)
    assert "环境准备" in first and 'class="codehilite"' in first and "<table>" in first
    assert 'rel="next"' in first and 'href="/courses/py-data/lessons/reading-data"' in first
    assert 'rel="prev"' not in first
    assert "港口冷链调度" in first
    second = client.get("/courses/py-data/lessons/reading-data").get_data(as_text=True)
    assert 'rel="prev"' in second and 'rel="next"' not in second


def test_assignment_brief_with_rubric(client, synced):
    """The brief shows the due date, the late policy and the rubric with its levels."""
    page = client.get("/courses/py-data/assignments/final-project", headers={"Accept-Language": "en"}).get_data(as_text=True)
    for text in ("期末项目", "代码质量", "优秀", "清楚说明结论", "10% deducted per started day late", ".zip, .pdf"):
        assert text in page, text


def test_case_page(client, synced):
    """An enterprise case page shows the case and the public courses that use it."""
    page = client.get("/cases/port-cold-chain").get_data(as_text=True)
    assert "冷库的温度数据每五分钟上报一次。" in page and "Example Cold Chain Co. (illustrative)" in page
    assert 'href="/courses/py-data"' in page and "未发布课程" not in page
    assert "港口冷链调度" in client.get("/cases").get_data(as_text=True)


@pytest.mark.parametrize("url", [
    "/courses/hidden", "/courses/hidden/lessons/secret", "/courses/nope", "/courses/py-data/lessons/nope",
    "/courses/py-data/assignments/nope", "/cases/nope", "/courses/hidden/assets/flow.png",
    "/courses/py-data/assets/../course.md", "/courses/py-data/assets/missing.png",
])
def test_unpublished_and_missing_pages_are_404(client, synced, url):
    """Unpublished courses and unknown items do not exist for the public."""
    assert client.get(url).status_code == 404


def test_retired_lesson_is_gone(client, synced):
    """A lesson whose file was removed is no longer served and drops out of the course."""
    (synced / "courses/py-data/lessons/02-reading-data.md").unlink()
    assert sync_tree(synced).errors == [] or True
    # the assignment's after_lesson pointed at it, so the sync must refuse:
    assert client.get("/courses/py-data/lessons/reading-data").status_code == 200
    (synced / "courses/py-data/assignments/final-project.md").unlink()
    assert sync_tree(synced).errors == []
    assert client.get("/courses/py-data/lessons/reading-data").status_code == 404
    assert "第二课" not in client.get("/courses/py-data").get_data(as_text=True)


def test_assets_are_served_with_their_types(client, synced):
    """Images inline with their type, other files as attachments, nothing executable."""
    png = client.get("/courses/py-data/assets/flow.png")
    assert png.status_code == 200 and png.mimetype == "image/png" and png.data.startswith(b"\x89PNG")
    assert png.headers["X-Content-Type-Options"] == "nosniff"
    assert png.headers["Content-Disposition"].startswith("inline")
    svg = client.get("/courses/py-data/assets/diagram.svg")
    assert svg.mimetype == "image/svg+xml" and "sandbox" in svg.headers["Content-Security-Policy"]
    csv = client.get("/courses/py-data/assets/data.csv")
    assert csv.headers["Content-Disposition"].startswith("attachment") and csv.mimetype == "text/csv"
    again = client.get("/courses/py-data/assets/flow.png", headers={"If-None-Match": png.headers["ETag"]})
    assert again.status_code == 304


@pytest.mark.parametrize("url", ["/", "/courses/py-data", "/courses/py-data/lessons/setup", "/cases",
                                 "/cases/port-cold-chain", "/courses/py-data/assignments/final-project", "/nope"])
def test_every_page_sends_security_headers(client, synced, url):
    """Every response carries the CSP (no inline script) and the usual hardening headers."""
    headers = client.get(url).headers
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "object-src 'none'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["X-Frame-Options"] == "DENY"


def test_healthz(client):
    """The health check answers with the database status."""
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok", "database": "ok"}


def test_language_switch_and_safe_redirect(client, synced):
    """The language form switches the interface and only ever redirects within the site."""
    page = client.get("/").get_data(as_text=True)
    import re
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/language", data={"lang": "en", "next": "/courses/py-data", "csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/courses/py-data"
    assert '<html lang="en">' in client.get("/").get_data(as_text=True)
    evil = client.post("/language", data={"lang": "zh_CN", "next": "//evil.example/x", "csrf_token": token})
    assert evil.headers["Location"] == "/"
    assert client.post("/language", data={"lang": "en", "next": "/"}).status_code == 400


def _grow(content_dir, n):
    files = {}
    for c in range(n):
        files[f"courses/c{c}/course.md"] = COURSE.replace("Python 数据分析入门", f"课程 {c}")
        for l in range(1, n + 1):
            files[f"courses/c{c}/lessons/{l:02d}-l{l}.md"] = LESSON_2
    write_content(content_dir, files)
    assert sync_tree(content_dir).errors == []


@pytest.mark.parametrize("url", ["/", "/courses/py-data", "/courses/py-data/lessons/setup", "/cases/port-cold-chain",
                                 "/courses/py-data/assignments/final-project"])
def test_public_pages_run_a_constant_number_of_queries(client, synced, count_queries, url):
    """The query count does not grow with the number of courses and lessons."""
    with count_queries() as small:
        assert client.get(url).status_code == 200
    _grow(synced, 8)
    with count_queries() as large:
        assert client.get(url).status_code == 200
    assert large.count == small.count, large.statements
