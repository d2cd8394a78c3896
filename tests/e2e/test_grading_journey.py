"""A project is handed in, graded on the rubric and regraded, in a real Chromium, on both databases.

The student and the mentor each use their own browser context (their own cookies), both with the
English interface (their account's language), so the pages are driven by their English labels,
button names and ARIA roles: the test also proves that every field of the forms has a working label.
Course, assignment and rubric wording (代码质量, 6 · 优秀, ...) comes from the content, not from a
translation catalog.
"""
from __future__ import annotations

import re
import zipfile

import pytest
from playwright.sync_api import Page, expect

from lms.services.content import sync_tree
from tests.conftest import PASSWORD, write_content
from tests.samples import valid_tree

pytestmark = pytest.mark.e2e

STUDENT_EMAIL, STUDENT_NAME = "lin.xiaoyu@students.example.edu.cn", "林小雨"
MENTOR_EMAIL, MENTOR_NAME = "mentor@example.com", "Mentor Chen"  # a mentor of py-data in valid_tree()
COURSE_TITLE, ASSIGNMENT_TITLE = "Python 数据分析入门", "期末项目"
ENGLISH = {"Accept-Language": "en"}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def grading_site(app, content_dir, live_server, make_user):
    """valid_tree()'s course (final-project: rubric 代码质量 6/3, 报告 4/0), a student and its mentor."""
    write_content(content_dir, valid_tree())
    result = sync_tree(content_dir)
    assert result.errors == [], result.errors
    make_user("student", email=STUDENT_EMAIL, name=STUDENT_NAME, locale="en")
    make_user("mentor", email=MENTOR_EMAIL, name=MENTOR_NAME, locale="en")
    return live_server


def sign_in(page: Page, base: str, email: str) -> None:
    page.goto(base + "/")
    page.get_by_role("link", name="Sign in", exact=True).click()
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.locator("header .account")).to_contain_text(STUDENT_NAME if email == STUDENT_EMAIL else MENTOR_NAME)


def flash(page: Page):
    return page.get_by_role("status")


