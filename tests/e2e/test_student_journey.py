"""A student's whole first visit, in a real Chromium on the demo content, on both databases.

Elements are found by id, class, form action or ARIA role, not by Chinese or English wording,
because the zh_CN translations change; English text is only checked after switching to English.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD

pytestmark = pytest.mark.e2e

EMAIL = "lin.xiaoyu@students.example.edu.cn"
NAME = "林小雨"



def progress_value(page: Page, selector: str) -> int:
    bar = page.locator(selector)
    expect(bar).to_be_visible()
    return int(bar.get_attribute("value"))


def switch_language(page: Page, code: str) -> None:
    """Use the header form (select #lang-select + its submit button)."""
    form = page.locator("header form.language-form")
    form.locator("#lang-select").select_option(code)
    form.locator("[type=submit]").click()


def test_student_registers_enrolls_learns_and_signs_in_again(page: Page, demo_site, screenshot):
    """Register, switch to English and back, enroll, read, complete and undo, sign out and in again."""
    base = demo_site
    page.set_extra_http_headers({"Accept-Language": "zh-CN,zh;q=0.9"})
    html = page.locator("html")

    # The front page, in Chinese by default.
    page.goto(base + "/")
    expect(html).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    screenshot(page, "journey-01-front")

    # Register through the header link.
    page.locator("header .account a[href$='/auth/register']").click()
    expect(page).to_have_url(re.compile(r"/auth/register$"))
    expect(page.locator("#language")).to_have_value("zh_CN")  # preselected from the interface language
    page.locator("#email").fill(EMAIL)
    page.locator("#name").fill(NAME)
    page.locator("#password").fill(PASSWORD)
    page.locator("#confirm").fill(PASSWORD)
    screenshot(page, "journey-02-register")
    page.locator("form[action$='/auth/register'] [type=submit]").click()

    # The dashboard, empty, with a welcome message and the student's name in the header.
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.locator(".flash-success")).to_contain_text(NAME)
    expect(page.locator("main .empty")).to_be_visible()
    expect(page.locator("main a.button[href='/']")).to_be_visible()
    expect(page.locator("header .account")).to_contain_text(NAME)
    expect(html).to_have_attribute("lang", "zh-CN")
    screenshot(page, "journey-03-dashboard-empty")

    # Switch the interface to English with the header form: same page, now in English.
    switch_language(page, "en")
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(html).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("My courses")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.locator("main .empty")).to_have_text("You have not enrolled in a course yet.")
    screenshot(page, "journey-04-dashboard-en")

    # And back to Chinese, this time through the English label and button names.
    page.get_by_label("Interface language").select_option("zh_CN")
    page.get_by_role("button", name="Switch", exact=True).click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(html).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("heading", level=1)).not_to_have_text("My courses")

    # Open the Chinese course from the catalog (header "Courses" link).
    page.locator("header nav a[href='/']").click()
    expect(page.locator(".course-card").first).to_be_visible()
    page.locator(".course-card a[lang='zh-CN']").first.click()
    expect(page).to_have_url(re.compile(r"/courses/[^/]+$"))
    course_url = page.url
    first_lesson_href = page.locator(".lesson-list a").first.get_attribute("href")
    lesson_count = page.locator(".lesson-list li").count()
    assert lesson_count >= 2
    enroll = page.locator(".enroll-box form[action$='/enroll'] [type=submit]")
    expect(enroll).to_be_visible()
    screenshot(page, "journey-05-course")

    # Enroll: the site takes the student straight to the first lesson.
    enroll.click()
    expect(page).to_have_url(re.compile(re.escape(first_lesson_href) + "$"))
    expect(page.locator(".flash-success")).to_be_visible()
    expect(page.locator(".lesson .prose")).to_be_visible()
    before = progress_value(page, "#lesson-course-progress")
    assert before == 0
    complete = page.locator("#progress form[action$='/complete'] [type=submit]")
    expect(complete).to_be_visible()
    screenshot(page, "journey-06-lesson")

    # Read it to the end and mark it complete.
    complete.scroll_into_view_if_needed()
    complete.click()
    expect(page).to_have_url(re.compile(re.escape(first_lesson_href) + "#progress$"))
    expect(page.locator("#progress .done-note")).to_be_visible()
    expect(page.locator("#progress form[action$='/incomplete'] [type=submit]")).to_be_visible()
    expect(page.locator("#progress form[action$='/complete']")).to_have_count(0)
    after = progress_value(page, "#lesson-course-progress")
    assert after > before
    assert after == round(100 / lesson_count)
    screenshot(page, "journey-07-lesson-complete")

    # My courses: the course with non-zero progress and a link to continue.
    page.locator("header nav a[href$='/dashboard']").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    cards = page.locator("main .card")
    expect(cards).to_have_count(1)
    assert progress_value(page, "main .card progress") == after
    continue_link = cards.locator("a.button[href*='/lessons/']")
    expect(continue_link).to_be_visible()
    screenshot(page, "journey-08-dashboard-progress")

    # Back to the lesson through the course page (which ticks it off), and undo the completion.
    cards.locator(".card-title a").click()
    expect(page).to_have_url(course_url)
    expect(page.locator(".lesson-list li").first).to_have_class(re.compile(r"\bdone\b"))
    expect(page.locator("#course-progress")).to_have_attribute("value", str(after))
    page.locator(".lesson-list li.done a").click()
    page.locator("#progress form[action$='/incomplete'] [type=submit]").click()
    expect(page.locator("#progress .done-note")).to_have_count(0)
    expect(page.locator("#progress form[action$='/complete'] [type=submit]")).to_be_visible()
    assert progress_value(page, "#lesson-course-progress") == before
    screenshot(page, "journey-09-lesson-undone")

    # Sign out with the header button.
    page.locator("header form[action$='/auth/logout'] [type=submit]").click()
    expect(page).to_have_url(base + "/")
    expect(page.locator("header .account a[href$='/auth/login']")).to_be_visible()
    expect(page.locator("header form[action$='/auth/logout']")).to_have_count(0)
    expect(html).to_have_attribute("lang", "zh-CN")
    screenshot(page, "journey-10-signed-out")

    # The dashboard is now behind the sign-in page.
    page.goto(base + "/dashboard")
    expect(page).to_have_url(re.compile(r"/auth/login\?next=%2Fdashboard$"))
    screenshot(page, "journey-11-login-required")

    # Sign in again with the same credentials: back on the dashboard, the course still there.
    page.locator("#email").fill(EMAIL)
    page.locator("#password").fill(PASSWORD)
    page.locator("form[action*='/auth/login'] [type=submit]").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.locator("header .account")).to_contain_text(NAME)
    expect(page.locator("main .card")).to_have_count(1)
    assert progress_value(page, "main .card progress") == before
    expect(html).to_have_attribute("lang", "zh-CN")
    screenshot(page, "journey-12-signed-in-again")
