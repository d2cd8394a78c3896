"""An enterprise auditor reviews a changed lesson in a real Chromium, on both databases.

The content folder is a git repository. The auditor approves the first version of a lesson that
uses their company's case; a mentor commits a change; the admin syncs it from the admin page; the
auditor sees "Changed since approved", opens the one-click diff, approves the new version, and the
course's audit report (HTML and CSV) lists the new version with its commit and sign-off. Pages are
driven by their English labels and ARIA roles.
"""
from __future__ import annotations

import csv
import io
import re
import subprocess

import pytest
from playwright.sync_api import Page, expect

from lms.services.content import sync_tree
from tests.conftest import PASSWORD, write_content
from tests.samples import LESSON_1, valid_tree

pytestmark = pytest.mark.e2e

AUDITOR_EMAIL, AUDITOR_NAME = "auditor@coldchain.example.com", "Auditor Zhou 周审核"
ADMIN_EMAIL, ADMIN_NAME = "admin@example.com", "Admin Xu"
COMPANY = "Example Cold Chain Co. (illustrative)"  # the company of the sample case port-cold-chain
COURSE_TITLE, LESSON_TITLE = "Python 数据分析入门", "第一课：环境准备"
LESSON_PATH = "courses/py-data/lessons/01-setup.md"
ENGLISH = {"Accept-Language": "en"}


def git(cwd, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def commit_as(content_dir, name: str, email: str, message: str) -> str:
    git(content_dir, "add", "-A")
    git(content_dir, "-c", f"user.name={name}", "-c", f"user.email={email}", "commit", "-q", "-m", message)
    return git(content_dir, "rev-parse", "HEAD")


@pytest.fixture
def audit_site(app, content_dir, live_server, make_user):
    """The sample tree committed to git and synced, an auditor of the case's company and an admin."""
    write_content(content_dir, valid_tree())
    git(content_dir, "init", "-q")
    commit_as(content_dir, "陈静 Chen Jing", "mentor@example.com", "First version of the course")
    assert sync_tree(content_dir).errors == []
    make_user("auditor", email=AUDITOR_EMAIL, name=AUDITOR_NAME, company=COMPANY, locale="en")
    make_user("admin", email=ADMIN_EMAIL, name=ADMIN_NAME, locale="en")
    return live_server


def sign_in(page: Page, base: str, email: str, name: str) -> None:
    page.set_extra_http_headers(ENGLISH)
    page.goto(base + "/auth/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.locator("header .account")).to_contain_text(name)


def lesson_row(page: Page):
    return page.get_by_role("row").filter(has=page.get_by_role("link", name=LESSON_TITLE))


def decide(page: Page, decision: str, comment: str) -> None:
    page.get_by_label(decision).check()
    page.get_by_label("Comment").fill(comment)
    page.get_by_role("button", name="Record decision").click()
    expect(page.get_by_role("status")).to_be_visible()


def test_auditor_sees_a_synced_change_opens_the_diff_approves_and_the_report_lists_it(
        page: Page, new_context, audit_site, content_dir, screenshot):
    base = audit_site

    # --- The auditor approves the lesson's first version.
    sign_in(page, base, AUDITOR_EMAIL, AUDITOR_NAME)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Content review").click()
    page.get_by_role("link", name=COURSE_TITLE).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(COURSE_TITLE)
    expect(lesson_row(page)).to_contain_text("Never reviewed")
    lesson_row(page).get_by_role("link", name="version 1").click()
    decide(page, "Approve this version", "Matches the case as we agreed.")
    page.get_by_role("navigation", name="Breadcrumbs").get_by_role("link", name=COURSE_TITLE).click()
    expect(lesson_row(page)).to_contain_text("Approved")

    # --- A mentor changes the lesson in git (with a line of HTML that must stay text); the admin syncs.
    changed = LESSON_1.replace('print("你好")', 'print("温度")') + "\n## 温度告警\n\n超过 -18°C 时发出 <b>告警</b>。\n"
    write_content(content_dir, {LESSON_PATH: changed})
    commit = commit_as(content_dir, "陈静 Chen Jing", "mentor@example.com", "Lesson 1: temperature alarms")
    admin = new_context().new_page()
    sign_in(admin, base, ADMIN_EMAIL, ADMIN_NAME)
    admin.goto(base + "/admin/content")
    admin.get_by_role("button", name="Sync content now").click()
    expect(admin.get_by_role("status")).to_contain_text("1 updated")

    # --- The auditor sees the change at a glance and opens the one-click diff.
    page.reload()
    row = lesson_row(page)
    expect(row).to_contain_text("Changed since approved")
    expect(page.get_by_text("Audit status:")).to_contain_text("Changed since approved")
    screenshot(page, "audit-course-changed")
    row.get_by_role("link", name="Diff from the approved version").click()
    expect(page).to_have_url(re.compile(r"/audit/lesson/\d+/diff\?from=1&to=2$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Changes from version 1 to version 2")
    added = page.locator("tr.diff-add")
    removed = page.locator("tr.diff-del")
    expect(added.filter(has_text="## 温度告警")).to_have_count(1)
    expect(added.filter(has_text="超过 -18°C 时发出 <b>告警</b>。")).to_have_count(1)  # shown as text
    expect(page.locator(".diff b")).to_have_count(0)
    expect(removed.filter(has_text='print("你好")')).to_have_count(1)
    expect(page.get_by_text(commit[:10])).to_be_visible()
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "audit-diff-phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    # --- The auditor opens the new version and approves it.
    page.get_by_role("link", name="version 2").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Version 2"))).to_be_visible()
    expect(page.locator("article.old-version")).to_contain_text("温度告警")
    decide(page, "Approve this version", "The alarm threshold is right.")
    expect(page.locator(".signoffs")).to_contain_text("The alarm threshold is right.")
    page.get_by_role("navigation", name="Breadcrumbs").get_by_role("link", name=COURSE_TITLE).click()
    expect(lesson_row(page)).to_contain_text("Approved")
    expect(lesson_row(page)).not_to_contain_text("Changed since approved")

    # --- The report lists the new version, its commit and the sign-off.
    page.get_by_role("link", name="Audit report").click()
    report = page.locator("main")
    expect(report).to_contain_text(LESSON_TITLE)
    expect(report).to_contain_text(commit[:10])
    screenshot(page, "audit-report")
    with page.expect_download() as download_info:
        page.goto(base + "/audit/courses/py-data")
        page.get_by_role("link", name="Download report (CSV)").click()
    rows = list(csv.reader(io.StringIO(download_info.value.path().read_text(encoding="utf-8-sig"))))
    current = [r for r in rows if r[3] == LESSON_PATH and r[4] == "2"]
    assert len(current) == 1 and current[0][5] == "yes" and current[0][7] == "Approved" and current[0][9] == commit
    assert any(r[3] == LESSON_PATH and r[4] == "1" for r in rows)  # the history of changes too

    # --- The log shows both sign-offs and the synced version.
    page.goto(base + "/audit/")
    page.get_by_role("link", name="Audit log of these courses").click()
    page.get_by_label("Kind of event").select_option(label="Sign-offs")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table.audit-log tbody tr")).to_have_count(2)
    expect(page.locator("table.audit-log")).to_contain_text(AUDITOR_EMAIL)
    screenshot(page, "audit-log")
