"""The audit log as auditors read it (their courses and cases, content and sign-offs only) and the
log and history pages' query counts at 100 and at 100,000 entries. Both databases."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import insert, select, update

from lms.db_setup import begin_write
from lms.extensions import db
from lms.models import AuditEntry, AuditHead, Lesson
from lms.models.types import utcnow
from lms.services import audit
from lms.services.content import sync_tree
from tests import factories
from tests.conftest import write_content
from tests.samples import valid_tree
from tests.views.test_audit_pages import add_versions, sign, signed_in

OTHER_COURSE = {
    "courses/robots/course.md": """\
        ---
        title: 机器人视觉
        summary: 另一家企业的课程。
        language: zh-CN
        level: beginner
        mentors: [other@example.com]
        ---
        不使用冷链案例的课程。
        """,
    "courses/robots/lessons/01-camera.md": """\
        ---
        title: 相机标定
        ---
        # 相机
        """,
}


@pytest.fixture
def synced(content_dir):
    write_content(content_dir, {**valid_tree(), **OTHER_COURSE})
    assert sync_tree(content_dir).errors == []
    return content_dir


def graded(make_user, attempt) -> None:
    factories.release_grade(make_user("mentor", email="mentor@example.com"), attempt, [0, 0])


def lesson(slug: str) -> Lesson:
    return db.session.scalar(select(Lesson).where(Lesson.slug == slug))


def logged(client, query: str = "") -> tuple[str, set[tuple[str, str, str]]]:
    """The page and its entries as (event code, object type, object id)."""
    response = client.get(f"/audit/log{query}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    rows = re.findall(r'<code class="meta">([a-z_.]+)</code></td>\s*<td>(?:<a [^>]*>)?(\w+) (\w+)', page)
    return page, set(rows)


def test_an_auditor_reads_the_content_and_signoff_events_of_their_courses_and_cases(app, synced, make_user):
    student = make_user("student", email="li@example.com")
    graded(make_user, factories.hand_in(student, text="答案"))
    client, auditor = signed_in(app, make_user, "auditor")
    setup, camera = lesson("setup"), lesson("camera")
    assert sign(client, "lesson", setup.id, 1, "approved").status_code == 302

    page, rows = logged(client)
    assert ("content.version", "lesson", str(setup.id)) in rows
    assert ("content.version", "case", "1") in rows  # the company's case, which belongs to no course
    assert ("signoff.approved", "lesson", str(setup.id)) in rows
    assert ("content.asset", "asset", "1") in rows
    assert ("content.version", "lesson", str(camera.id)) not in rows  # another enterprise's course
    assert not any(code.startswith(("grade.", "account.", "auth.", "extension.")) for code, _, _ in rows)
    assert "li@example.com" not in page and "答案" not in page
    assert "机器人视觉" not in page  # not even in the course filter
    assert f'href="/audit/lesson/{setup.id}/versions"' in page

    _, signoffs = logged(client, "?group=signoff")
    assert signoffs == {("signoff.approved", "lesson", str(setup.id))}
    assert logged(client, "?group=grade")[1] == set()  # not an auditor's kind of event
    assert "No entries match." in logged(client, "?group=account")[0]

    course_id = setup.course_id
    _, in_course = logged(client, "?course=py-data")
    assert in_course and all(t != "case" for _, t, _ in in_course)
    assert logged(client, "?course=robots")[1] == logged(client)[1]  # not theirs: the filter is ignored
    assert db.session.scalar(select(AuditEntry.id).where(AuditEntry.course_id == course_id,
                                                         AuditEntry.action.like("grade.%"))) is not None


def test_an_all_courses_auditor_reads_every_courses_content_events_but_no_grades(app, synced, make_user):
    graded(make_user, factories.hand_in(make_user("student"), text="报告"))
    client, _ = signed_in(app, make_user, "auditor", company=None, audits_all=True)
    _, rows = logged(client)
    assert ("content.version", "lesson", str(lesson("camera").id)) in rows
    assert not any(code.startswith(("grade.", "account.", "auth.")) for code, _, _ in rows)


def test_admins_read_everything_here_too(app, synced, make_user):
    graded(make_user, factories.hand_in(make_user("student"), text="报告"))
    client, _ = signed_in(app, make_user, "admin")
    _, rows = logged(client)
    assert any(code == "grade.released" for code, _, _ in rows)
    assert any(code == "account.created" for code, _, _ in rows)


def test_an_auditor_of_an_enterprise_whose_cases_are_unused_reads_no_entries(app, synced, make_user):
    client, _ = signed_in(app, make_user, "auditor", company="Other Robotics Co.")
    assert logged(client)[1] == set()
    assert logged(client, "?course=py-data")[1] == set()


def grow_log(count: int, course_id: int, case_id: int) -> None:
    """Append ``count`` entries in bulk (content, sign-off and grade events of the course and the case),
    moving the head so that later events extend the log."""
    begin_write()
    head = db.session.scalar(select(AuditHead).where(AuditHead.id == 1))
    now = utcnow()
    actions = [("content.version", "lesson", "1"), ("signoff.approved", "lesson", "1"),
               ("grade.released", "attempt", "1"), ("content.version", "case", str(case_id))]
    rows = []
    for n in range(head.seq + 1, head.seq + count + 1):
        action, object_type, object_id = actions[n % len(actions)]
        rows.append({"seq": n, "at": now, "actor_email": "bulk@example.com", "action": action,
                     "object_type": object_type, "object_id": object_id,
                     "course_id": None if object_type == "case" else course_id,
                     "details": {"n": n}, "prev_hash": "0" * 64, "hash": f"{n:064x}"})
    for start in range(0, len(rows), 10_000):
        db.session.execute(insert(AuditEntry), rows[start:start + 10_000])
    db.session.execute(update(AuditHead).where(AuditHead.id == 1)
                       .values(seq=head.seq + count, hash=f"{head.seq + count:064x}"))
    db.session.commit()


def test_the_log_and_history_pages_run_the_same_queries_at_100_and_100000_entries(app, synced, make_user,
                                                                                  count_queries):
    """Every log listing (admin's and auditor's, each filter, an older page) and every history page
    runs the same number of queries with 100 entries as with 100,000, and the pages stay paginated."""
    auditor_client, _ = signed_in(app, make_user, "auditor")
    admin_client, _ = signed_in(app, make_user, "admin")
    setup = lesson("setup")
    add_versions("lesson", setup, 3)
    course_id = setup.course_id
    grow_log(100 - audit.head()[0], course_id, 1)
    assert audit.count() == 100

    def older(client, url: str) -> str:
        link = re.search(r'rel="next" href="([^"]+)"', client.get(url).get_data(as_text=True))
        return link.group(1).replace("&amp;", "&")

    pages = [
        (auditor_client, "/audit/log"), (auditor_client, "/audit/log?group=signoff"),
        (auditor_client, "/audit/log?course=py-data&group=content"),
        (admin_client, "/admin/audit"), (admin_client, "/admin/audit?group=grade&actor=bulk@example.com"),
        (admin_client, "/audit/log"),
        (auditor_client, "/audit/"), (auditor_client, "/audit/courses/py-data"),
        (auditor_client, f"/audit/lesson/{setup.id}/versions"), (auditor_client, f"/audit/lesson/{setup.id}/versions/2"),
        (auditor_client, f"/audit/lesson/{setup.id}/diff?from=1&to=4"), (auditor_client, "/audit/courses/py-data/report"),
    ]

    def counts() -> list[int]:
        found = []
        for client, url in pages + [(auditor_client, older(auditor_client, "/audit/log")),
                                    (admin_client, older(admin_client, "/admin/audit"))]:
            with count_queries() as q:
                response = client.get(url)
            assert response.status_code == 200, url
            found.append(q.count)
        return found

    small = counts()
    grow_log(100_000 - 100, course_id, 1)
    assert audit.count() == 100_000
    assert counts() == small
    page = auditor_client.get("/audit/log").get_data(as_text=True)
    assert page.count("<tr>") == 51 and "100000" in page  # 50 entries and the header; newest first
