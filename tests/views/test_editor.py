"""The browser editor through its pages, as a mentor, another mentor, a student and an admin; on both databases."""
from __future__ import annotations

import html
import io
import re
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lms.extensions import db
from lms.models import Assignment, AuditEntry, ContentVersion, Lesson
from lms.services.content import sync_tree
from tests.conftest import csrf_token, login, write_content
from tests.samples import COURSE, PNG_1PX, valid_tree
from tests.services.test_editing import git, init_repo

EDIT = "/courses/py-data/edit"
SETUP = "courses/py-data/lessons/01-setup.md"


@pytest.fixture
def site(app, content_dir, client):
    """valid_tree() plus a second course with its own mentor, synced; the client reads English."""
    write_content(content_dir, valid_tree())
    write_content(content_dir, {"courses/other/course.md": COURSE.replace("mentor@example.com", "other@example.com")
                                .replace("Python 数据分析入门", "另一门课")})
    assert sync_tree(content_dir).errors == []
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return content_dir


@pytest.fixture
def repo(site, tmp_path):
    init_repo(tmp_path, site)
    return tmp_path


@pytest.fixture
def mentor(site, client, make_user):
    user = make_user("mentor", email="mentor@example.com", name="Mentor Chen", locale="en")
    login(client, "mentor@example.com")
    return user


