"""Content review: who sees which history, diffs, sign-offs, course status and the audit report. Both databases."""
from __future__ import annotations

import subprocess

from sqlalchemy import select

from lms.db_setup import begin_write
from lms.extensions import db
from lms.models import Assignment, AuditEntry, ContentVersion, Course, Lesson, SignOff
from lms.services import history, signoff
from lms.services.content import sync_tree
from tests import factories
from tests.conftest import csrf_token, login, write_content
from tests.samples import LESSON_1, LESSON_2, valid_tree

def git(cwd, *args):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def commit_all(content_dir, message: str) -> str:
    git(content_dir, "add", "-A")
    git(content_dir, "-c", "user.name=陈静", "-c", "user.email=chen@example.com", "commit", "-q", "-m", message)
    return git(content_dir, "rev-parse", "HEAD")


def signed_in(app, make_user, role: str, **fields):
    user = make_user(role, **fields)
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    assert login(client, user.email).status_code == 302
    return client, user


def ids():
    lesson = db.session.scalar(select(Lesson).where(Lesson.slug == "setup"))
    course = db.session.scalar(select(Course).where(Course.slug == "py-data"))
    return course, lesson


def sign(client, kind, item_id, number, decision, comment=""):
    token = csrf_token(client, f"/audit/{kind}/{item_id}/versions/{number}")
    return client.post(f"/audit/{kind}/{item_id}/versions/{number}/signoff",
                       data={"decision": decision, "comment": comment, "csrf_token": token})


def test_auditor_of_another_company_sees_nothing_of_the_course(app, synced, make_user):
    """Another enterprise's auditor gets 404 for the course, its items and the case, and an empty workspace."""
    client, _ = signed_in(app, make_user, "auditor", company="Other Robotics Co.")
    course, lesson = ids()
    for url in ("/audit/courses/py-data", f"/audit/lesson/{lesson.id}/versions",
                f"/audit/lesson/{lesson.id}/versions/1", f"/audit/course/{course.id}/diff?from=1&to=1",
                "/audit/case/1/versions", "/audit/courses/py-data/report", "/audit/courses/py-data/report.csv"):
        assert client.get(url).status_code == 404, url
    page = client.get("/audit/").get_data(as_text=True)
    assert "py-data" not in page and "No course to review." in page
    assert sign(client, "lesson", lesson.id, 1, "approved").status_code in (400, 404)  # no form, no write
    assert db.session.scalar(select(SignOff.id)) is None


def test_all_courses_auditor_sees_everything(app, synced, make_user):
    """An auditor made to audit all courses reviews every course and case, whatever their company."""
    client, _ = signed_in(app, make_user, "auditor", company=None, audits_all=True)
    course, lesson = ids()
    assert "py-data" in client.get("/audit/").get_data(as_text=True)
    for url in ("/audit/courses/py-data", f"/audit/lesson/{lesson.id}/versions", "/audit/case/1/versions"):
        assert client.get(url).status_code == 200, url


def test_unpublished_and_retired_items_are_visible_to_the_companys_auditor(app, content_dir, make_user):
    """An unpublished course and a retired assignment stay in the auditor's workspace, marked as such."""
    tree = valid_tree()
    tree["courses/py-data/course.md"] = tree["courses/py-data/course.md"].replace("cases:", "published: false\ncases:")
    write_content(content_dir, tree)
    assert sync_tree(content_dir).errors == []
    (content_dir / "courses/py-data/assignments/final-project.md").unlink()
    assert sync_tree(content_dir).errors == []
    retired = db.session.scalar(select(Assignment).where(Assignment.slug == "final-project"))
    assert retired.retired
    client, _ = signed_in(app, make_user, "auditor")
    index = client.get("/audit/").get_data(as_text=True)
    assert "Python 数据分析入门" in index and "unpublished" in index
    page = client.get("/audit/courses/py-data").get_data(as_text=True)
    assert "期末项目" in page and "retired" in page
    assert client.get(f"/audit/assignment/{retired.id}/versions").status_code == 200
    assert client.get(f"/audit/assignment/{retired.id}/versions/1").status_code == 200
    # the catalog still hides the course from this auditor: review is read-only and separate
    assert client.get("/courses/py-data").status_code == 404


