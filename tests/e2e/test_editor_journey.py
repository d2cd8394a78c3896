"""A mentor writes a lesson in the browser, in a real Chromium, on both databases.

The content folder is inside a git repository, as on a server. The mentor uploads an image,
writes a lesson with a table and that image while the live preview follows, and saves; the
commit carries the mentor's name, a student reads the lesson at once, and a second mentor whose
editor was opened before that save is refused and keeps their text. Pages are driven by their
English labels and ARIA roles (the accounts' language is English).
"""
from __future__ import annotations

import re
import subprocess

import pytest
from playwright.sync_api import Page, expect

from lms.services.content import sync_tree
from tests.conftest import PASSWORD, write_content
from tests.e2e.axe import assert_no_serious_violations
from tests.samples import COURSE, PNG_1PX, valid_tree
from tests.services.test_editing import git, init_repo

pytestmark = pytest.mark.e2e

MENTOR, SECOND, STUDENT = "mentor@example.com", "second.mentor@example.com", "lin.xiaoyu@students.example.edu.cn"
NAMES = {MENTOR: "Mentor Chen", SECOND: "Mentor Wang", STUDENT: "林小雨"}
ENGLISH = {"Accept-Language": "en"}
PHONE = {"width": 390, "height": 844}
LESSON_BODY = ("## 冷库温度\n\n每五分钟记录一次温度：\n\n| 时间 | 温度 (°C) |\n|---|---|\n| 08:00 | -18.5 |\n"
               "| 08:05 | -17.9 |\n\n![冷库平面图](../assets/cold-room.png)\n")


@pytest.fixture
def editing_site(app, content_dir, tmp_path, live_server, make_user):
    """valid_tree() with two mentors of py-data, in a git repository at tmp_path, synced; three accounts."""
    write_content(content_dir, valid_tree())
    write_content(content_dir, {"courses/py-data/course.md": COURSE.replace(
        "  - mentor@example.com", f"  - {MENTOR}\n  - {SECOND}")})
    init_repo(tmp_path, content_dir)
    assert sync_tree(content_dir).errors == []
    for email, name in NAMES.items():
        make_user("student" if email == STUDENT else "mentor", email=email, name=name, locale="en")
    return live_server


