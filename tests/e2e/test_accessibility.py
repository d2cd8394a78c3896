"""axe-core finds no serious or critical accessibility problem on the pages a student uses.

Every page is checked in the Chinese and in the English interface, on both databases, with the
real Content-Security-Policy in force. Each test visits all its pages and then reports every
page's violations together, so one run shows the whole picture.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from lms.services.accounts import create_user
from tests.conftest import PASSWORD
from tests.e2e.axe import assert_no_serious_violations

pytestmark = pytest.mark.e2e

# interface language -> (Accept-Language header, html lang attribute, locale code, course language)
LANGUAGES = {
    "zh-CN": ("zh-CN,zh;q=0.9", "zh-CN", "zh_CN", "zh-CN"),
    "en": ("en", "en", "en", "en"),
}



class Audit:
    """Runs the axe check on page after page and fails once, at the end, with all findings."""

    def __init__(self, page: Page, html_lang: str):
        self.page, self.html_lang, self.failures, self.checked = page, html_lang, [], []

    def check(self, context: str) -> None:
        expect(self.page.locator("html")).to_have_attribute("lang", self.html_lang)
        self.checked.append(context)
        try:
            assert_no_serious_violations(self.page, context)
        except AssertionError as exc:
            self.failures.append(str(exc))

    def finish(self) -> None:
        if self.failures:
            pytest.fail(f"{len(self.failures)} of {len(self.checked)} pages have serious accessibility "
                        "violations:\n\n" + "\n\n".join(self.failures), pytrace=False)


def open_course(page: Page, base: str, course_language: str) -> str:
    """From the catalog, open the course taught in ``course_language``; return its URL."""
    page.goto(base + "/")
    page.locator(f".course-card a[lang='{course_language}']").first.click()
    expect(page).to_have_url(re.compile(r"/courses/[^/]+$"))
    return page.url


@pytest.mark.parametrize("ui", list(LANGUAGES))
def test_public_pages_are_accessible(page: Page, demo_site, ui):
    """axe-core finds no serious or critical violation on the public and sign-in pages, error states included."""
    accept, html_lang, _locale, course_language = LANGUAGES[ui]
    page.set_extra_http_headers({"Accept-Language": accept})
    audit = Audit(page, html_lang)

    page.goto(demo_site + "/")
    expect(page.locator(".course-card").first).to_be_visible()
    audit.check(f"the catalog ({ui})")

    open_course(page, demo_site, course_language)
    expect(page.locator(".lesson-list a").first).to_be_visible()
    audit.check(f"a course page ({ui})")

    page.locator(".lesson-list a").first.click()
    expect(page.locator(".lesson .prose")).to_be_visible()
    audit.check(f"a lesson page ({ui})")

    page.locator("nav.breadcrumbs a[href^='/courses/']").click()
    page.locator(".assignment-list a").first.click()
    expect(page.locator("table.rubric")).to_be_visible()
    audit.check(f"an assignment page ({ui})")

    page.goto(demo_site + "/cases")
    page.locator(".card a").first.click()
    expect(page.locator("article .prose")).to_be_visible()
    audit.check(f"an enterprise case page ({ui})")

    page.goto(demo_site + "/auth/login")
    expect(page.locator("#email")).to_be_visible()
    audit.check(f"the sign-in page ({ui})")

    page.locator("#email").fill("nobody@example.com")
    page.locator("#password").fill("not-the-password-1")
    page.locator("form[action*='/auth/login'] [type=submit]").click()
    expect(page.locator(".flash-error")).to_be_visible()
    audit.check(f"the sign-in page after a wrong password ({ui})")

    page.goto(demo_site + "/auth/register")
    expect(page.locator("#email")).to_be_visible()
    audit.check(f"the register page ({ui})")

    # A submit with errors: empty name, a too short password, a confirmation that does not match.
    page.locator("#email").fill("new.student@example.com")
    page.locator("#password").fill("short")
    page.locator("#confirm").fill("different")
    page.locator("form[action$='/auth/register'] [type=submit]").click()
    expect(page.locator(".field-invalid").first).to_be_visible()
    for field in ("name", "password", "confirm"):
        expect(page.locator(f"#{field}")).to_have_attribute("aria-invalid", "true")
        expect(page.locator(f"#{field}-error")).to_be_visible()
    audit.check(f"the register page showing errors ({ui})")

    audit.finish()


@pytest.mark.parametrize("ui", list(LANGUAGES))
def test_student_pages_are_accessible(page: Page, demo_site, ui):
    """axe-core finds no serious or critical violation on a signed-in student's pages."""
    accept, html_lang, locale, course_language = LANGUAGES[ui]
    email = f"a11y.{locale.lower()}@students.example.edu.cn"
    create_user(email=email, name="Chen Mei", password=PASSWORD, locale=locale)
    page.set_extra_http_headers({"Accept-Language": accept})
    audit = Audit(page, html_lang)

    page.goto(demo_site + "/auth/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(PASSWORD)
    page.locator("form[action*='/auth/login'] [type=submit]").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.locator("main .empty")).to_be_visible()
    audit.check(f"the empty dashboard ({ui})")

    open_course(page, demo_site, course_language)
    expect(page.locator(".enroll-box form[action$='/enroll']")).to_be_visible()
    audit.check(f"a course page before enrolling ({ui})")

    page.locator(".enroll-box form[action$='/enroll'] [type=submit]").click()
    expect(page.locator("#progress form[action$='/complete']")).to_be_visible()
    audit.check(f"an enrolled lesson page ({ui})")

    page.locator("#progress form[action$='/complete'] [type=submit]").click()
    expect(page.locator("#progress .done-note")).to_be_visible()
    audit.check(f"a completed lesson page ({ui})")

    page.locator("header nav a[href$='/dashboard']").click()
    expect(page.locator("main .card progress")).to_be_visible()
    audit.check(f"the dashboard with a course ({ui})")

    audit.finish()


def test_pages_reflow_on_a_narrow_phone(page: Page, demo_site):
    """WCAG 1.4.10 (reflow): at 320 CSS pixels no page scrolls sideways; wide code and tables scroll inside."""
    page.set_viewport_size({"width": 320, "height": 720})
    page.set_extra_http_headers({"Accept-Language": "zh-CN,zh;q=0.9"})
    page.goto(demo_site + "/")
    urls = ["/", "/cases", "/auth/login", "/auth/register"]
    for course in page.locator(".course-card h3 a").evaluate_all("links => links.map(a => a.pathname)"):
        page.goto(demo_site + course)
        urls.append(course)
        urls += page.locator(".lesson-list a, .assignment-list a").evaluate_all("links => links.map(a => a.pathname)")
    page.goto(demo_site + "/cases")
    urls += page.locator(".card h3 a").evaluate_all("links => links.map(a => a.pathname)")

    too_wide = []
    for url in urls:
        page.goto(demo_site + url)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        if overflow > 1:
            too_wide.append(f"{url}: {overflow}px")
    assert not too_wide, "pages that scroll sideways at 320px:\n" + "\n".join(too_wide)