def test_diff_escapes_html_in_the_source(app, synced, make_user):
    """Markup in the Markdown source shows as text in the diff, with +/- markers."""
    write_content(synced, {"courses/py-data/lessons/02-reading-data.md":
                           LESSON_2 + "\n<script>alert('x')</script>\n<img src=x onerror=alert(1)>\n"})
    assert sync_tree(synced).errors == []
    lesson = db.session.scalar(select(Lesson).where(Lesson.slug == "reading-data"))
    client, _ = signed_in(app, make_user, "mentor", email="mentor@example.com")
    response = client.get(f"/audit/lesson/{lesson.id}/diff?from=1&to=2")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<script>alert" not in page and "<img src=x" not in page
    assert page.count('class="diff-add"') == 3 and "<ins>" in page
    # without parameters the diff compares the current version with the one before
    assert client.get(f"/audit/lesson/{lesson.id}/diff").get_data(as_text=True).count('class="diff-add"') == 3
    assert client.get(f"/audit/lesson/{lesson.id}/diff?from=1&to=9").status_code == 404


def test_the_line_diff_marks_additions_and_removals():
    """difflib hunks: removed then added lines, line numbers on both sides, context around changes."""
    hunks = history.diff("a\nb\nc\n", "a\nB\nc\nd\n")
    ops = [(line.op, line.old_number, line.new_number, str(line.text)) for line in hunks[0].lines]
    assert ops == [("same", 1, 1, "a"), ("del", 2, None, "b"), ("add", None, 2, "B"), ("same", 3, 3, "c"),
                   ("add", None, 4, "d")]
    assert str(history.diff("", "<b>")[0].lines[0].text) == "&lt;b&gt;"


def approve_everything(client, course):
    state = signoff.course_state(course)
    for s in state.items:
        assert sign(client, s.kind, s.item.id, s.item.version, "approved").status_code == 302


def test_signoff_approve_then_change_then_request_changes(app, synced, make_user):
    """Approval makes the course approved; a newer version shows as changed with a diff from the approved
    version; requesting changes with a Markdown comment makes it 'changes requested'."""
    client, auditor = signed_in(app, make_user, "auditor")
    course, lesson = ids()
    assert signoff.course_state(course).status == "never"
    approve_everything(client, course)
    db.session.rollback()  # a fresh snapshot: the requests committed in their own sessions
    assert signoff.course_state(course).status == "approved"
    assert "✓ Approved" in client.get("/audit/").get_data(as_text=True)
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "signoff.approved")).all()
    assert len(entries) == 4 and entries[0].actor_id == auditor.id

    write_content(synced, {"courses/py-data/lessons/01-setup.md": LESSON_1 + "\n新增的一段。\n"})
    assert sync_tree(synced).errors == []
    db.session.rollback()  # a fresh snapshot: the requests committed in their own sessions
    state = signoff.course_state(course)
    assert state.status == "changed"
    page = client.get("/audit/courses/py-data").get_data(as_text=True)
    assert "Changed since approved" in page
    assert f"/audit/lesson/{lesson.id}/diff?from=1&amp;to=2" in page
    assert "新增的一段。" in client.get(f"/audit/lesson/{lesson.id}/diff?from=1&to=2").get_data(as_text=True)

    comment = "请补充 **温度阈值** 的说明。<script>x</script>"
    response = sign(client, "lesson", lesson.id, 2, "changes_requested", comment)
    assert response.status_code == 302
    db.session.rollback()  # a fresh snapshot: the requests committed in their own sessions
    assert signoff.course_state(course).status == "changes_requested"
    page = client.get(f"/audit/lesson/{lesson.id}/versions/2").get_data(as_text=True)
    assert "<strong>温度阈值</strong>" in page and "<script>x" not in page
    assert "Changes requested" in client.get("/audit/").get_data(as_text=True)
    assert db.session.scalar(select(AuditEntry.id).where(AuditEntry.action == "signoff.changes_requested"))


def test_requesting_changes_needs_a_comment(app, synced, make_user):
    """A request for changes without a comment is refused and nothing is written."""
    client, _ = signed_in(app, make_user, "auditor")
    _course, lesson = ids()
    response = sign(client, "lesson", lesson.id, 1, "changes_requested", "  ")
    assert response.status_code == 400 and "Say what should change." in response.get_data(as_text=True)
    assert db.session.scalar(select(SignOff.id)) is None


def test_mentors_and_admins_read_but_do_not_sign_off(app, synced, make_user):
    """Mentors of the course and admins see history without a sign-off form; their POST is refused."""
    _course, lesson = ids()
    for role, fields in (("mentor", {"email": "mentor@example.com"}), ("admin", {})):
        client, _ = signed_in(app, make_user, role, **fields)
        page = client.get(f"/audit/lesson/{lesson.id}/versions/1").get_data(as_text=True)
        assert "第一课：环境准备" in page and "/signoff" not in page
        token = csrf_token(client, "/audit/")
        response = client.post(f"/audit/lesson/{lesson.id}/versions/1/signoff",
                               data={"decision": "approved", "csrf_token": token})
        assert response.status_code == 403
    other_mentor, _ = signed_in(app, make_user, "mentor", email="someone-else@example.com")
    assert other_mentor.get(f"/audit/lesson/{lesson.id}/versions").status_code == 404
    assert db.session.scalar(select(SignOff.id)) is None


