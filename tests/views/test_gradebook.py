"""Mentors' views over many attempts: the grading queue, gradebook, CSV and zip exports, extensions.

Everything runs on both databases. The query-count test grows one database from 100 to
10,000 attempts, seeded with bulk inserts (``seed_attempts``), and checks that no page or
export runs more statements at the larger size.
"""
from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, insert, select, update

from lms.db_setup import begin_write
from lms.extensions import db
from lms.models import Assignment, Attempt, AttemptFile, Course, Enrollment, Extension, Grade, RegradeRequest, User
from lms.models.submissions import GRADING_STATES
from lms.services import gradebook, grading, learning, submissions
from lms.services.content import sync_tree
from lms.services.storage import StoredFile, get_storage
from tests import factories
from tests.conftest import csrf_token, login, write_content
from tests.samples import ASSIGNMENT, valid_tree
from tests.views.test_submissions import hand_in, make_zip, mentor, student  # noqa: F401  (fixtures)

COURSE = "py-data"
QUEUE = "/grading/"
GRADEBOOK = f"/grading/courses/{COURSE}/gradebook"
CSV_URL = f"/grading/courses/{COURSE}/gradebook.csv"
ZIP_URL = f"/grading/courses/{COURSE}/assignments/final-project/attempts.zip"
EXTENSIONS = f"/grading/courses/{COURSE}/assignments/final-project/extensions"
SHANGHAI = timezone(timedelta(hours=8))

OTHER_COURSE = """\
---
title: 机器学习运维
summary: 另一门课，另一位导师。
language: zh-CN
mentors:
  - other-mentor@example.com
---
另一门课。
"""

OTHER_LESSON = """\
---
title: 第一课
---
# 第一课
"""


@pytest.fixture
def site(app, content_dir, client):
    """The sample tree plus a second assignment (midterm) and a second course with another mentor."""
    tree = valid_tree()
    tree["courses/py-data/assignments/midterm.md"] = (
        ASSIGNMENT.replace("title: 期末项目", "title: 期中作业")
        .replace("due: 2027-01-15T23:59:00+08:00", "due: 2026-11-15T23:59:00+08:00"))
    tree["courses/ml-ops/course.md"] = OTHER_COURSE
    tree["courses/ml-ops/lessons/01-intro.md"] = OTHER_LESSON
    write_content(content_dir, tree)
    assert sync_tree(content_dir).errors == []
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return content_dir


def assignment_named(slug: str) -> Assignment:
    return db.session.scalar(select(Assignment).join(Course, Course.id == Assignment.course_id)
                             .where(Course.slug == COURSE, Assignment.slug == slug))


def the_course() -> Course:
    return db.session.scalar(select(Course).where(Course.slug == COURSE))


def signed_in(app, email: str):
    """A fresh client, in English, signed in as ``email``."""
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    login(client, email)
    return client


def put_bytes(data: bytes) -> StoredFile:
    """Place ``data`` in the app's storage the way an upload gets there."""
    incoming = get_storage().new_temp("f.bin")
    incoming.write(data)
    return get_storage().put(incoming)


@dataclass
class Upload:
    """An uploaded file as the submit service takes it (name and streamed temporary file)."""

    filename: str
    data: bytes

    @property
    def stream(self):
        if not hasattr(self, "_stream"):
            self._stream = get_storage().new_temp(self.filename)
            self._stream.write(self.data)
        return self._stream


def bare_student(name: str, email: str, course: Course | None = None) -> User:
    """A student row without the cost of password hashing, enrolled in ``course`` if given."""
    user = User(email=email, name=name, role="student", password_hash="!")
    db.session.add(user)
    db.session.commit()
    if course is not None:
        learning.enroll(user, course)
    return user


# --- Bulk seeding ------------------------------------------------------------------------------

def _levels(rubric: list[dict], chosen: list[int]) -> list[dict]:
    return [{"criterion": c["criterion"], "level": i, "points": str(c["levels"][i]["points"]),
             "label": c["levels"][i]["label"], "comment": ""} for c, i in zip(rubric, chosen)]


