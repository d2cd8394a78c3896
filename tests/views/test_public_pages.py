"""The public pages, read without signing in, on both databases."""
from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest

from lms.services import catalog as svc
from lms.services.content import sync_tree
from tests.conftest import write_content
from tests.samples import CASE, COURSE, LESSON_2, valid_tree

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


# Pagination of the public lists (24 a page): the catalog, the cases and a case's courses.

def _many(content_dir, courses: int, cases: int = 0, start: int = 0) -> None:
    """Add published courses 课程 NN on the sample case, and cases 案例 NN."""
    files = {f"courses/c{c:02d}/course.md": COURSE.replace("Python 数据分析入门", f"课程 {c:02d}")
             for c in range(start, start + courses)}
    files.update({f"cases/case-{c:02d}.md": CASE.replace("港口冷链调度", f"案例 {c:02d}")
                  for c in range(start, start + cases)})
    write_content(content_dir, files)
    assert sync_tree(content_dir).errors == []


def _course_slugs(html: str) -> list[str]:
    """The courses of a catalog page (its cards) or of a case page (its list), in order."""
    return re.findall(r'<li>(?:\s*<h3>)?<a href="/courses/([^"/]+)"', html) or \
        re.findall(r'<h3><a href="/courses/([^"/]+)"', html)


def _pager_links(html: str) -> dict[str, str]:
    return {rel: unescape(href) for rel, href in re.findall(r'<a rel="(prev|next)" href="([^"]+)"', html)}


@pytest.fixture
def many(synced):
    _many(synced, 30, cases=30)  # 32 public courses (31 on the sample case), 31 cases
    return synced


def test_catalog_page_2_continues_the_single_list(client, many):
    """Pages 1 and 2 together show every course, in the order of the one unpaginated list."""
    everything = [c.slug for c in svc.public_courses(svc.CatalogFilters(), per_page=1000).rows]
    assert len(everything) == 32
    first = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    second = client.get("/?page=2", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert _course_slugs(first) == everything[:24] and _course_slugs(second) == everything[24:]
    assert _pager_links(first) == {"next": "/?page=2"} and "Page 1 of 2" in first
    assert _pager_links(second) == {"prev": "/"} and "Page 2 of 2" in second
    assert '<nav class="pagination" aria-label="Pages">' in second
    assert "<title>Course catalog · Page 2 of 2" in second
    assert client.get("/?page=3").status_code == 404


def test_catalog_pages_keep_the_filters(client, many):
    """The pager's links carry the chosen filters; the facets still list every value."""
    first = client.get("/?industry=logistics&language=zh-CN").get_data(as_text=True)
    link = urlsplit(_pager_links(first)["next"])
    assert link.path == "/" and parse_qs(link.query) == {"page": ["2"], "industry": ["logistics"],
                                                          "language": ["zh-CN"]}
    second = client.get(_pager_links(first)["next"]).get_data(as_text=True)
    assert parse_qs(urlsplit(_pager_links(second)["prev"]).query) == {"industry": ["logistics"],
                                                                      "language": ["zh-CN"]}
    assert len(_course_slugs(first)) == 24 and len(_course_slugs(second)) == 7  # py-data and c00–c29
    assert "en-course" not in _course_slugs(first) + _course_slugs(second)
    assert '<option value="en"' in second  # the facets are not limited to this page


@pytest.mark.parametrize("query", ["page=0", "page=-3", "page=abc", "page=", "page=1.5"])
def test_garbage_page_numbers_show_page_1(client, many, query):
    """Zero, negative and non-numeric page numbers show page 1 rather than an error."""
    assert _course_slugs(client.get(f"/?{query}").get_data(as_text=True)) == \
        _course_slugs(client.get("/").get_data(as_text=True))


@pytest.mark.parametrize("url", ["/?page=3", "/?page=99999999999999999999", "/?language=en&page=2",
                                 "/?language=xx&page=2", "/cases?page=3", "/cases/port-cold-chain?page=3",
                                 "/cases/nope?page=2"])
def test_pages_past_the_last_are_404(client, many, url):
    assert client.get(url).status_code == 404


def test_empty_lists_have_a_page_1(client, synced):
    """Page 1 of an empty result is the usual empty list, without a pager; page 2 does not exist."""
    page = client.get("/?language=xx", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "No course matches these filters." in page and 'class="pagination"' not in page
    assert client.get("/?language=xx&page=2").status_code == 404
    assert client.get("/?page=2").status_code == 404 and client.get("/cases?page=2").status_code == 404
    assert 'class="pagination"' not in client.get("/cases/port-cold-chain").get_data(as_text=True)


def test_cases_are_paginated(client, many):
    everything = [c.slug for c in svc.public_cases(per_page=1000).rows]
    slugs = lambda html: re.findall(r'<h3><a href="/cases/([^"/]+)"', html)  # noqa: E731
    first, second = (client.get(url).get_data(as_text=True) for url in ("/cases", "/cases?page=2"))
    assert len(everything) == 31 and slugs(first) == everything[:24] and slugs(second) == everything[24:]
    assert _pager_links(first) == {"next": "/cases?page=2"} and _pager_links(second) == {"prev": "/cases"}


def test_case_courses_are_paginated(client, many):
    case, single = svc.public_case("port-cold-chain", per_page=1000)
    everything = [c.slug for c in single.rows]
    first = client.get("/cases/port-cold-chain").get_data(as_text=True)
    second = client.get("/cases/port-cold-chain?page=2").get_data(as_text=True)
    assert len(everything) == 31 and _course_slugs(first) == everything[:24] and _course_slugs(second) == everything[24:]
    assert _pager_links(first) == {"next": "/cases/port-cold-chain?page=2"}
    assert _pager_links(second) == {"prev": "/cases/port-cold-chain"}
    assert "冷库的温度数据每五分钟上报一次。" in second  # the case itself is on every page


PAGED = ["/", "/?page=2", "/?industry=logistics&page=2", "/cases", "/cases?page=2", "/cases/port-cold-chain",
         "/cases/port-cold-chain?page=2"]


def test_paginated_pages_run_a_constant_number_of_queries(client, many, count_queries):
    """Neither the number of courses and cases nor the page number changes the query count."""
    def counts():
        result = {}
        for url in PAGED:  # the first request for each URL since the sync: nothing comes from the cache
            with count_queries() as counter:
                assert client.get(url).status_code == 200, url
            result[url] = counter.count
        return result

    small = counts()
    _many(many, 60, cases=60, start=30)  # 92 courses and 91 cases: four pages each
    assert counts() == small
    assert small["/"] == small["/?page=2"] and small["/cases"] == small["/cases?page=2"]
    assert small["/cases/port-cold-chain"] == small["/cases/port-cold-chain?page=2"]
