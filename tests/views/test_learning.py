"""Enrollment, lesson progress, "My courses" and where to continue. Both databases."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from lms.extensions import db
from lms.models import Enrollment, LessonProgress
from lms.services.content import sync_tree
from tests.conftest import csrf_token, login, write_content
from tests.samples import COURSE, LESSON_2


@pytest.fixture
def site(synced, client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return synced


@pytest.fixture
def student(site, client, make_user):
    user = make_user("student", email="s@example.com")
    login(client, "s@example.com")
    return user


def post(client, url):
    return client.post(url, data={"csrf_token": csrf_token(client)})


def progress_value(page: str, element_id: str) -> int:
    return int(re.search(rf'<progress id="{element_id}" max="100" value="(\d+)"', page).group(1))


def test_enroll_with_one_click(client, student):
    """Enrolling is one button; it leads to the first lesson; a second click changes nothing."""
    page = client.get("/courses/py-data").get_data(as_text=True)
    assert 'action="/courses/py-data/enroll"' in page
    response = post(client, "/courses/py-data/enroll")
    assert response.headers["Location"] == "/courses/py-data/lessons/setup"
    post(client, "/courses/py-data/enroll")
    assert db.session.scalar(select(func.count()).select_from(Enrollment)) == 1
    assert progress_value(client.get("/courses/py-data").get_data(as_text=True), "course-progress") == 0


def test_mark_complete_and_undo(client, student):
    """A lesson is marked complete and unmarked; the course percentage follows."""
    post(client, "/courses/py-data/enroll")
    post(client, "/courses/py-data/lessons/setup/complete")
    lesson = client.get("/courses/py-data/lessons/setup").get_data(as_text=True)
    assert "You completed this lesson." in lesson and "/lessons/setup/incomplete" in lesson
    assert progress_value(client.get("/courses/py-data").get_data(as_text=True), "course-progress") == 50
    post(client, "/courses/py-data/lessons/setup/complete")  # twice is harmless
    assert db.session.scalar(select(func.count()).select_from(LessonProgress)) == 1
    post(client, "/courses/py-data/lessons/setup/incomplete")
    assert progress_value(client.get("/courses/py-data").get_data(as_text=True), "course-progress") == 0


def test_progress_needs_enrollment(client, student):
    """Marking a lesson of a course one is not enrolled in is refused with a message."""
    response = post(client, "/courses/py-data/lessons/setup/complete")
    assert response.status_code == 302
    assert "Enroll in the course" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(LessonProgress)) == 0


def test_dashboard_shows_progress_and_where_to_continue(client, student):
    """My courses lists each course with a progress bar and a link to the last lesson opened."""
    post(client, "/courses/py-data/enroll")
    post(client, "/courses/py-data/lessons/setup/complete")
    client.get("/courses/py-data/lessons/reading-data")
    page = client.get("/dashboard").get_data(as_text=True)
    course_id = re.search(r'id="progress-(\d+)"', page).group(1)
    assert progress_value(page, f"progress-{course_id}") == 50
    assert "1 of 2 lessons complete (50%)" in page
    assert 'href="/courses/py-data/lessons/reading-data">Continue: 第二课：读取数据' in page


def test_retired_lessons_drop_out_of_the_percentage(client, student, site):
    """When a lesson's file is removed, the percentage counts current lessons only; the history stays."""
    post(client, "/courses/py-data/enroll")
    post(client, "/courses/py-data/lessons/reading-data/complete")
    assert "1 of 2 lessons complete" in client.get("/dashboard").get_data(as_text=True)
    (site / "courses/py-data/lessons/02-reading-data.md").unlink()
    (site / "courses/py-data/assignments/final-project.md").unlink()
    assert sync_tree(site).errors == []
    assert "0 of 1 lessons complete (0%)" in client.get("/dashboard").get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(LessonProgress)) == 1
    write_content(site, {"courses/py-data/lessons/02-reading-data.md": LESSON_2})
    assert sync_tree(site).errors == []
    assert "1 of 2 lessons complete" in client.get("/dashboard").get_data(as_text=True)


def test_staff_cannot_enroll(client, site, make_user):
    """Mentors, auditors and admins do not enroll; the course page says so instead of a button."""
    make_user("mentor", email="m@example.com")
    login(client, "m@example.com")
    assert 'action="/courses/py-data/enroll"' not in client.get("/courses/py-data").get_data(as_text=True)
    assert post(client, "/courses/py-data/enroll").status_code == 403


def test_anonymous_readers_are_invited_to_register(client, site):
    """Reading needs no account; the course page offers registration to enroll."""
    page = client.get("/courses/py-data").get_data(as_text=True)
    assert 'href="/auth/register"' in page and "Create a free account to enroll" in page


