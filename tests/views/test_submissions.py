"""Handing in work and grading it through the pages, on both databases."""
from __future__ import annotations

import io
import re
import zipfile
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from lms.extensions import db
from lms.models import Attempt, AttemptFile, Grade, GradeEvent, RegradeRequest
from tests.conftest import csrf_token, login

SUBMIT = "/courses/py-data/assignments/final-project/submit"


def make_zip(entries: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in (entries or {"report/README.md": "# 周报\n".encode()}).items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2026, 11, 25, 8, 0, 0)), data)  # same bytes every call
    return buffer.getvalue()


@pytest.fixture
def site(synced, client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return synced


@pytest.fixture
def mentor(site, make_user):
    return make_user("mentor", email="mentor@example.com", name="Mentor Chen")


@pytest.fixture
def student(site, client, make_user):
    user = make_user("student", email="s@example.com", name="学生 王")
    login(client, "s@example.com")
    client.post("/courses/py-data/enroll", data={"csrf_token": csrf_token(client)})
    return user


def hand_in(client, *, files=(), text="", repo_url="", token=None):
    data = {"csrf_token": token or csrf_token(client, SUBMIT), "text": text, "repo_url": repo_url,
            "files": [(io.BytesIO(content), name) for name, content in files]}
    return client.post(SUBMIT, data=data, content_type="multipart/form-data")


def stored_files(app) -> list:
    root = app.config["LMS_UPLOAD_DIR"]
    import os
    found = []
    for folder, _dirs, names in os.walk(root):
        found += [os.path.join(folder, n) for n in names]
    return found


def test_student_hands_in_a_zip_and_text_and_sees_the_attempt(client, student, app):
    """A submission is stored as attempt 1 with its file, text and the brief's hash."""
    response = hand_in(client, files=[("周报.zip", make_zip())], text="**结论**：本周超标 3 次")
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Location"].endswith("/attempts/1")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "周报.zip" in page and "<strong>结论</strong>" in page
    attempt = db.session.scalar(select(Attempt))
    assert attempt.number == 1 and attempt.latest and len(attempt.brief_hash) == 64
    assert attempt.files[0].size == len(make_zip())


def test_resubmitting_numbers_attempts_and_keeps_them_all(client, student):
    """Every submission is kept as a numbered attempt; only the newest is 'latest'."""
    assert hand_in(client, text="first").status_code == 302
    assert hand_in(client, text="second").status_code == 302
    rows = db.session.execute(select(Attempt.number, Attempt.latest, Attempt.text).order_by(Attempt.number)).all()
    assert [tuple(r) for r in rows] == [(1, False, "first"), (2, True, "second")]


@pytest.mark.parametrize("name, content, message", [
    ("report.exe", b"MZ\x90\x00" + b"\x00" * 100, "not accepted"),
    ("report.pdf", b"MZ\x90\x00" + b"\x00" * 100, "is a program"),
    ("report.zip", make_zip({"../../evil.sh": b"echo hi"}), "leaves the archive"),
])
def test_bad_files_get_a_clear_message_and_leave_nothing(client, student, app, name, content, message):
    """Wrong type, renamed executables and zip slip are refused; no row and no stored file remain."""
    response = hand_in(client, files=[(name, content)])
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Attempt.id))) == 0
    assert stored_files(app) == []


def test_too_many_files_are_refused(client, student, app):
    """max_files is enforced."""
    response = hand_in(client, files=[(f"r{i}.zip", make_zip()) for i in range(3)])
    assert response.status_code == 400
    assert "Too many files" in response.get_data(as_text=True)
    assert stored_files(app) == []


def test_oversize_request_gets_a_clear_message(client, student, app):
    """A request above MAX_CONTENT_LENGTH answers 413 with a readable page and stores nothing."""
    token = csrf_token(client, SUBMIT)
    app.config["MAX_CONTENT_LENGTH"] = 50_000
    response = hand_in(client, files=[("big.zip", make_zip({"a.bin": b"x" * 200_000}) + b"\0" * 60_000)],
                       token=token)
    assert response.status_code == 413
    assert "larger than the limit" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Attempt.id))) == 0