def seed_attempts(assignment: Assignment, grader: User, files: list[StoredFile], start: int, stop: int,
                  *, attempts_each: int = 2) -> None:
    """Enroll students ``start``..``stop - 1`` and give each ``attempts_each`` attempts, with bulk inserts.

    Only the last attempt of a student is ``latest``. Every attempt has one file (``files`` in
    turn, so many rows share a hash); earlier attempts carry a released grade; the latest is,
    by student number, ungraded, a draft, or released (two in four). Every seventh student
    handed in one day late with the 10% penalty. Times rise with the student number.
    """
    rubric = assignment.rubric
    begin_write()
    users = [{"email": f"bulk{i:05d}@example.com", "name": f"学生 {i:05d}", "role": "student",
              "password_hash": "!"} for i in range(start, stop)]
    user_ids = db.session.scalars(insert(User).returning(User.id, sort_by_parameter_order=True), users).all()
    db.session.execute(insert(Enrollment), [{"user_id": uid, "course_id": assignment.course_id}
                                            for uid in user_ids])
    base = assignment.due_at - timedelta(days=20)
    attempts = []
    for i, uid in zip(range(start, stop), user_ids):
        late = i % 7 == 6
        for number in range(1, attempts_each + 1):
            last = number == attempts_each
            at = (assignment.due_at + timedelta(hours=1, seconds=i) if late and last
                  else base + timedelta(seconds=i * 10 + number))
            attempts.append({"assignment_id": assignment.id, "course_id": assignment.course_id, "user_id": uid,
                             "number": number, "submitted_at": at, "text": f"第 {number} 次提交",
                             "text_html": f"<p>第 {number} 次提交</p>", "brief_hash": assignment.content_hash,
                             "brief_version": assignment.version, "due_at": assignment.due_at,
                             "late_days": 1 if late and last else 0,
                             "penalty_percent": Decimal(10) if late and last else Decimal(0), "latest": last})
    attempt_ids = db.session.scalars(insert(Attempt).returning(Attempt.id, sort_by_parameter_order=True),
                                     attempts).all()
    db.session.execute(insert(AttemptFile), [
        {"attempt_id": aid, "position": 0, "filename": f"report-{row['number']}.zip",
         "content_hash": files[k % len(files)].content_hash, "size": files[k % len(files)].size}
        for k, (aid, row) in enumerate(zip(attempt_ids, attempts))])
    grades = []
    for k, (aid, row) in enumerate(zip(attempt_ids, attempts)):
        student_no = start + k // attempts_each
        kind = "released" if not row["latest"] else ("none", "draft", "released", "released")[student_no % 4]
        if kind == "none":
            continue
        chosen = [k % 2, (k // 2) % 2]
        raw, final = grading.score(rubric, chosen, row["penalty_percent"])
        at = row["submitted_at"] + timedelta(days=1)
        grades.append({"attempt_id": aid, "status": kind, "levels": _levels(rubric, chosen),
                       "feedback": "整体不错", "feedback_html": "<p>整体不错</p>", "raw_score": raw,
                       "penalty_percent": row["penalty_percent"], "score": final, "points": assignment.points,
                       "rubric_hash": assignment.content_hash, "rubric_version": assignment.version,
                       "grader_id": grader.id, "updated_at": at,
                       "released_at": at if kind == "released" else None, "version": 1})
    db.session.execute(insert(Grade), grades)
    # Bulk inserts skip lms.services.grading, which keeps each attempt's place in the queue: set it here.
    for kind in ("draft", "released"):
        ids = [g["attempt_id"] for g in grades if g["status"] == kind]
        for at in range(0, len(ids), 500):
            db.session.execute(update(Attempt).where(Attempt.id.in_(ids[at:at + 500]))
                               .values(grading_state=GRADING_STATES[kind]))
    db.session.commit()


def measure(client, count_queries, url: str) -> tuple[int, bytes]:
    """Statements run to answer ``url``, the whole (streamed) body read inside the count, and the body."""
    with count_queries() as counter:
        response = client.get(url)
        body = response.get_data()
    assert response.status_code == 200, (url, body[:500])
    return counter.count, body


def test_pages_and_exports_run_the_same_queries_at_100_and_10000_attempts(app, site, mentor, count_queries,
                                                                           monkeypatch):
    """Queue, gradebook, attempt page, CSV and zip: no statement more at 10,000 attempts than at 100."""
    # The exports read students and attempts in keyset chunks of gradebook.CHUNK rows, which is
    # a few statements per chunk by design; one chunk covering everything isolates per-row queries.
    monkeypatch.setattr(gradebook, "CHUNK", 10_000)
    assignment = assignment_named("final-project")
    files = [put_bytes(make_zip({f"r{n}.py": f"print({n})\n".encode()})) for n in range(3)]
    # 100 attempts from 20 students: fewer rows than a queue or gradebook page holds, so that a
    # query per shown row would make the larger measurement differ.
    seed_attempts(assignment, mentor, files, 0, 20, attempts_each=5)
    first = db.session.scalar(select(Attempt.id).where(Attempt.latest.is_(True)).order_by(Attempt.id))
    urls = [QUEUE, f"{QUEUE}?assignment={COURSE}/final-project&status=released", GRADEBOOK,
            f"/grading/attempts/{first}", CSV_URL, ZIP_URL]
    client = signed_in(app, "mentor@example.com")
    small = {url: measure(client, count_queries, url)[0] for url in urls}
    assert db.session.scalar(select(func.count(Attempt.id))) == 100

    seed_attempts(assignment, mentor, files, 20, 4970)
    assert db.session.scalar(select(func.count(Attempt.id))) == 10_000
    large, bodies = {}, {}
    for url in urls:
        large[url], bodies[url] = measure(client, count_queries, url)
    assert large == small
    assert bodies[CSV_URL].count(b"\n") == 1 + 4970  # the header and every student: all of it was streamed
    assert len(zipfile.ZipFile(io.BytesIO(bodies[ZIP_URL])).namelist()) == 2 * 4970


# --- CSV export -------------------------------------------------------------------------------

def graded(actor: User, attempt: Attempt, levels: list[int], *, release: bool = True) -> Grade:
    """Grade ``attempt`` through the grading service, from whatever version it is at now."""
    version = attempt.grade.version if attempt.grade else 0
    return grading.save_grade(actor, attempt, grading.Marks(levels, ["", ""], "评语"), release=release,
                              expected_version=version)


def read_csv(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def test_csv_is_utf8_with_bom_released_scores_late_marks_and_safe_names(app, site, mentor):
    """Excel-ready CSV: BOM, Chinese intact, released scores only, late marked, formulas neutralised."""
    course, final = the_course(), assignment_named("final-project")
    due = final.due_at
    wang = bare_student("王小明", "wang@example.com", course)
    li = bare_student("李雷", "li@example.com", course)
    han = bare_student("韩梅梅", "han@example.com", course)
    formula = bare_student('=HYPERLINK("http://evil.example/","点我")', "formula@example.com", course)
    bare_student("没交作业", "idle@example.com", course)
    graded(mentor, submissions.submit(wang, final, text="报告", now=due - timedelta(days=1)), [1, 0])  # 7
    graded(mentor, submissions.submit(li, final, text="草稿", now=due - timedelta(days=1)), [0, 0], release=False)
    graded(mentor, submissions.submit(han, final, text="迟交", now=due + timedelta(hours=2)), [0, 0])  # 10 - 10%
    graded(mentor, submissions.submit(formula, final, text="x", now=due - timedelta(days=1)), [1, 1])  # 3

    response = signed_in(app, "mentor@example.com").get(CSV_URL)
    body = response.get_data()

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="py-data-gradebook.csv"'
    assert body.startswith(b"\xef\xbb\xbf") and not body.startswith(b"\xef\xbb\xbf\xef\xbb\xbf")
    header, *rows = read_csv(body)
    assert header == ["Name", "E-mail", "期中作业 (10)", "期末项目 (10)", "Total"]
    by_email = {row[1]: row for row in rows}
    assert len(rows) == 5
    assert by_email["wang@example.com"] == ["王小明", "wang@example.com", "", "7", "7"]
    assert by_email["li@example.com"] == ["李雷", "li@example.com", "", "", "0"]  # the draft 10 stays hidden
    assert by_email["han@example.com"] == ["韩梅梅", "han@example.com", "", "9 (late)", "9"]
    assert by_email["formula@example.com"][0] == '\'=HYPERLINK("http://evil.example/","点我")'
    assert by_email["idle@example.com"] == ["没交作业", "idle@example.com", "", "", "0"]


def test_csv_shows_the_released_score_while_a_newer_attempt_waits(app, site, mentor):
    """A resubmission graded only as a draft does not replace the released score of the earlier attempt."""
    course, final = the_course(), assignment_named("final-project")
    wang = bare_student("王小明", "wang@example.com", course)
    graded(mentor, submissions.submit(wang, final, text="一", now=final.due_at - timedelta(days=3)), [1, 1])  # 3
    second = submissions.submit(wang, final, text="二", now=final.due_at - timedelta(days=2))
    graded(mentor, second, [0, 0], release=False)

    _header, row = read_csv(signed_in(app, "mentor@example.com").get(CSV_URL).get_data())

    assert row == ["王小明", "wang@example.com", "", "3", "3"]


def test_csv_neutralises_an_email_that_starts_with_a_formula(app, site, mentor, make_user):
    """A self-chosen e-mail address that starts with '=' cannot become a spreadsheet formula."""
    learning.enroll(make_user("student", email="=1+2@example.com", name="学生"), the_course())

    _header, row = read_csv(signed_in(app, "mentor@example.com").get(CSV_URL).get_data())

    assert not row[1].startswith("=")


# --- Zip export -------------------------------------------------------------------------------

PDF = b"%PDF-1.4\n% \xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def test_zip_holds_each_students_latest_attempt_byte_for_byte(app, site, client, student, mentor):
    """Per student: the latest attempt's files (identical bytes) and submission.md; no earlier attempt."""
    first_zip = make_zip({"v1/main.py": b"print(1)\n"})
    final_zip = make_zip({"v2/main.py": "print('终稿')\n".encode()})
    assert hand_in(client, files=[("初稿.zip", first_zip)], text="first try").status_code == 302
    assert hand_in(client, files=[("终稿.zip", final_zip), ("报告.pdf", PDF)], text="**最终**版本",
                   repo_url="https://gitee.com/s/project").status_code == 302
    other = bare_student("李雷", "li@example.com", the_course())
    submissions.submit(other, assignment_named("final-project"), repo_url="https://example.com/li/repo")
    submissions.submit(other, assignment_named("midterm"), text="期中")  # another assignment: not in this zip

    response = signed_in(app, "mentor@example.com").get(ZIP_URL)
    archive = zipfile.ZipFile(io.BytesIO(response.get_data()))

    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert response.headers["Content-Disposition"] == 'attachment; filename="py-data-final-project-attempts.zip"'
    assert archive.testzip() is None
    assert sorted(archive.namelist()) == sorted([
        "li@example.com/attempt-1/submission.md",
        "s@example.com/attempt-2/submission.md",
        "s@example.com/attempt-2/终稿.zip",
        "s@example.com/attempt-2/报告.pdf",
    ])
    assert archive.read("s@example.com/attempt-2/终稿.zip") == final_zip
    assert archive.read("s@example.com/attempt-2/报告.pdf") == PDF
    summary = archive.read("s@example.com/attempt-2/submission.md").decode()
    assert summary.startswith("# 学生 王 <s@example.com>")
    assert "attempt 2" in summary and "**最终**版本" in summary and "https://gitee.com/s/project" in summary
    assert "first try" not in summary
    assert "https://example.com/li/repo" in archive.read("li@example.com/attempt-1/submission.md").decode()


# --- Grading queue ----------------------------------------------------------------------------

ATTEMPT_LINK = re.compile(r'href="/grading/attempts/(\d+)"')


def queue_ids(client, query: str = "") -> list[int]:
    response = client.get(QUEUE + query)
    assert response.status_code == 200
    return [int(n) for n in ATTEMPT_LINK.findall(response.get_data(as_text=True))]


@pytest.fixture
def queue_mix(site, mentor):
    """Latest attempts in every state, handed in an hour apart in a shuffled order, by name."""
    course, final, midterm = the_course(), assignment_named("final-project"), assignment_named("midterm")
    start = final.due_at - timedelta(days=10)

    def hand(name: str, hour: int, assignment: Assignment = final) -> Attempt:
        user = db.session.scalar(select(User).where(User.name == name)) or bare_student(
            name, f"{name}@example.com", course)
        return submissions.submit(user, assignment, text=name, now=start + timedelta(hours=hour))

    graded(mentor, hand("ungraded-a", 0), [0, 0])  # an earlier, graded attempt: not in the queue
    attempts = {"midterm": hand("midterm", -5, midterm)}
    for name, hour in [("released-a", 1), ("draft-a", 2), ("ungraded-a", 3), ("regrade-a", 4),
                       ("released-b", 5), ("draft-b", 6), ("ungraded-b", 7), ("regrade-b", 8)]:
        attempts[name] = hand(name, hour)
    for name in ("released-a", "released-b", "regrade-a", "regrade-b"):
        graded(mentor, attempts[name], [0, 1])
    for name in ("draft-a", "draft-b"):
        graded(mentor, attempts[name], [1, 1], release=False)
    for name in ("regrade-a", "regrade-b", "released-b"):
        grading.request_regrade(attempts[name].user, attempts[name], 1, "报告部分我写了")
    answered = db.session.scalar(select(RegradeRequest).where(RegradeRequest.attempt_id == attempts["released-b"].id))
    grading.answer_regrade(mentor, answered, accept=False, new_level=None, response="维持原分",
                           expected_version=attempts["released-b"].grade.version)
    return {name: attempt.id for name, attempt in attempts.items()}


def test_queue_lists_ungraded_then_regrades_drafts_released_oldest_first(app, queue_mix):
    """Only latest attempts; ungraded, open regrade, draft, released; oldest first within each."""
    order = ["midterm", "ungraded-a", "ungraded-b", "regrade-a", "regrade-b", "draft-a", "draft-b",
             "released-a", "released-b"]

    ids = queue_ids(signed_in(app, "mentor@example.com"))

    assert ids == [queue_mix[name] for name in order]


@pytest.mark.parametrize("query, expected", [
    (f"?assignment={COURSE}/final-project", ["ungraded-a", "ungraded-b", "regrade-a", "regrade-b", "draft-a",
                                             "draft-b", "released-a", "released-b"]),
    (f"?assignment={COURSE}/midterm", ["midterm"]),
    ("?status=ungraded", ["midterm", "ungraded-a", "ungraded-b"]),
    ("?status=regrade", ["regrade-a", "regrade-b"]),
    ("?status=draft", ["draft-a", "draft-b"]),
    ("?status=released", ["released-a", "released-b"]),
    (f"?assignment={COURSE}/final-project&status=ungraded", ["ungraded-a", "ungraded-b"]),
    (f"?assignment={COURSE}/midterm&status=released", []),
])
def test_queue_filters_by_assignment_and_status(app, queue_mix, query, expected):
    """Each filter, alone and combined, keeps exactly the matching attempts in queue order."""
    assert queue_ids(signed_in(app, "mentor@example.com"), query) == [queue_mix[name] for name in expected]


def test_next_ungraded_goes_to_the_oldest_then_back_to_the_queue(app, queue_mix, mentor):
    """'Next' opens the oldest ungraded attempt (within the filter); when none is left, the queue says so."""
    client = signed_in(app, "mentor@example.com")

    assert client.get("/grading/next").headers["Location"] == f"/grading/attempts/{queue_mix['midterm']}"
    filtered = client.get(f"/grading/next?assignment={COURSE}/final-project")
    assert filtered.status_code == 302
    assert filtered.headers["Location"] == (f"/grading/attempts/{queue_mix['ungraded-a']}"
                                            f"?assignment={COURSE}/final-project")

    for name in ("midterm", "ungraded-a", "ungraded-b"):
        graded(mentor, db.session.get(Attempt, queue_mix[name]), [0, 0], release=False)
    done = client.get("/grading/next")
    assert done.status_code == 302 and done.headers["Location"] == QUEUE
    assert "Nothing left to grade here." in client.get(done.headers["Location"]).get_data(as_text=True)


def test_queue_pages_hold_fifty_rows_in_queue_order(app, site, mentor):
    """60 latest attempts: page 1 shows the first 50 in queue order, page 2 the last 10."""
    final = assignment_named("final-project")
    seed_attempts(final, mentor, [put_bytes(make_zip())], 0, 60)
    rank = {None: 0, "draft": 2, "released": 3}
    rows = db.session.execute(select(Attempt.id, Attempt.submitted_at, Grade.status)
                              .outerjoin(Grade, Grade.attempt_id == Attempt.id).where(Attempt.latest.is_(True))).all()
    expected = [row.id for row in sorted(rows, key=lambda r: (rank[r.status], r.submitted_at, r.id))]
    client = signed_in(app, "mentor@example.com")

    first, second = client.get(QUEUE).get_data(as_text=True), client.get(f"{QUEUE}?page=2").get_data(as_text=True)

    assert len(expected) == 60
    assert [int(n) for n in ATTEMPT_LINK.findall(first)] == expected[:50]
    assert [int(n) for n in ATTEMPT_LINK.findall(second)] == expected[50:]
    assert "Page 1 of 2" in first and 'rel="next"' in first and 'rel="prev"' not in first
    assert "Page 2 of 2" in second and 'rel="prev"' in second and 'rel="next"' not in second


# --- Who may see what -------------------------------------------------------------------------

@pytest.fixture
def handed_in(site, mentor, make_user):
    """One attempt in py-data, plus a mentor of the other course, a student and an auditor who may not grade."""
    make_user("mentor", email="other-mentor@example.com", name="Other Mentor")
    make_user("student", email="nosy@example.com", name="好奇的学生")
    make_user("auditor", email="auditor@example.com", name="审计")
    author = bare_student("作者", "author@example.com", the_course())
    return submissions.submit(author, assignment_named("final-project"), text="我的作业")


COURSE_PAGES = [GRADEBOOK, CSV_URL, ZIP_URL, EXTENSIONS]


@pytest.mark.parametrize("email, queue_status, next_status", [
    ("other-mentor@example.com", 200, 302), ("nosy@example.com", 403, 403), ("auditor@example.com", 403, 403)])
def test_who_may_not_grade_this_course_gets_404_and_writes_nothing(app, handed_in, email, queue_status,
                                                                   next_status):
    """Another course's mentor, a student and an auditor: 404 for this course's pages; only mentors get the queue."""
    client = signed_in(app, email)
    attempt_url = f"/grading/attempts/{handed_in.id}"
    token = csrf_token(client, "/auth/settings")

    statuses = {url: client.get(url).status_code for url in [*COURSE_PAGES, attempt_url]}
    statuses["POST attempt"] = client.post(attempt_url, data={"csrf_token": token, "version": "0", "level_0": "0",
                                                              "level_1": "0", "release": "1"}).status_code
    statuses["POST extension"] = client.post(EXTENSIONS, data={
        "csrf_token": token, "email": "author@example.com", "due_at": "2027-02-01T12:00"}).status_code
    queue = client.get(QUEUE)
    nxt = client.get("/grading/next")

    assert statuses == {url: 404 for url in statuses}
    assert (queue.status_code, nxt.status_code) == (queue_status, next_status)
    if queue_status == 200:  # the other mentor's queue does not show this course's work
        assert "作者" not in queue.get_data(as_text=True)
        assert nxt.headers["Location"] == QUEUE
    db.session.rollback()
    assert db.session.scalar(select(func.count(Grade.id))) == 0
    assert db.session.scalar(select(func.count(Extension.id))) == 0


def test_anonymous_visitors_are_sent_to_sign_in(app, handed_in):
    """Every grading page sends a signed-out visitor to the login page."""
    client = app.test_client()
    for url in [QUEUE, "/grading/next", *COURSE_PAGES, f"/grading/attempts/{handed_in.id}"]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/auth/login?next="), url


def test_the_courses_mentor_reaches_every_grading_page(app, handed_in):
    """The control for the denials above: the same URLs answer 200 for the course's own mentor."""
    client = signed_in(app, "mentor@example.com")
    for url in [QUEUE, *COURSE_PAGES, f"/grading/attempts/{handed_in.id}"]:
        assert client.get(url).status_code == 200, url
    assert client.get("/grading/next").headers["Location"] == f"/grading/attempts/{handed_in.id}"


# --- Extensions -------------------------------------------------------------------------------

def grant(client, email: str, due_at: str, reason: str = "病假"):
    return client.post(EXTENSIONS, data={"csrf_token": csrf_token(client, EXTENSIONS), "email": email,
                                         "due_at": due_at, "reason": reason})


def test_an_extension_lets_one_student_hand_in_on_time_after_the_due_time(app, client, student, mentor,
                                                                         monkeypatch):
    """Granted in the mentor's zone (Asia/Shanghai): its holder is on time a day later; a classmate is late."""
    classmate = bare_student("同学", "classmate@example.com", the_course())
    mentor_client = signed_in(app, "mentor@example.com")

    response = grant(mentor_client, "S@Example.com", "2027-01-17T23:59")

    assert response.status_code == 302 and response.headers["Location"] == EXTENSIONS
    extension = db.session.scalar(select(Extension))
    assert extension.user_id == student.id
    assert extension.due_at == datetime(2027, 1, 17, 15, 59, tzinfo=timezone.utc)
    page = mentor_client.get(EXTENSIONS).get_data(as_text=True)
    assert "学生 王" in page and "病假" in page

    received = datetime(2027, 1, 16, 12, 0, tzinfo=SHANGHAI)  # after the course due time, 2027-01-15 23:59
    monkeypatch.setattr(submissions, "utcnow", lambda: received)
    assert hand_in(client, text="延期后提交").status_code == 302
    db.session.rollback()  # a new read snapshot
    on_time = db.session.scalar(select(Attempt).where(Attempt.user_id == student.id))
    assert (on_time.late_days, on_time.penalty_percent) == (0, 0)
    assert on_time.due_at == extension.due_at
    late = submissions.submit(classmate, assignment_named("final-project"), text="我迟交了")
    assert (late.late_days, late.penalty_percent) == (1, 10)


def test_an_extension_is_read_in_the_mentors_own_time_zone(app, student, mentor):
    """A mentor set to Europe/Berlin typing 08:59 grants until 07:59 UTC (winter time)."""
    mentor.timezone = "Europe/Berlin"
    db.session.commit()

    assert grant(signed_in(app, "mentor@example.com"), "s@example.com", "2027-01-17T08:59").status_code == 302

    assert db.session.scalar(select(Extension.due_at)) == datetime(2027, 1, 17, 7, 59, tzinfo=timezone.utc)


NOT_ENROLLED = "No student with this e-mail address is enrolled in the course."


@pytest.mark.parametrize("email, due_at, message", [
    ("stranger@example.com", "2027-01-17T23:59", NOT_ENROLLED),
    ("nosy@example.com", "2027-01-17T23:59", NOT_ENROLLED),
    ("s@example.com", "2027-01-15T23:59", "An extension must end after the assignment"),
], ids=["unknown", "not-enrolled", "not-later"])
def test_an_extension_that_cannot_be_granted_is_refused_clearly(app, student, mentor, make_user, email, due_at,
                                                                message):
    """Unknown or not-enrolled address, or a time not after the due time: 400 with a message; nothing granted."""
    make_user("student", email="nosy@example.com")

    response = grant(signed_in(app, "mentor@example.com"), email, due_at)

    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Extension.id))) == 0