def sign_in(page: Page, base: str, email: str) -> None:
    page.set_extra_http_headers(ENGLISH)
    page.goto(base + "/auth/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.locator("header .account")).to_contain_text(NAMES[email])


def flash(page: Page):
    return page.get_by_role("status").filter(has=page.locator(".flash"))


def test_a_mentor_writes_a_lesson_a_student_reads_it_and_a_stale_editor_is_refused(
        page: Page, new_context, editing_site, tmp_path, screenshot):
    """Upload, live preview, save and commit as the mentor; the student sees it; the stale second mentor keeps their text."""
    base = editing_site
    sign_in(page, base, MENTOR)

    # --- From the course page into the editor, and an image into assets/.
    page.goto(base + "/courses/py-data")
    page.get_by_role("link", name="Edit course").click()
    expect(page).to_have_url(re.compile(r"/courses/py-data/edit$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Course description")
    screenshot(page, "editor-07-course-description")
    editor_nav = page.get_by_role("navigation", name="Edit this course")
    editor_nav.get_by_role("link", name="Images").click()
    image = tmp_path / "Cold Room.png"
    image.write_bytes(PNG_1PX)
    page.get_by_label("Image", exact=True).set_input_files(image)
    page.get_by_role("button", name="Upload").click()
    expect(page.locator(".flash").first).to_contain_text("Saved and committed as")
    expect(page.get_by_role("cell", name="cold-room.png", exact=True)).to_be_visible()
    assert_no_serious_violations(page, "images page")
    screenshot(page, "editor-08-images")

    # --- A new lesson: the preview follows the typing, and a field's error shows beside it, without a reload.
    editor_nav.get_by_role("link", name="Lessons").click()
    assert_no_serious_violations(page, "lessons page")
    screenshot(page, "editor-09-lessons")
    page.get_by_role("link", name="New lesson").click()
    expect(page).to_have_url(re.compile(r"/courses/py-data/edit/lessons/new$"))
    editor_url = page.url
    page.get_by_label("Slug (the name in the address)").fill("cold-room")
    page.get_by_label("Title", exact=True).fill("第三课：冷库温度")
    page.get_by_label("Minutes (optional)").fill("25")
    page.get_by_label("Text", exact=True).fill(LESSON_BODY)
    preview = page.locator("#preview-pane")
    expect(preview.get_by_role("table")).to_be_visible()
    expect(preview.get_by_role("cell", name="-17.9")).to_be_visible()
    expect(preview.get_by_role("img", name="冷库平面图")).to_have_attribute("src", "/courses/py-data/assets/cold-room.png")
    assert preview.get_by_role("img", name="冷库平面图").evaluate("img => img.complete && img.naturalWidth > 0")
    page.get_by_label("Title", exact=True).fill("")
    expect(page.locator("#title-error")).to_have_text("Give it a title.")
    expect(page.get_by_label("Title", exact=True)).to_have_attribute("aria-invalid", "true")
    assert_no_serious_violations(page, "new lesson editor with an error")
    page.get_by_label("Title", exact=True).fill("第三课：冷库温度")
    expect(page.locator("#title-error")).to_have_count(0)
    page.get_by_label("Text", exact=True).press("End")
    page.get_by_label("Text", exact=True).type("\n温度超过 -15 °C 要报警。")
    expect(preview).to_contain_text("温度超过 -15 °C 要报警。")
    assert page.url == editor_url  # all of it live, no page load
    page.get_by_label("Describe your change").fill("Add the cold room lesson")
    screenshot(page, "editor-01-new-lesson-desktop")
    page.set_viewport_size(PHONE)
    screenshot(page, "editor-02-new-lesson-phone")
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"the editor scrolls sideways by {overflow}px on a phone"
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page).to_have_url(re.compile(r"/courses/py-data/edit/lessons/cold-room$"))
    expect(page.locator(".flash").first).to_contain_text("Saved and committed as")

    # --- git log in the content repository: the mentor is the author.
    log = git(tmp_path, "log", "-2", "--format=%an <%ae>|%cn|%s").splitlines()
    assert log[0] == "Mentor Chen <mentor@example.com>|LMS|Add the cold room lesson"
    assert log[1].startswith("Mentor Chen <mentor@example.com>|LMS|")  # the image
    assert git(tmp_path, "show", "--name-only", "--format=", "HEAD").split() == \
        ["content/courses/py-data/lessons/03-cold-room.md"]

    # --- A student reads the new lesson at once, table and image included.
    student = new_context().new_page()
    sign_in(student, base, STUDENT)
    student.goto(base + "/courses/py-data")
    student.get_by_role("region", name="Lessons").get_by_role("link", name="第三课：冷库温度").click()
    expect(student.get_by_role("heading", level=1)).to_have_text("第三课：冷库温度")
    lesson = student.locator(".prose")
    expect(lesson.get_by_role("table")).to_be_visible()
    expect(lesson).to_contain_text("温度超过 -15 °C 要报警。")
    picture = lesson.get_by_role("img", name="冷库平面图")
    expect(picture).to_be_visible()
    assert picture.evaluate("img => img.complete && img.naturalWidth > 0")
    expect(student.get_by_role("link", name="Edit this lesson")).to_have_count(0)

    # --- The second mentor opens the lesson in the editor; the first saves a change meanwhile.
    second = new_context().new_page()
    sign_in(second, base, SECOND)
    second.goto(base + "/courses/py-data/edit/lessons/cold-room")
    expect(second.get_by_label("Title", exact=True)).to_have_value("第三课：冷库温度")
    page.get_by_label("Text", exact=True).fill(LESSON_BODY + "\n首位导师补充的一行。\n")
    page.get_by_label("Describe your change").fill("Add a note")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".flash").first).to_contain_text("Saved and committed as")
    on_disk = (tmp_path / "content/courses/py-data/lessons/03-cold-room.md").read_text(encoding="utf-8")

    # --- The second mentor's save is refused; their text stays, and the diff shows it against the file.
    their_text = LESSON_BODY + "\n第二位导师的修改。\n"
    second.get_by_label("Text", exact=True).fill(their_text)
    expect(second.locator("#stale-notice")).to_be_visible()  # the live preview noticed already
    second.get_by_role("button", name="Save", exact=True).click()
    alert = second.get_by_role("alert").filter(has_text="Not saved: the file changed since you opened it")
    expect(alert).to_be_visible()
    expect(second.get_by_label("Text", exact=True)).to_have_value(re.compile("第二位导师的修改。"))
    changes = second.get_by_role("region", name="Your text against the current file")
    expect(changes.locator("tr.diff-add")).to_contain_text(["第二位导师的修改。"])
    expect(changes.locator("tr.diff-del")).to_contain_text(["首位导师补充的一行。"])
    assert (tmp_path / "content/courses/py-data/lessons/03-cold-room.md").read_text(encoding="utf-8") == on_disk
    screenshot(second, "editor-03-stale-refused")
    assert_no_serious_violations(second, "refused stale save")
    authors = subprocess.run(["git", "log", "--format=%ae", "--", "content/courses/py-data/lessons/03-cold-room.md"],
                             cwd=tmp_path, capture_output=True, text=True, check=True).stdout.split()
    assert authors == [MENTOR, MENTOR]