def test_repo_url_must_be_http(client, student):
    """Only http(s) links are taken; they are shown as links, never fetched."""
    response = hand_in(client, repo_url="javascript:alert(1)")
    assert response.status_code == 400 and "https://" in response.get_data(as_text=True)
    assert hand_in(client, repo_url="https://gitee.com/s/project").status_code == 302
    page = client.get("/courses/py-data/assignments/final-project/attempts/1").get_data(as_text=True)
    assert 'href="https://gitee.com/s/project"' in page


def test_text_is_sanitized(client, student):
    """Student Markdown goes through the same sanitizer as lessons."""
    hand_in(client, text='<script>alert(1)</script><img src=x onerror=alert(1)>[x](javascript:alert(1))')
    html = db.session.scalar(select(Attempt.text_html))
    assert "<script" not in html and "onerror" not in html and "javascript:" not in html


def test_students_never_see_each_others_work(client, student, make_user, app):
    """Another student gets 404 for the attempt page and for its files."""
    hand_in(client, files=[("a.zip", make_zip())])
    file = db.session.scalar(select(AttemptFile))
    other = app.test_client()
    other.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    make_user("student", email="other@example.com")
    login(other, "other@example.com")
    other.post("/courses/py-data/enroll", data={"csrf_token": csrf_token(other)})
    assert other.get("/courses/py-data/assignments/final-project/attempts/1").status_code == 404
    assert other.get(f"/attempts/{file.attempt_id}/files/{file.id}").status_code == 404
    assert other.get(f"/grading/attempts/{file.attempt_id}").status_code == 404


def test_files_download_as_attachments(client, student):
    """Downloads are attachments with nosniff and a sandboxing CSP."""
    hand_in(client, files=[("周报.zip", make_zip())])
    file = db.session.scalar(select(AttemptFile))
    response = client.get(f"/attempts/{file.attempt_id}/files/{file.id}")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.data == make_zip()


def grade_page(client, attempt_id):
    return client.get(f"/grading/attempts/{attempt_id}").get_data(as_text=True)


def form_version(page: str) -> str:
    return re.search(r'name="version" type="hidden" value="(\d+)"', page).group(1)