def no_sideways_scroll(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def test_student_hands_in_mentor_grades_and_answers_a_regrade(page: Page, new_context, grading_site, tmp_path,
                                                               screenshot):
    """Hand in a zip and Markdown, grade and release it, regrade one criterion: each step visible to the other side."""
    base = grading_site
    page.set_extra_http_headers(ENGLISH)

    # --- The student signs in, enrolls and opens the assignment.
    sign_in(page, base, STUDENT_EMAIL)
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Courses", exact=True).click()
    page.get_by_role("link", name=COURSE_TITLE).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(COURSE_TITLE)
    page.get_by_role("button", name="Enroll for free").click()
    expect(flash(page)).to_be_visible()
    page.get_by_role("navigation", name="Breadcrumbs").get_by_role("link", name=COURSE_TITLE).click()
    page.get_by_role("region", name="Assignments").get_by_role("link", name=ASSIGNMENT_TITLE).click()
    expect(page).to_have_url(re.compile(r"/courses/py-data/assignments/final-project$"))
    your_work = page.get_by_role("region", name="Your work")
    expect(your_work).to_contain_text("Nothing handed in yet.")

    # --- Hand in a real zip and a Markdown answer.
    your_work.get_by_role("link", name="Hand in your work").click()
    expect(page).to_have_url(re.compile(r"/courses/py-data/assignments/final-project/submit$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Hand in: {ASSIGNMENT_TITLE}")
    archive = tmp_path / "final-report.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("report/README.md", "# 冷链分析\n\n温度超标 3 次。\n")
        zf.writestr("report/analysis.py", "import pandas as pd\nprint(pd.__version__)\n")
    files = page.get_by_label("Files")
    expect(files).to_have_attribute("accept", ".zip,.pdf")
    files.set_input_files(archive)
    assert page.get_by_label("Repository link").get_attribute("required") is None  # optional for this assignment
    page.get_by_label("Written answer").fill("## Findings\n\nThe cold room went **above 8 °C** three times.\n\n"
                                             "- sensor A: 2 times\n- sensor B: 1 time\n")
    screenshot(page, "grading-01-submit")
    page.get_by_role("button", name="Hand in", exact=True).click()

    # Attempt 1, with the file and the rendered Markdown, not graded yet.
    expect(page).to_have_url(re.compile(r"/courses/py-data/assignments/final-project/attempts/1$"))
    student_attempt_url = page.url
    expect(flash(page)).to_contain_text("Attempt 1 was handed in.")
    expect(page.get_by_role("heading", level=1)).to_have_text("Attempt 1")
    expect(page.get_by_role("link", name="final-report.zip")).to_be_visible()
    answer = page.locator(".prose.answer")
    expect(answer.get_by_role("heading", name="Findings")).to_be_visible()
    expect(answer.locator("strong")).to_have_text("above 8 °C")
    expect(answer.get_by_role("listitem")).to_have_count(2)
    grade_region = page.get_by_role("region", name="Grade")
    expect(grade_region).to_contain_text("Not graded yet.")
    expect(page.get_by_role("button", name="Request a regrade")).to_have_count(0)

    # --- The mentor, in another browser, grades it from the queue.
    mentor = new_context(extra_http_headers=ENGLISH).new_page()
    sign_in(mentor, base, MENTOR_EMAIL)
    mentor.get_by_role("navigation", name="Main").get_by_role("link", name="Grading", exact=True).click()
    expect(mentor).to_have_url(re.compile(r"/grading/$"))
    expect(mentor.get_by_role("heading", level=1)).to_have_text("Grading queue")
    queue = mentor.get_by_role("table", name="Attempts to grade")
    expect(queue.get_by_role("row", name=re.compile(STUDENT_NAME))).to_contain_text("Not graded")
    mentor.get_by_role("link", name="Next ungraded attempt").click()
    expect(mentor).to_have_url(re.compile(r"/grading/attempts/\d+$"))
    grading_url = mentor.url
    expect(mentor.get_by_role("heading", level=1)).to_contain_text(STUDENT_NAME)
    expect(mentor.get_by_role("link", name="final-report.zip")).to_be_visible()
    expect(mentor.locator(".prose.answer strong")).to_have_text("above 8 °C")

    code = mentor.get_by_role("group", name="代码质量")
    report = mentor.get_by_role("group", name="报告")
    code.get_by_label("3 · 合格").check()
    code.get_by_label("Comment (optional)").fill("Split the cleaning into functions.")
    report.get_by_label("4 · 优秀").check()
    mentor.get_by_label("Feedback to the student").fill(
        "Good work overall.\n\n**Next time** add tests for `clean()`:\n\n1. empty file\n2. missing sensor\n")
    expect(code.get_by_label("3 · 合格")).to_be_checked()
    expect(code.get_by_label("6 · 优秀")).not_to_be_checked()
    screenshot(mentor, "grading-02-mentor-grading")
    mentor.get_by_role("button", name="Release to student").click()
    expect(mentor).to_have_url(grading_url)
    expect(flash(mentor)).to_contain_text("Grade released to the student.")
    expect(mentor.locator(".page-header")).to_contain_text("Released")
    expect(code.get_by_label("3 · 合格")).to_be_checked()  # the saved grade is shown again

    # --- The student reloads and sees the score, the comment and the rendered feedback.
    page.reload()
    expect(grade_region.locator(".score")).to_have_text(re.compile(r"^\s*7\s*/\s*10\s*$"))
    awarded = grade_region.get_by_role("table", name="Rubric levels awarded")
    code_row = awarded.get_by_role("row", name=re.compile("代码质量"))
    expect(code_row).to_contain_text("合格")
    expect(code_row).to_contain_text("Split the cleaning into functions.")
    expect(code_row.get_by_role("cell").last).to_have_text("3")
    expect(awarded.get_by_role("row", name=re.compile("报告"))).to_contain_text("优秀")
    feedback = grade_region.locator(".prose.feedback")
    expect(feedback.locator("strong")).to_have_text("Next time")
    expect(feedback.locator("code")).to_have_text("clean()")
    expect(feedback.get_by_role("listitem")).to_have_text(["empty file", "missing sensor"])
    expect(feedback).not_to_contain_text("**")
    page.set_viewport_size(PHONE)
    screenshot(page, "grading-03-student-graded-phone")
    overflow = no_sideways_scroll(page)
    assert overflow <= 1, f"the graded attempt scrolls sideways by {overflow}px on a phone"

    # --- The student asks for 代码质量 to be looked at again.
    regrades = page.get_by_role("region", name="Regrade requests")
    page.get_by_label("Criterion").select_option(label="代码质量")
    reason = "The cleaning is already split into clean() and load()."
    page.get_by_label("Why should it be looked at again?").fill(reason)
    page.get_by_role("button", name="Request a regrade").click()
    expect(page).to_have_url(re.compile(r"/attempts/1#regrade$"))
    expect(flash(page)).to_contain_text("Your regrade request was sent to the mentors.")
    expect(regrades.get_by_role("listitem")).to_contain_text(["Waiting for the mentor"])
    expect(regrades).to_contain_text(reason)
    expect(page.get_by_label("Criterion").get_by_role("option")).to_have_text(["报告"])  # one request per criterion

    # --- The mentor finds the request in the queue and accepts it with a new level.
    mentor.get_by_role("navigation", name="Main").get_by_role("link", name="Grading", exact=True).click()
    row = mentor.get_by_role("table", name="Attempts to grade").get_by_role("row", name=re.compile(STUDENT_NAME))
    expect(row).to_contain_text("Regrade requested")
    row.get_by_role("link", name=STUDENT_NAME).click()
    expect(mentor).to_have_url(grading_url)
    requests = mentor.get_by_role("region", name="Regrade requests")
    request = requests.get_by_role("article").filter(has=mentor.get_by_role("heading", name="代码质量"))
    expect(request).to_contain_text(reason)
    request.get_by_label("Accept with a new level").check()
    request.get_by_label("New level", exact=True).select_option(label="6 · 优秀")
    request.get_by_label("Answer to the student").fill("You are right, I missed load(). Full marks.")
    request.get_by_role("button", name="Send answer").click()
    expect(flash(mentor)).to_contain_text("Your answer was sent to the student.")
    expect(request).to_contain_text("Accepted")
    expect(request).to_contain_text("You are right, I missed load(). Full marks.")
    expect(request.get_by_role("button", name="Send answer")).to_have_count(0)
    expect(code.get_by_label("6 · 优秀")).to_be_checked()  # the grade form shows the new level

    # --- The student reloads and sees the new score and the mentor's answer.
    page.reload()
    expect(page).to_have_url(student_attempt_url + "#regrade")
    expect(grade_region.locator(".score")).to_have_text(re.compile(r"^\s*10\s*/\s*10\s*$"))
    expect(code_row).to_contain_text("优秀")
    expect(code_row.get_by_role("cell").last).to_have_text("6")
    expect(regrades.get_by_role("listitem")).to_contain_text(["Accepted"])
    expect(regrades).to_contain_text("Mentor's answer: You are right, I missed load(). Full marks.")
    screenshot(page, "grading-04-student-regraded-phone")
    overflow = no_sideways_scroll(page)
    assert overflow <= 1, f"the regraded attempt scrolls sideways by {overflow}px on a phone"

    # The assignment page sums it up.
    page.get_by_role("navigation", name="Breadcrumbs").get_by_role("link", name=ASSIGNMENT_TITLE).click()
    expect(page.get_by_role("region", name="Your work")).to_contain_text("Grade: 10 / 10")