# --- Grades pinned to the rubric -----------------------------------------------------------------

def test_mentors_see_which_attempts_were_graded_with_an_older_rubric(app, queue_mix, mentor, content_dir):
    """Editing the brief's text leaves grades current; changing the rubric marks every grade saved
    before it in the queue (badge and filter), the gradebook and the attempt page, until re-graded."""
    client = signed_in(app, "mentor@example.com")
    final_path = content_dir / "courses/py-data/assignments/final-project.md"
    released = queue_mix["released-a"]

    def marked(url: str) -> str:
        return client.get(url).get_data(as_text=True)

    write_content(content_dir, {"courses/py-data/assignments/final-project.md":
                                ASSIGNMENT.replace("提交一个分析报告。", "提交一个分析报告（PDF）。")})
    assert sync_tree(content_dir).errors == []
    assert "older rubric (v" not in marked(QUEUE) and 'title="Graded with a rubric' not in marked(GRADEBOOK)
    assert queue_ids(client, "?status=old_rubric") == []
    assert "saved with an older rubric" not in marked(f"/grading/attempts/{released}")

    final_path.write_text(final_path.read_text(encoding="utf-8").replace("{points: 3, label: 合格}",
                                                                         "{points: 2, label: 合格}"),
                          encoding="utf-8")
    assert sync_tree(content_dir).errors == []
    graded_before = ["regrade-a", "regrade-b", "draft-a", "draft-b", "released-a", "released-b"]
    assert queue_ids(client, "?status=old_rubric") == [queue_mix[name] for name in graded_before]
    assert queue_ids(client, f"?assignment={COURSE}/midterm&status=old_rubric") == []
    queue = marked(QUEUE)
    assert queue.count("older rubric (v1)") == len(graded_before)
    book = marked(GRADEBOOK)
    assert f'href="/grading/attempts/{released}" title="Graded with a rubric' in book
    assert "This grade was saved with an older rubric (assignment v1)" in marked(f"/grading/attempts/{released}")

    graded(mentor, db.session.get(Attempt, released), [0, 1])
    assert queue_ids(client, "?status=old_rubric") == [queue_mix[name] for name in graded_before if name != "released-a"]
    assert "saved with an older rubric" not in marked(f"/grading/attempts/{released}")
    assert f'href="/grading/attempts/{released}" title="Graded' not in marked(GRADEBOOK)