def test_a_mentor_edits_an_assignments_rubric_and_views_the_course_as_a_student(page: Page, editing_site, screenshot):
    """The rubric table in the browser (a sum that does not match is flagged beside the points), then student view."""
    base = editing_site
    sign_in(page, base, MENTOR)
    page.goto(base + "/courses/py-data/assignments/final-project")
    page.get_by_role("link", name="Edit this assignment").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit assignment")
    page.get_by_label("Criterion 1, level 1: points").fill("8")
    expect(page.locator("#points-error")).to_have_text(
        "The rubric's highest levels add up to 12, but the assignment is worth 10 points.")
    page.get_by_label("Points", exact=True).fill("12")
    expect(page.locator("#points-error")).to_have_count(0)
    page.get_by_label("Name of criterion 3").fill("演示")
    page.get_by_label("Criterion 3, level 1: points").fill("3")
    page.get_by_label("Criterion 3, level 1: label").fill("清楚")
    page.get_by_label("Points", exact=True).fill("15")
    expect(page.locator("#points-error")).to_have_count(0)
    screenshot(page, "editor-04-rubric-desktop")
    assert_no_serious_violations(page, "assignment editor")
    page.set_viewport_size(PHONE)
    screenshot(page, "editor-05-rubric-phone")
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"the assignment editor scrolls sideways by {overflow}px on a phone"
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_label("Describe your change").fill("Add a demo criterion")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".flash").first).to_contain_text("Saved and committed as")

    page.goto(base + "/courses/py-data/assignments/final-project")
    rubric = page.get_by_role("table", name="How this assignment is graded")
    expect(rubric.get_by_role("row", name=re.compile("演示"))).to_contain_text("清楚")
    page.get_by_role("button", name="View as student").click()
    expect(page.get_by_role("region", name="Student view")).to_contain_text("as a student sees it")
    expect(page.get_by_role("link", name="Edit this assignment")).to_have_count(0)
    expect(page.get_by_role("link", name="Grading queue")).to_have_count(0)
    expect(page.get_by_role("region", name="Your work")).to_contain_text("Enroll in the course before handing in work.")
    screenshot(page, "editor-06-student-view")
    assert_no_serious_violations(page, "student view")
    page.get_by_role("button", name="Leave student view").click()
    expect(page.get_by_role("link", name="Edit this assignment")).to_be_visible()