def _grow(site, student, n):
    """n more courses with n lessons each, the student enrolled in all with half the lessons done."""
    from lms.models import Course, Lesson

    files = {}
    for c in range(n):
        files[f"courses/c{c}/course.md"] = COURSE.replace("Python 数据分析入门", f"课程 {c}")
        for number in range(1, n + 1):
            files[f"courses/c{c}/lessons/{number:02d}-l{number}.md"] = LESSON_2
    write_content(site, files)
    assert sync_tree(site).errors == []
    for course in db.session.scalars(select(Course).where(Course.slug != "py-data")):
        db.session.add(Enrollment(user_id=student.id, course_id=course.id))
        for lesson in db.session.scalars(select(Lesson).where(Lesson.course_id == course.id)).all()[::2]:
            db.session.add(LessonProgress(user_id=student.id, lesson_id=lesson.id, course_id=course.id))
    db.session.commit()


@pytest.mark.parametrize("url", ["/dashboard", "/courses/py-data", "/courses/py-data/lessons/setup", "/"])
def test_student_pages_run_a_constant_number_of_queries(client, student, site, count_queries, url):
    """The dashboard and course pages run as many queries for 1 course as for 13 courses x 12 lessons."""
    post(client, "/courses/py-data/enroll")
    post(client, "/courses/py-data/lessons/setup/complete")
    client.get(url)
    with count_queries() as small:
        assert client.get(url).status_code == 200
    _grow(site, student, 12)
    client.get(url)
    with count_queries() as large:
        assert client.get(url).status_code == 200
    assert large.count == small.count, "\n".join(large.statements)


def test_mentors_see_their_courses_and_preview_unpublished_ones(client, site, make_user):
    """A mentor's account links to the courses listing its e-mail; unpublished ones can be previewed by them only."""
    write_content(site, {"courses/py-data/course.md": COURSE.replace("level: beginner", "level: beginner\npublished: false")})
    assert sync_tree(site).errors == []
    assert client.get("/courses/py-data").status_code == 404
    make_user("mentor", email="Mentor@Example.com")
    make_user("mentor", email="other@example.com")
    login(client, "other@example.com")
    assert client.get("/courses/py-data").status_code == 404
    assert "Python 数据分析入门" not in client.get("/dashboard").get_data(as_text=True)
    client.post("/auth/logout", data={"csrf_token": csrf_token(client)})
    login(client, "mentor@example.com")
    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert "Python 数据分析入门" in dashboard and "Unpublished" in dashboard
    page = client.get("/courses/py-data")
    assert page.status_code == 200 and "Preview: this course is unpublished" in page.get_data(as_text=True)
    assert client.get("/courses/py-data/lessons/setup").status_code == 200
    assert client.get("/courses/py-data/assets/flow.png").status_code == 200


def test_reopening_the_last_lesson_writes_nothing_and_opening_another_writes_one_row(client, student, count_queries):
    """The lesson a student left off at is written when it changes, by one UPDATE; the page then
    reads nothing again (the write does not throw away what the page had loaded)."""
    post(client, "/courses/py-data/enroll")
    client.get("/courses/py-data/lessons/setup")
    with count_queries() as same:
        assert client.get("/courses/py-data/lessons/setup").status_code == 200
    assert not [s for s in same.statements if not s.lstrip().upper().startswith("SELECT")], same.statements
    with count_queries() as other:
        assert client.get("/courses/py-data/lessons/reading-data").status_code == 200
    writes = [s for s in other.statements if not s.lstrip().upper().startswith("SELECT")]
    assert len(writes) == 1 and writes[0].lstrip().startswith("UPDATE enrollments"), other.statements
    assert other.count == same.count + 1, "\n".join(other.statements)
    enrollment = db.session.scalar(select(Enrollment))
    db.session.refresh(enrollment)
    assert enrollment.last_lesson.slug == "reading-data" and enrollment.last_seen_at is not None


def test_the_dashboard_continues_with_the_first_lesson_not_completed(client, student, site):
    """Without a last lesson (or with a retired one) the dashboard offers the first current lesson
    not completed, and the first lesson once all are done."""
    post(client, "/courses/py-data/enroll")
    post(client, "/courses/py-data/lessons/setup/complete")
    page = client.get("/dashboard").get_data(as_text=True)
    assert 'href="/courses/py-data/lessons/reading-data">Continue: 第二课：读取数据' in page
    post(client, "/courses/py-data/lessons/reading-data/complete")
    page = client.get("/dashboard").get_data(as_text=True)
    assert "2 of 2 lessons complete (100%)" in page and 'href="/courses/py-data/lessons/setup">Continue:' in page
    client.get("/courses/py-data/lessons/reading-data")  # the last lesson opened, then retired
    post(client, "/courses/py-data/lessons/setup/incomplete")
    (site / "courses/py-data/lessons/02-reading-data.md").unlink()
    (site / "courses/py-data/assignments/final-project.md").unlink()
    assert sync_tree(site).errors == []
    page = client.get("/dashboard").get_data(as_text=True)
    assert "0 of 1 lessons complete (0%)" in page and 'href="/courses/py-data/lessons/setup">Continue:' in page