def test_grades_saved_before_rubric_hashes_count_as_current(app, site, mentor):
    """A grade that carries the brief's content hash (saved before rubric hashes) is not flagged
    while the assignment is unchanged."""
    attempt = factories.hand_in(bare_student("李雷", "li@example.com", the_course()), text="答案")
    grade = graded(mentor, attempt, [0, 0])
    assignment = assignment_named("final-project")
    assert grade.rubric_hash == assignment.rubric_hash != assignment.content_hash
    assert not assignment.graded_with_older_rubric(grade.rubric_hash)
    assert not assignment.graded_with_older_rubric(assignment.content_hash)
    assert assignment.graded_with_older_rubric("0" * 64)


@pytest.mark.parametrize("merged", [gradebook.MERGED_COURSES, 0], ids=["per-course-merge", "one-scan"])
@pytest.mark.parametrize("status", [None, "ungraded", "regrade", "draft", "released", "old_rubric"])
def test_queue_reads_the_same_whatever_the_plan_and_the_courses(queue_mix, monkeypatch, merged, status):
    """The queue of several courses (each read in index order and merged, or all in one scan)
    is the one course's queue when the others have no attempts, page by page."""
    course_id = the_course().id
    alone = gradebook.queue([course_id], status=status)
    monkeypatch.setattr(gradebook, "MERGED_COURSES", merged)
    several = [gradebook.queue([course_id, course_id + 1000, course_id + 2000], status=status, page=page,
                               per_page=3) for page in (1, 2, 3, 4)]
    assert [row.attempt.id for page in several for row in page.rows] == [row.attempt.id for row in alone.rows]
    assert {page.total for page in several} == {alone.total}
    assert [row.status for row in alone.rows] == sorted(
        (row.status for row in alone.rows), key=("ungraded", "regrade", "draft", "released").index)


def test_a_long_queue_is_counted_only_so_far_ahead(app, site, mentor, monkeypatch):
    """Past COUNT_AHEAD attempts beyond the page, the pager says "more than" and still links onwards."""
    seed_attempts(assignment_named("final-project"), mentor, [put_bytes(make_zip())], 0, 60)
    monkeypatch.setattr(gradebook, "COUNT_AHEAD", 20)
    client = signed_in(app, "mentor@example.com")

    first, second = client.get(QUEUE).get_data(as_text=True), client.get(f"{QUEUE}?page=2&per_page=5").get_data(as_text=True)

    assert "Page 1 of more than 1" in first and 'rel="next"' in first and 'rel="prev"' not in first
    assert len(ATTEMPT_LINK.findall(first)) == 50
    assert "Page 2 of 2" in second and len(ATTEMPT_LINK.findall(second)) == 10  # 60 - 50 < 20 ahead: exact
    page = gradebook.queue([the_course().id], page=1, per_page=10)
    assert (page.total, page.capped, len(page.rows)) == (20, True, 10)
