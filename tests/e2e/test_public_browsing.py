"""A visitor reads the demo courses in a real Chromium, on both databases."""
from __future__ import annotations


import pytest
from playwright.sync_api import expect


pytestmark = pytest.mark.e2e



def test_visitor_browses_catalog_course_lesson_and_assignment(page, demo_site, screenshot):
    """Filter the catalog, open a course, read lessons with code, table and image, open the brief."""
    page.set_extra_http_headers({"Accept-Language": "en"})
    page.goto(demo_site + "/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    courses = page.locator(".course-card")
    assert courses.count() >= 2
    screenshot(page, "catalog")

    page.get_by_label("Language", exact=True).select_option("en")
    page.get_by_role("button", name="Filter").click()
    assert "language=en" in page.url
    english = page.locator(".course-card")
    expect(english).to_have_count(1)
    english.first.get_by_role("link").click()

    expect(page.locator("#mentors-h")).to_have_text("Mentors")
    expect(page.locator("#lessons-h")).to_have_text("Lessons")
    screenshot(page, "course")
    page.locator(".lesson-list a").first.click()
    expect(page.locator(".prose .codehilite").first).to_be_visible()
    expect(page.locator(".prose table").first).to_be_visible()
    screenshot(page, "lesson")

    # Walk forward until a lesson with an image, checking that the image really loads (CSP, asset route).
    for _ in range(10):
        images = page.locator(".prose img")
        if images.count():
            break
        page.locator("a[rel=next]").click()
    assert page.locator(".prose img").count() > 0, "no lesson of the English course shows an image"
    loaded = page.locator(".prose img").first.evaluate("img => img.complete && img.naturalWidth > 0")
    assert loaded, "the lesson image did not load"


def test_chinese_course_reads_well_on_a_phone(page, demo_site, screenshot):
    """The Chinese course and its assignment brief fit a phone screen without sideways scrolling."""
    page.set_viewport_size({"width": 390, "height": 844})
    page.set_extra_http_headers({"Accept-Language": "zh-CN,zh;q=0.9"})
    page.goto(demo_site + "/?language=zh-CN")
    page.locator(".course-card a").first.click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    screenshot(page, "course-zh-phone")
    assignment = page.locator(".assignment-list a").first
    assignment.click()
    expect(page.locator("table.rubric")).to_be_visible()
    screenshot(page, "assignment-zh-phone")
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"the page scrolls sideways by {overflow}px on a phone"
    for url in ("/courses/python-data-logistics/lessons/getting-started", "/courses/iot-quality-dashboards/lessons/line-and-data"):
        page.goto(demo_site + url)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, f"{url} scrolls sideways by {overflow}px on a phone"
    screenshot(page, "lesson-en-phone")
    page.goto(demo_site + "/cases")
    page.locator(".card a").first.click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    screenshot(page, "case-zh-phone")
