"""Every page of the load benchmark runs the same number of SQL statements at two scales of the seed.

The database is seeded with ``flask dev seed``'s service at a small scale (25 students, 2 courses
of 2 lessons, 500 attempts) and then, wiped, at a scale 50 times larger (1,250 students, 5 courses
of 25 lessons, 25,000 attempts, 25,000 audit entries), on SQLite and on PostgreSQL. The larger
database fills every list the pages show (a queue page of 50 rows, a gradebook page of 100
students, a dashboard of five courses), so a statement per row or per course would show.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass

from sqlalchemy import delete, select

from lms.extensions import db
from lms.models import Attempt, Enrollment, User
from lms.services import seed
from tests.conftest import login

SMALL, LARGE = 0.005, 0.25


@dataclass(frozen=True)
class Page:
    name: str
    role: str | None  # who asks: None for an anonymous visitor
    url: str
    method: str = "GET"
    status: int = 200


def pages(report: seed.Report) -> list[Page]:
    """The benchmark's pages (bench/load_bench.py), plus the course and assignment pages."""
    t = report.targets
    submit = f"/courses/{t['student_course']}/assignments/{t['student_assignment']}/submit"
    return [
        Page("catalog", None, "/"),
        Page("course page", None, f"/courses/{t['course']}"),
        Page("lesson page (public)", None, f"/courses/{t['course']}/lessons/{t['lesson']}"),
        Page("lesson page (student)", "student", f"/courses/{t['student_course']}/lessons/{t['student_lesson']}"),
        Page("assignment page (student)", "student",
             f"/courses/{t['student_course']}/assignments/{t['student_assignment']}"),
        Page("student dashboard", "student", "/dashboard"),
        Page("submission form", "student", submit),
        Page("submission upload", "student", submit, "POST", 302),
        Page("grading queue", "mentor", "/grading/"),
        Page("gradebook", "mentor", f"/grading/courses/{t['gradebook_course']}/gradebook"),
        Page("auditor: audit log", "auditor", "/audit/log"),
        Page("auditor: course versions", "auditor", f"/audit/course/{t['audit_course_id']}/versions"),
        Page("auditor: course review", "auditor", f"/audit/courses/{t['audit_course']}"),
        Page("admin: audit log", "admin", "/admin/audit"),
    ]


def _token(client, url: str) -> str:
    page = client.get(url).get_data(as_text=True)
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)
    assert match, f"no CSRF token on {url}"
    return match.group(1)


def _form(client, page: Page, n: int) -> dict | None:
    """What a student hands in: a written answer and one small Markdown file (None for a GET)."""
    if page.method == "GET":
        return None
    return {"csrf_token": _token(client, page.url), "text": f"第 {n} 次 attempt {n}", "repo_url": "",
            "files": (io.BytesIO(f"# 报告 Report {n}\n\n".encode() * 40), "report.md")}


def _request(client, page: Page, form: dict | None):
    if form is None:
        return client.get(page.url)
    return client.post(page.url, data=form, content_type="multipart/form-data")


def measure(app, count_queries, tmp_path, scale: float) -> tuple[dict[str, int], seed.Report]:
    """Seed at ``scale`` and count the statements of a second request to every page (the first
    one warms up and may write, e.g. the lesson a student last opened)."""
    report = seed.seed(seed.Plan.for_scale(scale), tmp_path / f"content-{scale}")
    clients = {None: app.test_client()}
    for role, email in report.logins.items():
        clients[role] = app.test_client()
        assert login(clients[role], email, report.password).status_code == 302, role
    for client in clients.values():
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    counts = {}
    for page in pages(report):
        if page.url == "/audit/log" and "audit.log" not in app.view_functions:
            continue  # the auditors' log page is newer than this test
        client = clients[page.role]
        for n in range(2):
            form = _form(client, page, n)
            with count_queries() as counter:
                response = _request(client, page, form)
                response.get_data()
            assert response.status_code == page.status, (page, response.get_data(as_text=True)[:500])
        counts[page.name] = counter.count
    return counts, report


def wipe() -> None:
    """Delete every row, children first, so the next seed starts from an empty database."""
    db.session.rollback()
    for table in reversed(db.metadata.sorted_tables):
        db.session.execute(delete(table))
    db.session.commit()


def test_every_benchmarked_page_runs_as_many_queries_at_a_50_times_larger_scale(app, count_queries, tmp_path):
    small, report = measure(app, count_queries, tmp_path, SMALL)
    student = db.session.scalar(select(User.id).where(User.email == report.logins["student"]))
    small_courses = db.session.query(Enrollment).filter_by(user_id=student).count()
    wipe()
    large, report = measure(app, count_queries, tmp_path, LARGE)
    student = db.session.scalar(select(User.id).where(User.email == report.logins["student"]))
    # The larger database does show more: more courses on the dashboard, full pages of attempts.
    assert db.session.query(Enrollment).filter_by(user_id=student).count() > small_courses
    assert db.session.query(Attempt).filter_by(latest=True).count() > 1000
    print(f"statements per request at scale {SMALL} and {LARGE}:", {n: (small[n], large[n]) for n in small})
    grown = {name: (small[name], large[name]) for name in small if small[name] != large[name]}
    assert not grown, f"statements per request grew with the data (small, large): {grown}"
    assert set(small) == set(large)