def test_auditors_see_no_student_work(app, synced, make_user):
    """Review pages carry no student work, and the auditor cannot open grading or submissions."""
    student = make_user("student")
    work = factories.hand_in(student, text="学生的秘密答案")
    client, _ = signed_in(app, make_user, "auditor")
    course, _lesson = ids()
    for url in ("/audit/", "/audit/courses/py-data", "/audit/courses/py-data/report",
                "/audit/courses/py-data/report.csv", "/audit/assignment/1/versions/1"):
        body = client.get(url).get_data(as_text=True)
        assert "学生的秘密答案" not in body and student.email not in body, url
    for url in (f"/grading/attempts/{work.id}", "/grading/courses/py-data/gradebook",
                f"/courses/py-data/assignments/final-project/attempts/{work.id}"):
        assert client.get(url).status_code in (403, 404), url


def test_report_csv_and_html(app, content_dir, make_user):
    """The CSV report starts with a BOM and has one row per version with its commit id; the HTML lists items."""
    write_content(content_dir, valid_tree())
    git(content_dir, "init", "-q")
    first = commit_all(content_dir, "first")
    assert sync_tree(content_dir).errors == []
    write_content(content_dir, {"courses/py-data/lessons/01-setup.md": LESSON_1 + "\n=SUM(A1)\n"})
    second = commit_all(content_dir, "second")
    assert sync_tree(content_dir).errors == []
    client, _ = signed_in(app, make_user, "auditor")
    response = client.get("/audit/courses/py-data/report.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    lines = body.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Kind,Slug,Title,Path,Version")
    assert len(lines) == 1 + 5  # course, two lessons, assignment at version 1; the first lesson at version 2
    assert sum(first in line for line in lines) == 4 and sum(second in line for line in lines) == 1
    assert any("01-setup.md,2,yes,,Never reviewed" in line for line in lines)
    html = client.get("/audit/courses/py-data/report").get_data(as_text=True)
    for title in ("第一课：环境准备", "第二课：读取数据", "期末项目", "courses/py-data/course.md", first, second):
        assert title in html


def add_versions(kind: str, item, count: int) -> None:
    """Give an item ``count`` more versions directly in the database (faster than ``count`` syncs)."""
    begin_write()
    base = item.version
    for n in range(base + 1, base + count + 1):
        db.session.add(ContentVersion(item_type=kind, item_id=item.id, number=n, path=item.path,
                                      source=f"version {n}\n", content_hash=f"{n:064x}", html=f"<p>{n}</p>",
                                      commit_id=f"{n:040x}"))
    item.version, item.content_hash = base + count, f"{base + count:064x}"
    db.session.commit()


def test_history_pages_run_a_constant_number_of_queries(app, synced, make_user, count_queries):
    """The same number of queries with 3 versions as with 100, on every review page; lists are paginated."""
    client, _ = signed_in(app, make_user, "auditor")
    course, lesson = ids()
    other = db.session.scalar(select(Lesson).where(Lesson.slug == "reading-data"))
    add_versions("lesson", lesson, 2)
    add_versions("lesson", other, 99)
    for n in (1, 3, 50, 100):
        assert sign(client, "lesson", other.id, n, "approved").status_code == 302
    assert sign(client, "lesson", lesson.id, 2, "approved").status_code == 302

    def queries(url: str) -> int:
        with count_queries() as q:
            assert client.get(url).status_code == 200, url
        return q.count

    for few, many in ((f"/audit/lesson/{lesson.id}/versions", f"/audit/lesson/{other.id}/versions"),
                      (f"/audit/lesson/{lesson.id}/versions/2", f"/audit/lesson/{other.id}/versions/100"),
                      (f"/audit/lesson/{lesson.id}/diff", f"/audit/lesson/{other.id}/diff?from=1&to=100")):
        assert queries(few) == queries(many), (few, many)
    page = client.get(f"/audit/lesson/{other.id}/versions").get_data(as_text=True)
    assert "version 100" in page and "version 51" in page and "Page 1 of 2" in page
    assert "version 50<" not in page
    assert "version 1<" in client.get(f"/audit/lesson/{other.id}/versions?page=2").get_data(as_text=True)
    course_pages = ("/audit/", "/audit/courses/py-data", "/audit/courses/py-data/report",
                    "/audit/courses/py-data/report.csv")
    before = {url: queries(url) for url in course_pages}
    add_versions("lesson", lesson, 100)
    add_versions("assignment", db.session.scalar(select(Assignment)), 50)
    assert {url: queries(url) for url in course_pages} == before