def test_mentor_grades_releases_and_student_sees_it_then_regrade(client, student, mentor, app):
    """The whole loop: grade with the rubric, release, student sees it, asks for a regrade, answered."""
    hand_in(client, files=[("a.zip", make_zip())], text="done")
    attempt = db.session.scalar(select(Attempt))
    student_page = f"/courses/py-data/assignments/final-project/attempts/{attempt.number}"
    mentor_client = app.test_client()
    mentor_client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    login(mentor_client, "mentor@example.com")
    queue = mentor_client.get("/grading/").get_data(as_text=True)
    assert "学生 王" in queue and "Not graded" in queue
    page = grade_page(mentor_client, attempt.id)
    response = mentor_client.post(f"/grading/attempts/{attempt.id}", data={
        "csrf_token": csrf_token(mentor_client, f"/grading/attempts/{attempt.id}"), "version": form_version(page),
        "level_0": "1", "level_1": "0", "comment_0": "变量命名可以更清楚", "feedback": "**不错**", "draft": "1"})
    assert response.status_code == 302
    assert "Not graded yet" in client.get(student_page).get_data(as_text=True)  # drafts stay hidden
    page = grade_page(mentor_client, attempt.id)
    response = mentor_client.post(f"/grading/attempts/{attempt.id}", data={
        "csrf_token": csrf_token(mentor_client, f"/grading/attempts/{attempt.id}"), "version": form_version(page),
        "level_0": "1", "level_1": "0", "comment_0": "变量命名可以更清楚", "feedback": "**不错**", "release": "1"})
    assert response.status_code == 302
    mine = client.get(student_page).get_data(as_text=True)
    assert "<strong>7</strong> / 10" in mine and "<strong>不错</strong>" in mine and "变量命名可以更清楚" in mine
    response = client.post(f"{student_page}/regrade", data={
        "csrf_token": csrf_token(client, student_page), "criterion": "0", "reason": "我写了单元测试"})
    assert response.status_code == 302
    again = client.post(f"{student_page}/regrade", data={
        "csrf_token": csrf_token(client, student_page), "criterion": "0", "reason": "again"})
    db.session.rollback()  # a new read snapshot
    assert again.status_code == 302
    assert db.session.scalar(select(func.count(RegradeRequest.id))) == 1
    request = db.session.scalar(select(RegradeRequest))
    page = grade_page(mentor_client, attempt.id)
    assert "我写了单元测试" in page
    response = mentor_client.post(f"/grading/regrades/{request.id}", data={
        "csrf_token": csrf_token(mentor_client, f"/grading/attempts/{attempt.id}"),
        f"r{request.id}-version": re.search(rf'name="r{request.id}-version" type="hidden" value="(\d+)"', page).group(1),
        f"r{request.id}-decision": "accept", f"r{request.id}-new_level": "0", f"r{request.id}-response": "同意"})
    assert response.status_code == 302
    db.session.rollback()
    grade = db.session.scalar(select(Grade))
    assert grade.score == 10 and grade.released
    mine = client.get(student_page).get_data(as_text=True)
    assert "<strong>10</strong> / 10" in mine and "同意" in mine
    actions = db.session.scalars(select(GradeEvent.action).order_by(GradeEvent.id)).all()
    assert actions == ["draft_saved", "released", "regrade_requested", "regrade_accepted"]


def test_a_stale_grade_form_is_refused_and_keeps_the_typed_text(client, student, mentor, app):
    """Two mentors open the same attempt; the second save is refused with its text kept."""
    hand_in(client, text="done")
    attempt = db.session.scalar(select(Attempt))
    url = f"/grading/attempts/{attempt.id}"
    first, second = app.test_client(), app.test_client()
    for c in (first, second):
        c.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
        login(c, "mentor@example.com")
    v1, v2 = form_version(grade_page(first, attempt.id)), form_version(grade_page(second, attempt.id))
    ok = first.post(url, data={"csrf_token": csrf_token(first, url), "version": v1, "level_0": "0",
                               "level_1": "0", "feedback": "first mentor", "draft": "1"})
    assert ok.status_code == 302
    stale = second.post(url, data={"csrf_token": csrf_token(second, url), "version": v2, "level_0": "1",
                                   "level_1": "1", "feedback": "my careful second feedback", "draft": "1"})
    assert stale.status_code == 409
    page = stale.get_data(as_text=True)
    assert "Someone else saved this grade" in page and "my careful second feedback" in page
    db.session.rollback()
    assert db.session.scalar(select(Grade.feedback)) == "first mentor"


def test_late_work_gets_the_penalty(client, student, mentor, app, monkeypatch):
    """Work received one second after the deadline is one day late: 10% off the score."""
    from lms.services import submissions
    late = datetime(2027, 1, 16, 0, 0, 0, tzinfo=timezone.utc).replace(tzinfo=None)
    monkeypatch.setattr(submissions, "utcnow", lambda: datetime(2027, 1, 15, 16, 0, 0, tzinfo=timezone.utc))
    assert late
    hand_in(client, text="late work")
    attempt = db.session.scalar(select(Attempt))
    assert attempt.late_days == 1 and attempt.penalty_percent == 10