def fields(page: str) -> dict:
    """What a browser would send from the page's editor (or order, or upload) form, without a submit button."""
    form = re.search(r'<form method="post" class="(?:editor-form|order-form|stack narrow upload-form)"[^>]*>(.*?)</form>',
                     page, re.S)
    assert form, "no editor form on the page"
    body, data = form.group(1), {}
    for tag in re.finditer(r"<input ([^>]*)>", body):
        attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', tag.group(1)))
        kind, name = attrs.get("type", "text"), attrs.get("name")
        if not name or kind in ("submit", "file"):
            continue
        if kind == "checkbox":
            if re.search(r"\bchecked\b", tag.group(1)):
                data.setdefault(name, []).append(html.unescape(attrs.get("value", "y")))
            continue
        data[name] = html.unescape(attrs.get("value", ""))
    for select_tag in re.finditer(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', body, re.S):
        chosen = re.search(r'<option selected value="([^"]*)"', select_tag.group(2))
        data[select_tag.group(1)] = html.unescape(chosen.group(1)) if chosen else ""
    for area in re.finditer(r'<textarea[^>]*name="([^"]+)"[^>]*>\r?\n?(.*?)</textarea>', body, re.S):
        data[area.group(1)] = html.unescape(area.group(2))
    return data


def error_of(page: str, field_id: str) -> str:
    match = re.search(rf'<p class="error" id="{re.escape(field_id)}-error">(.*?)</p>', page, re.S)
    return html.unescape(match.group(1)).strip() if match else ""


def flashes(client, url: str) -> list[str]:
    page = client.get(url).get_data(as_text=True)
    return [html.unescape(m) for m in re.findall(r'<p class="flash flash-\w+">(.*?)</p>', page, re.S)]


def save(client, url: str, **changes):
    data = fields(client.get(url).get_data(as_text=True))
    data.update(changes)
    data.setdefault("save", "Save")
    return client.post(url, data=data)


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --- who may use the editor -------------------------------------------------------------------------------------

ROUTES = [
    ("GET", f"{EDIT}", None), ("POST", f"{EDIT}", {"save": "1", "title": "Hijacked", "body": "x", "message": "x"}),
    ("GET", f"{EDIT}/lessons/new", None),
    ("POST", f"{EDIT}/lessons/new", {"save": "1", "slug": "evil", "title": "Evil", "body": "x", "message": "x"}),
    ("GET", f"{EDIT}/lessons/setup", None),
    ("POST", f"{EDIT}/lessons/setup", {"save": "1", "title": "Hijacked", "body": "x", "message": "x"}),
    ("GET", f"{EDIT}/assignments", None), ("GET", f"{EDIT}/assignments/new", None),
    ("POST", f"{EDIT}/assignments/new", {"save": "1", "slug": "evil", "title": "Evil", "message": "x"}),
    ("GET", f"{EDIT}/assignments/final-project", None),
    ("POST", f"{EDIT}/assignments/final-project", {"save": "1", "title": "Hijacked", "message": "x"}),
    ("POST", f"{EDIT}/preview", {"kind": "lesson", "item": "setup", "body": "# x"}),
    ("GET", f"{EDIT}/order", None),
    ("POST", f"{EDIT}/order", {"order": "reading-data,setup", "save": "1", "message": "x"}),
    ("GET", f"{EDIT}/assets", None),
    ("POST", f"{EDIT}/assets", {"image": (io.BytesIO(PNG_1PX), "evil.png"), "message": "x"}),
    ("POST", f"{EDIT}/student-view", {"on": "1"}),
]


@pytest.mark.parametrize("role,expected", [("anonymous", "login"), ("student", 403), ("auditor", 403),
                                           ("other-mentor", 404)])
def test_nobody_but_the_courses_mentors_and_admins_opens_or_posts_to_the_editor(app, site, make_user, role, expected):
    """Every editor route refuses them, and nothing in content/ changes whatever they post."""
    before = tree_bytes(site)
    email = {"other-mentor": "other@example.com"}.get(role, f"{role}@example.com")
    if role != "anonymous":
        make_user("mentor" if role == "other-mentor" else role, email=email)
    for method, url, data in ROUTES:
        client = app.test_client()
        if role != "anonymous":
            login(client, email)
        if method == "GET":
            response = client.get(url)
        else:
            data = {k: (io.BytesIO(v[0].getvalue()), v[1]) if isinstance(v, tuple) else v for k, v in data.items()}
            response = client.post(url, data={**data, "csrf_token": csrf_token(client)})
        if expected == "login":
            assert response.status_code == 302 and "/auth/login" in response.headers["Location"], url
        else:
            assert response.status_code == expected, f"{method} {url}: {response.status_code}"
    assert tree_bytes(site) == before


def test_admins_edit_every_course(app, site, make_user):
    make_user("admin", email="admin@example.com")
    client = app.test_client()
    login(client, "admin@example.com")
    for url in (EDIT, "/courses/other/edit", f"{EDIT}/lessons/setup", f"{EDIT}/assets"):
        assert client.get(url).status_code == 200


def test_edit_links_show_only_to_the_courses_mentors(app, site, mentor, client, make_user):
    page = client.get("/courses/py-data/lessons/setup").get_data(as_text=True)
    assert f'href="{EDIT}/lessons/setup"' in page and "View as student" in page
    assert f'href="{EDIT}/assignments/final-project"' in client.get(
        "/courses/py-data/assignments/final-project").get_data(as_text=True)
    assert "/courses/other/edit" not in client.get("/courses/other").get_data(as_text=True)
    make_user("student", email="s@example.com")
    student = app.test_client()
    login(student, "s@example.com")
    assert "/edit" not in student.get("/courses/py-data/lessons/setup").get_data(as_text=True)


@pytest.mark.parametrize("url", [f"{EDIT}/lessons/..%2Fx", f"{EDIT}/lessons/Setup", "/courses/..%2Fpy-data/edit",
                                 f"{EDIT}/assignments/..%2F..%2Fcourse", f"{EDIT}/lessons/.."])
def test_item_addresses_that_are_not_slugs_are_not_found(site, mentor, client, url):
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("slug", ["../x", "..", "a/b", "Bad Slug", "new"])
def test_a_new_lesson_with_a_bad_slug_is_refused(site, mentor, client, slug):
    before = tree_bytes(site)
    response = save(client, f"{EDIT}/lessons/new", slug=slug, title="T", body="x")
    assert response.status_code == 400
    assert "lower-case letters" in error_of(response.get_data(as_text=True), "slug")
    assert tree_bytes(site) == before


# --- editing ----------------------------------------------------------------------------------------------------

def test_a_mentor_creates_a_lesson_and_students_see_it(app, repo, site, mentor, client, make_user):
    """A new lesson with a table and an image: committed as the mentor, synced, shown to a student at once."""
    body = "## 温度表\n\n| 时间 | 温度 |\n|---|---|\n| 08:00 | -18.5 |\n\n![流程图](../assets/flow.png)\n"
    response = save(client, f"{EDIT}/lessons/new", slug="temperature", title="第三课：温度", minutes="20",
                    body=body, message="Add the temperature lesson")
    assert response.status_code == 302 and response.headers["Location"] == f"{EDIT}/lessons/temperature"
    commit = git(repo, "log", "-1", "--format=%H %an <%ae> %s").strip()
    assert commit.endswith("Mentor Chen <mentor@example.com> Add the temperature lesson")
    assert any("Saved and committed as " + commit[:10] in f for f in flashes(client, response.headers["Location"]))
    assert (site / "courses/py-data/lessons/03-temperature.md").exists()
    make_user("student", email="s@example.com")
    student = app.test_client()
    login(student, "s@example.com")
    page = student.get("/courses/py-data/lessons/temperature").get_data(as_text=True)
    assert "<table>" in page and "-18.5" in page and 'src="/courses/py-data/assets/flow.png"' in page
    version = db.session.scalar(select(ContentVersion).where(ContentVersion.path.like("%03-temperature.md")))
    assert version.commit_id == commit.split()[0]


def test_validation_errors_show_next_to_their_field_and_nothing_is_saved(site, mentor, client):
    """The content format's rules run before saving; their messages sit under the field they are about."""
    before = tree_bytes(site)
    url = f"{EDIT}/assignments/final-project"
    response = save(client, url, points="100")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert error_of(page, "points") == ("The rubric's highest levels add up to 10, but the assignment is worth "
                                        "100 points.")
    response = save(client, url, late_policy="reject")  # the sample has a penalty per day
    assert error_of(response.get_data(as_text=True), "penalty") == "A penalty only applies when late work is accepted."
    response = save(client, url, due="", title="")
    page = response.get_data(as_text=True)
    assert error_of(page, "due") == "Enter the due date and time." and error_of(page, "title") == "Give it a title."
    assert tree_bytes(site) == before


def test_the_preview_button_works_without_javascript(site, mentor, client):
    before = tree_bytes(site)
    data = fields(client.get(f"{EDIT}/lessons/setup").get_data(as_text=True))
    data.update(body="| a | b |\n|---|---|\n| 1 | 2 |\n", preview="Preview")
    response = client.post(f"{EDIT}/lessons/setup", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    preview = page.split('id="preview-pane"', 1)[1]
    assert "<table>" in preview and "<td>1</td>" in preview
    assert tree_bytes(site) == before


def test_the_live_preview_is_rendered_and_sanitized_by_the_server(site, mentor, client):
    token = csrf_token(client, f"{EDIT}/lessons/setup")
    body = ("# 标题\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1)) <img src=x onerror=alert(1)>\n\n"
            "![图](../assets/flow.png)\n")
    response = client.post(f"{EDIT}/preview", data={"csrf_token": token, "kind": "lesson", "item": "setup",
                                                   "title": "", "body": body, "message": "m"})
    result = response.get_json()
    assert response.status_code == 200
    assert "<script" not in result["html"] and "javascript:" not in result["html"]
    assert "onerror" not in result["html"]
    assert '<h1 id="标题">标题</h1>' in result["html"]
    assert 'src="/courses/py-data/assets/flow.png"' in result["html"]
    assert result["errors"] == {"title": ["Give it a title."]}
    assert result["stale"] is True  # no base hash was sent
    response = client.post(f"{EDIT}/preview", data={"body": "x", "kind": "lesson"})
    assert response.status_code == 400  # no CSRF token


def test_a_stale_editor_is_refused_and_keeps_the_mentors_text(site, mentor, client, app, make_user):
    """Another mentor saved first: 409, the text stays in the form, an escaped diff shows it against the file."""
    url = f"{EDIT}/lessons/setup"
    mine = fields(client.get(url).get_data(as_text=True))
    make_user("mentor", email="second@example.com", name="Second Mentor")
    write_content(site, {"courses/py-data/course.md": COURSE.replace(
        "  - mentor@example.com", "  - mentor@example.com\n  - second@example.com")})
    assert sync_tree(site).errors == []
    other = app.test_client()
    login(other, "second@example.com")
    assert save(other, url, body="The other mentor's version.\n").status_code == 302
    current = (site / SETUP).read_bytes()
    mine.update(body=mine["body"] + "\nMy line with <b>markup</b>.\n", save="Save")
    response = client.post(url, data=mine)
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Not saved: the file changed since you opened it" in page
    assert "My line with &lt;b&gt;markup&lt;/b&gt;." in page.split("<textarea", 1)[1]  # the text is kept
    diff = page.split('class="conflict-diff"', 1)[1].split("</section>", 1)[0]
    assert re.search(r'diff-add.*My line with &lt;b&gt;markup&lt;/b&gt;\.', diff, re.S)
    assert re.search(r"diff-del.*The other mentor&#39;s version\.", diff, re.S)
    assert (site / SETUP).read_bytes() == current
    again = fields(page)  # after reading the diff, saving again is a deliberate choice
    again["save"] = "Save"
    assert client.post(url, data=again).status_code == 302
    assert b"My line with <b>markup</b>." in (site / SETUP).read_bytes()


def test_a_failing_commit_is_reported_and_changes_nothing(repo, site, mentor, client):
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'content is frozen this week' >&2\nexit 1\n")
    hook.chmod(0o755)
    before = tree_bytes(site)
    versions = db.session.scalar(select(func.count(ContentVersion.id)))
    response = save(client, f"{EDIT}/lessons/setup", body="changed\n")
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 500
    assert "git could not commit the change" in page and "content is frozen this week" in page
    assert "changed\n" in page.split("<textarea", 1)[1]
    assert tree_bytes(site) == before
    db.session.rollback()
    assert db.session.scalar(select(func.count(ContentVersion.id))) == versions
    assert git(repo, "status", "--porcelain", "--", "content").strip() == ""


def test_two_mentors_saving_at_once_both_land_one_after_the_other(app, repo, site, mentor, make_user):
    """Saves are serialised: both commits exist and each synced version names its own commit."""
    make_user("mentor", email="second@example.com", name="Second Mentor")
    write_content(site, {"courses/py-data/course.md": COURSE.replace(
        "  - mentor@example.com", "  - mentor@example.com\n  - second@example.com")})
    git(repo, "commit", "-qam", "Second mentor")
    assert sync_tree(site).errors == []
    jobs = []
    for email, lesson in (("mentor@example.com", "setup"), ("second@example.com", "reading-data")):
        client = app.test_client()
        login(client, email)
        data = fields(client.get(f"{EDIT}/lessons/{lesson}").get_data(as_text=True))
        data.update(body=f"Saved by {email}\n", save="Save")
        jobs.append((client, f"{EDIT}/lessons/{lesson}", data))
    results = []
    threads = [threading.Thread(target=lambda j=j: results.append(j[0].post(j[1], data=j[2]).status_code))
               for j in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [302, 302]
    log = git(repo, "log", "-2", "--format=%H %ae").split("\n")
    assert {line.split()[1] for line in log if line} == {"mentor@example.com", "second@example.com"}
    db.session.rollback()
    for line in filter(None, log):
        commit, email = line.split()
        assert db.session.scalar(select(func.count(ContentVersion.id)).where(ContentVersion.commit_id == commit)) == 1


def test_the_rubric_table_works_without_javascript(site, mentor, client):
    """Add rows re-renders the form with more rows; a filled rubric becomes valid front matter."""
    url = f"{EDIT}/assignments/new"
    data = fields(client.get(url).get_data(as_text=True))
    data.update({"slug": "weekly-report", "title": "周报", "due": "2027-03-01T23:59", "due_offset": "+08:00",
                 "points": "10", "files": "zip, .PDF", "body": "写一份周报。", "more_rows": "Add rows",
                 "rubric-0-criterion": "结论", "rubric-0-levels-0-points": "6", "rubric-0-levels-0-label": "清楚",
                 "rubric-0-levels-1-points": "0", "rubric-0-levels-1-label": "缺失"})
    page = client.post(url, data=data).get_data(as_text=True)
    assert 'name="rubric-0-levels-2-points"' in page and 'name="rubric-1-criterion"' in page
    data = fields(page)
    data.update({"rubric-1-criterion": "图表", "rubric-1-description": "有标题和单位",
                 "rubric-1-levels-0-points": "4", "rubric-1-levels-0-label": "完整", "save": "Save"})
    response = client.post(url, data=data)
    assert response.status_code == 302, error_of(response.get_data(as_text=True), "rubric")
    text = (site / "courses/py-data/assignments/weekly-report.md").read_text(encoding="utf-8")
    assert "due: 2027-03-01T23:59:00+08:00\n" in text and "files:\n    - .zip\n    - .pdf\n" in text
    assignment = db.session.scalar(select(Assignment).where(Assignment.slug == "weekly-report"))
    assert [c["criterion"] for c in assignment.rubric] == ["结论", "图表"] and assignment.points == 10
    page = client.get("/courses/py-data/assignments/weekly-report").get_data(as_text=True)
    assert "有标题和单位" in page


def test_an_unchanged_assignment_keeps_its_bytes(site, mentor, client):
    before = (site / "courses/py-data/assignments/final-project.md").read_bytes()
    response = save(client, f"{EDIT}/assignments/final-project")
    assert response.status_code == 302
    assert "Nothing changed, so nothing was saved." in flashes(client, response.headers["Location"])
    assert (site / "courses/py-data/assignments/final-project.md").read_bytes() == before


def test_the_course_description_and_who_may_change_its_mentors(app, site, mentor, client, make_user):
    """Mentors edit the description and safe fields; the mentor list is the admins' (a mentor's edit is ignored)."""
    response = save(client, EDIT, summary="新的简介。", body="## 新的介绍\n",
                    mentors="attacker@example.com", published="")
    assert response.status_code == 302
    text = (site / "courses/py-data/course.md").read_text(encoding="utf-8")
    assert "summary: 新的简介。" in text and "published: false" in text
    assert "attacker@example.com" not in text and "mentor@example.com" in text
    make_user("admin", email="admin@example.com")
    admin = app.test_client()
    login(admin, "admin@example.com")
    assert save(admin, EDIT, mentors="mentor@example.com\nnew.mentor@example.com").status_code == 302
    assert "new.mentor@example.com" in (site / "courses/py-data/course.md").read_text(encoding="utf-8")


def test_lessons_are_reordered_with_move_buttons(site, mentor, client):
    page = client.get(f"{EDIT}/order").get_data(as_text=True)
    data = fields(page)
    moved = client.post(f"{EDIT}/order", data={**data, "move": "down:setup"})
    assert moved.status_code == 200
    data = fields(moved.get_data(as_text=True))
    assert data["order"] == "reading-data,setup"
    assert client.post(f"{EDIT}/order", data={**data, "save": "Save order"}).status_code == 302
    assert sorted(p.name for p in (site / "courses/py-data/lessons").iterdir()) == \
        ["01-reading-data.md", "02-setup.md"]
    lessons = db.session.scalars(select(Lesson).order_by(Lesson.position)).all()
    assert [lesson.slug for lesson in lessons] == ["reading-data", "setup"]
    stale = client.post(f"{EDIT}/order", data={**data, "save": "Save order"})  # the page's listing is old now
    assert stale.status_code == 409


@pytest.mark.parametrize("name,data,message", [
    ("evil.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "SVG images"),
    ("a.png.html", PNG_1PX, "not an image of an accepted type"),
    ("a.html.png", PNG_1PX, "more than one extension"),
    ("fake.png", b"<html><script>alert(1)</script></html>", "does not look like a .png file"),
    ("empty.png", b"", "is empty"),
])
def test_uploads_that_are_not_safe_images_are_refused(site, mentor, client, name, data, message):
    before = tree_bytes(site)
    page = client.get(f"{EDIT}/assets").get_data(as_text=True)
    response = client.post(f"{EDIT}/assets", data={**fields(page), "image": (io.BytesIO(data), name)},
                           content_type="multipart/form-data")
    assert response.status_code == 400
    assert message in html.unescape(error_of(response.get_data(as_text=True), "image"))
    assert tree_bytes(site) == before


def test_an_image_is_uploaded_committed_and_served(app, repo, site, mentor, client):
    page = client.get(f"{EDIT}/assets").get_data(as_text=True)
    response = client.post(f"{EDIT}/assets", data={**fields(page), "image": (io.BytesIO(PNG_1PX), "Cold Room.png")},
                           content_type="multipart/form-data")
    assert response.status_code == 302
    assert (site / "courses/py-data/assets/cold-room.png").read_bytes() == PNG_1PX
    assert git(repo, "log", "-1", "--format=%ae").strip() == "mentor@example.com"
    served = client.get("/courses/py-data/assets/cold-room.png")
    assert served.status_code == 200 and served.mimetype == "image/png"
    page = client.get(f"{EDIT}/assets").get_data(as_text=True)
    again = client.post(f"{EDIT}/assets", data={**fields(page), "image": (io.BytesIO(PNG_1PX), "cold-room.png")},
                        content_type="multipart/form-data")
    assert again.status_code == 400 and "exists already" in html.unescape(again.get_data(as_text=True))
    app.config["LMS_MAX_ASSET_MB"] = 1
    big = client.post(f"{EDIT}/assets", data={**fields(page), "image": (io.BytesIO(PNG_1PX + bytes(2 ** 20)), "big.png")},
                      content_type="multipart/form-data")
    assert big.status_code == 400 and "larger than the limit" in html.unescape(big.get_data(as_text=True))
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "content.asset_uploaded"))
    assert entry.details["path"] == "courses/py-data/assets/cold-room.png" and entry.details["previous_hash"] is None


def test_mentors_view_an_unpublished_course_as_a_student_will(app, site, mentor, client, make_user):
    """Student view drops the mentor's links and banner and shows the student's enroll box; students still get 404."""
    write_content(site, {"courses/py-data/course.md": COURSE.replace("level: beginner", "level: beginner\npublished: false")})
    assert sync_tree(site).errors == []
    page = client.get("/courses/py-data").get_data(as_text=True)
    assert "Preview: this course is unpublished" in page and "Edit course" in page
    response = client.post(f"{EDIT}/student-view", data={"on": "1", "next": "/courses/py-data/lessons/setup",
                                                          "csrf_token": csrf_token(client, "/courses/py-data")})
    assert response.headers["Location"] == "/courses/py-data/lessons/setup"
    for url in ("/courses/py-data", "/courses/py-data/lessons/setup", "/courses/py-data/assignments/final-project"):
        page = client.get(url).get_data(as_text=True)
        assert "as students will see it once it is published" in page, url
        assert "Edit course" not in page and "Edit this lesson" not in page and "Grading queue" not in page, url
        assert "Preview: this course is unpublished" not in page
    assert "Enroll for free" in client.get("/courses/py-data").get_data(as_text=True)
    assert "Your work" in client.get("/courses/py-data/assignments/final-project").get_data(as_text=True)
    client.post(f"{EDIT}/student-view", data={"on": "0", "csrf_token": csrf_token(client, "/courses/py-data")})
    assert "Edit course" in client.get("/courses/py-data").get_data(as_text=True)
    make_user("student", email="s@example.com")
    student = app.test_client()
    login(student, "s@example.com")
    assert student.get("/courses/py-data").status_code == 404
    off_site = client.post(f"{EDIT}/student-view", data={"on": "1", "next": "https://evil.example/",
                                                          "csrf_token": csrf_token(client, "/courses/py-data")})
    assert off_site.headers["Location"] == "/courses/py-data"


def test_a_file_removed_meanwhile_keeps_the_mentors_text(site, mentor, client):
    """Saving over a lesson deleted since the page was opened: 409, the text stays on the page, nothing is written."""
    url = f"{EDIT}/lessons/reading-data"
    data = fields(client.get(url).get_data(as_text=True))
    (site / "courses/py-data/lessons/02-reading-data.md").unlink()
    data.update(body="My careful rewrite.\n", save="Save")
    response = client.post(url, data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "removed or renamed in the meantime" in page and "My careful rewrite." in page
    assert not (site / "courses/py-data/lessons/02-reading-data.md").exists()
    assert client.get(url).status_code == 404


def test_a_lesson_renumbered_meanwhile_is_saved_under_its_new_name(site, mentor, client):
    """Moving a lesson does not change its text, so an editor opened before the move still saves."""
    url = f"{EDIT}/lessons/setup"
    data = fields(client.get(url).get_data(as_text=True))
    (site / SETUP).rename(site / "courses/py-data/lessons/05-setup.md")
    data.update(body="After the move.\n", save="Save")
    assert client.post(url, data=data).status_code == 302
    assert (site / "courses/py-data/lessons/05-setup.md").read_text(encoding="utf-8").endswith("After the move.\n")
    assert not (site / SETUP).exists()


def test_a_case_the_database_does_not_know_yet_is_kept(site, mentor, client):
    """A case named in the file but not synced yet stays ticked in the form, so a save never drops it."""
    write_content(site, {"cases/new-case.md": "---\ntitle: 新案例\ncompany: Example Co.\nindustry: logistics\n"
                                              "summary: 一个新案例。\n---\n正文\n",
                         "courses/py-data/lessons/02-reading-data.md":
                             "---\ntitle: 第二课：读取数据\ncases: [new-case]\n---\n## 读取 CSV\n"})
    response = save(client, f"{EDIT}/lessons/reading-data", body="## 读取 CSV\n\n更多内容。\n")
    assert response.status_code == 302
    text = (site / "courses/py-data/lessons/02-reading-data.md").read_text(encoding="utf-8")
    assert "new-case" in text and "更多内容。" in text


def test_enter_saves_and_an_empty_description_gets_the_default_message(repo, site, mentor, client):
    """A form sent without naming a button (Enter in a field) saves; an empty description becomes the default."""
    data = fields(client.get(f"{EDIT}/lessons/setup").get_data(as_text=True))
    data.update(body="Pressed Enter.\n", message="  ")
    assert client.post(f"{EDIT}/lessons/setup", data=data).status_code == 302
    assert git(repo, "log", "-1", "--format=%s").strip() == "Edit lesson setup of py-data"


def test_the_preview_endpoint_renders_plain_markdown_too(site, mentor, client):
    token = csrf_token(client, EDIT)
    response = client.post(f"{EDIT}/preview", data={"markdown": "| a |\n|---|\n| <i onclick=x>1</i> |\n"},
                           headers={"X-CSRFToken": token})
    assert response.status_code == 200
    assert "<table>" in response.get_json()["html"] and "onclick" not in response.get_data(as_text=True)