def test_a_file_name_in_an_error_message_is_escaped(client, student):
    """A crafted file name echoed in a refusal is shown as text, never as HTML."""
    response = hand_in(client, files=[("<img src=x onerror=alert(1)>.exe", b"MZ\x90\x00" + b"\x00" * 100)])
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_zip_folder_names_cannot_leave_the_archive():
    """A student's e-mail address (which may hold '..' and backslashes) becomes one plain folder name."""
    from types import SimpleNamespace

    from lms.services.gradebook import _entry_name

    name = _entry_name(SimpleNamespace(email="..\\..\\x@y.co"), SimpleNamespace(number=2), "../a.zip")
    folder, rest = name.split("/", 1)
    assert rest == "attempt-2/a.zip"
    assert "\\" not in folder and not folder.startswith(".") and ".." not in name.split("/")


# --- The upload's statements and its standing (enrollment, extension) ---------------------------

def test_an_upload_reads_its_standing_once_and_nothing_back_after_the_write(client, student, count_queries):
    """One statement for the course and assignment, one for enrollment and extension, then the write:
    the previous attempt unmarked (giving its number), the attempt and its file inserted. Nothing is
    read again after the commit, not even for the redirect."""
    assert hand_in(client, text="first").status_code == 302
    token = csrf_token(client, SUBMIT)
    with count_queries() as counted:
        response = hand_in(client, files=[("r.zip", make_zip())], text="second", token=token)
    assert response.status_code == 302 and response.headers["Location"].endswith("/attempts/2")
    kinds = [" ".join(s.split()[:3]) for s in counted.statements if not s.lstrip().startswith("SELECT users")]
    assert len(kinds) == 5, counted.statements
    assert kinds[-3].startswith("UPDATE attempts") and kinds[-2:] == ["INSERT INTO attempts", "INSERT INTO attempt_files"]
    rows = db.session.execute(select(Attempt.number, Attempt.latest).order_by(Attempt.number)).all()
    assert [tuple(r) for r in rows] == [(1, False), (2, True)]


def test_numbers_follow_the_highest_attempt_even_without_a_latest_one(client, student):
    """Should no attempt be marked latest, the next number still follows the highest one."""
    assert hand_in(client, text="one").status_code == 302
    assert hand_in(client, text="two").status_code == 302
    db.session.execute(Attempt.__table__.update().values(latest=False))
    db.session.commit()
    response = hand_in(client, text="three")
    assert response.status_code == 302 and response.headers["Location"].endswith("/attempts/3")
    rows = db.session.execute(select(Attempt.number, Attempt.latest).order_by(Attempt.number)).all()
    assert [tuple(r) for r in rows] == [(1, False), (2, False), (3, True)]


def test_work_is_refused_before_enrolling(client, site, make_user, app):
    """A student who did not enroll is told so; nothing is stored."""
    make_user("student", email="new@example.com")
    login(client, "new@example.com")
    assert "Enroll in the course before handing in work." in client.get(SUBMIT).get_data(as_text=True)
    response = hand_in(client, files=[("a.zip", make_zip())])
    assert response.status_code == 400 and "Enroll in the course" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Attempt.id))) == 0
    assert [f for f in stored_files(app) if "/objects/" in f] == []


def test_an_extension_moves_the_due_time_on_the_pages_and_for_lateness(client, student, mentor, monkeypatch):
    """With a two-day extension, work received a day after the brief's due time is on time."""
    from lms.models import Assignment
    from lms.services import submissions

    assignment = db.session.scalar(select(Assignment).where(Assignment.slug == "final-project"))
    due = assignment.due_at
    extended = due + timedelta(days=2)
    submissions.grant_extension(mentor, assignment, "s@example.com", extended, "病假")
    for page in (SUBMIT, "/courses/py-data/assignments/final-project"):
        text = client.get(page).get_data(as_text=True)
        assert "Extended for you" in text or "Your due time was extended" in text, page
    monkeypatch.setattr(submissions, "utcnow", lambda: due + timedelta(days=1))
    assert hand_in(client, text="on time after all").status_code == 302
    db.session.rollback()  # a new read snapshot
    attempt = db.session.scalar(select(Attempt))
    assert (attempt.due_at, attempt.late_days, attempt.penalty_percent) == (extended, 0, 0)
