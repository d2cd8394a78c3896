"""Every route against every role, anonymous included: each may do what it should and nothing more."""
from __future__ import annotations

import pytest

from lms.services import grading
from lms.services.content import sync_tree
from tests import factories
from tests.conftest import csrf_token, login, write_content
from tests.samples import valid_tree
from tests.views.test_submissions import make_zip

ZIP = make_zip()

ROLES = ["anonymous", "student", "mentor", "auditor", "admin"]
OK, LOGIN, DENY = "ok", "login", "deny"
ALL = {role: OK for role in ROLES}
SIGNED_IN = {"anonymous": LOGIN, "student": OK, "mentor": OK, "auditor": OK, "admin": OK}
ADMIN = {"anonymous": LOGIN, "student": DENY, "mentor": DENY, "auditor": DENY, "admin": OK}
STUDENT = {"anonymous": LOGIN, "student": OK, "mentor": DENY, "auditor": DENY, "admin": DENY}
GRADER = {"anonymous": LOGIN, "student": DENY, "mentor": OK, "auditor": DENY, "admin": OK}
REVIEWER = {"anonymous": LOGIN, "student": DENY, "mentor": OK, "auditor": OK, "admin": OK}
CASE_REVIEWER = {"anonymous": LOGIN, "student": DENY, "mentor": DENY, "auditor": OK, "admin": OK}
AUDITOR = {"anonymous": LOGIN, "student": DENY, "mentor": DENY, "auditor": OK, "admin": DENY}
SUBMIT = "/courses/py-data/assignments/final-project"
EDIT = "/courses/py-data/edit"
EDITOR = GRADER  # mentors of the course and admins

# (method, endpoint, url, form data, expectation per role)
MATRIX = [
    ("GET", "catalog.index", "/", None, ALL),
    ("GET", "catalog.cases", "/cases", None, ALL),
    ("GET", "catalog.case", "/cases/port-cold-chain", None, ALL),
    ("GET", "catalog.course", "/courses/py-data", None, ALL),
    ("GET", "catalog.lesson", "/courses/py-data/lessons/setup", None, ALL),
    ("GET", "catalog.assignment", "/courses/py-data/assignments/final-project", None, ALL),
    ("GET", "catalog.asset", "/courses/py-data/assets/flow.png", None, ALL),
    ("GET", "static", "/static/lms.css", None, ALL),
    ("GET", "health.healthz", "/healthz", None, ALL),
    ("POST", "catalog.language", "/language", {"lang": "en", "next": "/"}, ALL),
    ("GET", "auth.login", "/auth/login", None, ALL),
    ("POST", "auth.login", "/auth/login", {"email": "x@example.com", "password": "wrong-password"},
     {"anonymous": "401", "student": OK, "mentor": OK, "auditor": OK, "admin": OK}),
    ("GET", "auth.register", "/auth/register", None, ALL),
    ("POST", "auth.register", "/auth/register", {"email": "new@example.com", "name": "新同学",
                                                "password": "harbour-lights-2027", "confirm": "harbour-lights-2027",
                                                "language": "zh_CN"}, ALL),
    ("POST", "auth.logout", "/auth/logout", {}, ALL),
    ("GET", "auth.password", "/auth/password", None, SIGNED_IN),
    ("POST", "auth.password", "/auth/password", {"current_password": "x"},
     {"anonymous": LOGIN, "student": "400", "mentor": "400", "auditor": "400", "admin": "400"}),
    ("GET", "auth.settings", "/auth/settings", None, SIGNED_IN),
    ("POST", "auth.settings", "/auth/settings", {"name": "新名字", "language": "en", "timezone": "Asia/Tokyo"},
     SIGNED_IN),
    ("GET", "auth.reset_request", "/auth/reset", None, ALL),
    ("POST", "auth.reset_request", "/auth/reset", {"email": "nobody@example.com"}, ALL),
    ("GET", "auth.reset", "/auth/reset/not-a-token", None, ALL),
    ("POST", "auth.reset", "/auth/reset/not-a-token", {"password": "x", "confirm": "x"}, ALL),
    ("GET", "learn.dashboard", "/dashboard", None, SIGNED_IN),
    ("POST", "learn.enroll", "/courses/py-data/enroll", {}, STUDENT),
    ("POST", "learn.complete", "/courses/py-data/lessons/setup/complete", {}, STUDENT),
    ("POST", "learn.incomplete", "/courses/py-data/lessons/setup/incomplete", {}, STUDENT),
    ("GET", "submit.submit", f"{SUBMIT}/submit", None, STUDENT),
    ("POST", "submit.submit", f"{SUBMIT}/submit", {"text": "my answer"}, STUDENT),
    ("GET", "submit.attempt", f"{SUBMIT}/attempts/1", None, STUDENT),
    ("POST", "submit.regrade", f"{SUBMIT}/attempts/1/regrade", {"criterion": "0", "reason": "please"}, STUDENT),
    ("GET", "submit.download", "/attempts/{attempt}/files/{file}", None, GRADER),
    ("GET", "grade.queue", "/grading/", None, GRADER),
    ("GET", "grade.next_ungraded", "/grading/next", None, GRADER),
    ("GET", "grade.attempt", "/grading/attempts/{attempt}", None, GRADER),
    ("POST", "grade.attempt", "/grading/attempts/{attempt}", {"version": "1", "level_0": "0", "level_1": "0",
                                                             "feedback": "ok", "draft": "1"}, GRADER),
    ("POST", "grade.answer_regrade", "/grading/regrades/{regrade}", {"r{regrade}-decision": "decline",
                                                                     "r{regrade}-response": "no"}, GRADER),
    ("GET", "grade.course_gradebook", "/grading/courses/py-data/gradebook", None, GRADER),
    ("GET", "grade.gradebook_csv", "/grading/courses/py-data/gradebook.csv", None, GRADER),
    ("GET", "grade.attempts_zip", "/grading/courses/py-data/assignments/final-project/attempts.zip", None, GRADER),
    ("GET", "grade.extensions", "/grading/courses/py-data/assignments/final-project/extensions", None, GRADER),
    ("POST", "grade.extensions", "/grading/courses/py-data/assignments/final-project/extensions",
     {"email": "victim@example.com", "due_at": "2027-02-01T12:00", "reason": "ill"}, GRADER),
    ("GET", "admin.index", "/admin/", None, ADMIN),
    ("GET", "admin.users", "/admin/users", None, ADMIN),
    ("GET", "admin.user", "/admin/users/{victim}", None, ADMIN),
    ("POST", "admin.user", "/admin/users/{victim}", {"role": "mentor", "company": ""}, ADMIN),
    ("POST", "admin.disable", "/admin/users/{victim}/disable", {}, ADMIN),
    ("POST", "admin.enable", "/admin/users/{victim}/enable", {}, ADMIN),
    ("GET", "admin.new_user", "/admin/users/new", None, ADMIN),
    ("POST", "admin.new_user", "/admin/users/new", {"email": "m2@example.com", "name": "Mentor", "role": "mentor",
                                                   "password": "harbour-lights-2027"}, ADMIN),
    ("GET", "admin.content", "/admin/content", None, ADMIN),
    ("GET", "admin.audit_log", "/admin/audit", None, ADMIN),
    ("POST", "admin.content", "/admin/content", {}, ADMIN),
    ("GET", "audit.index", "/audit/", None, REVIEWER),
    ("GET", "audit.log", "/audit/log", None, CASE_REVIEWER),
    ("GET", "audit.course", "/audit/courses/py-data", None, REVIEWER),
    ("GET", "audit.versions", "/audit/lesson/1/versions", None, REVIEWER),
    ("GET", "audit.versions", "/audit/case/1/versions", None, CASE_REVIEWER),
    ("GET", "audit.version", "/audit/assignment/1/versions/1", None, REVIEWER),
    ("GET", "audit.diff", "/audit/course/1/diff?from=1&to=1", None, REVIEWER),
    ("POST", "audit.sign", "/audit/lesson/1/versions/1/signoff", {"decision": "approved", "comment": "fine"}, AUDITOR),
    ("GET", "audit.report", "/audit/courses/py-data/report", None, REVIEWER),
    ("GET", "audit.report_csv", "/audit/courses/py-data/report.csv", None, REVIEWER),
    # The browser editor: the course's mentors and admins (a mentor of another course gets 404: test_editor.py).
    ("GET", "editor.edit_course", f"{EDIT}", None, EDITOR),
    ("POST", "editor.edit_course", f"{EDIT}", {"preview": "1", "body": "x"}, EDITOR),
    ("GET", "editor.new_lesson", f"{EDIT}/lessons/new", None, EDITOR),
    ("POST", "editor.new_lesson", f"{EDIT}/lessons/new", {"preview": "1", "body": "x"}, EDITOR),
    ("GET", "editor.edit_lesson", f"{EDIT}/lessons/setup", None, EDITOR),
    ("POST", "editor.edit_lesson", f"{EDIT}/lessons/setup", {"preview": "1", "body": "x"}, EDITOR),
    ("GET", "editor.assignments", f"{EDIT}/assignments", None, EDITOR),
    ("GET", "editor.new_assignment", f"{EDIT}/assignments/new", None, EDITOR),
    ("POST", "editor.new_assignment", f"{EDIT}/assignments/new", {"preview": "1", "body": "x"}, EDITOR),
    ("GET", "editor.edit_assignment", f"{EDIT}/assignments/final-project", None, EDITOR),
    ("POST", "editor.edit_assignment", f"{EDIT}/assignments/final-project", {"preview": "1", "body": "x"}, EDITOR),
    ("POST", "editor.preview", f"{EDIT}/preview", {"kind": "lesson", "item": "setup", "body": "# x"}, EDITOR),
    ("GET", "editor.order", f"{EDIT}/order", None, EDITOR),
    ("POST", "editor.order", f"{EDIT}/order", {"order": "setup,reading-data", "move": "down:setup"}, EDITOR),
    ("GET", "editor.assets", f"{EDIT}/assets", None, EDITOR),
    ("POST", "editor.assets", f"{EDIT}/assets", {"message": "no image"},
     {"anonymous": LOGIN, "student": DENY, "mentor": "400", "auditor": DENY, "admin": "400"}),
    ("POST", "editor.student_view", f"{EDIT}/student-view", {"on": "1"}, EDITOR),
]


def test_the_matrix_covers_every_route(app):
    """A new route must be added to the matrix before it can land."""
    covered = {(method, endpoint) for method, endpoint, *_ in MATRIX}
    routes = {(method, rule.endpoint) for rule in app.url_map.iter_rules()
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes - covered == set(), "routes missing from the role matrix"


def _outcome(response) -> str:
    location = response.headers.get("Location", "")
    if response.status_code == 302 and location.startswith("/auth/login") and "next=" in location:
        return LOGIN
    if response.status_code in (200, 302, 304):
        return OK
    if response.status_code in (403, 404):
        return DENY
    return str(response.status_code)


@pytest.mark.parametrize("role", ROLES)
def test_role_matrix(app, content_dir, make_user, role):
    """Each route answers this role as the matrix says: allowed, sent to sign in, or refused."""
    write_content(content_dir, valid_tree())
    assert sync_tree(content_dir).errors == []
    victim = make_user("student", email="victim@example.com")
    mentor = make_user("mentor", email="mentor@example.com")
    if role not in ("anonymous", "mentor"):
        user = make_user(role, email=f"{role}@example.com")
        if role == "student":
            factories.hand_in(user, text="my own work")
    work = factories.hand_in(victim, files={"work.zip": ZIP}, text="victim's work")
    factories.release_grade(mentor, work, [0, 0])
    regrade = grading.request_regrade(victim, work, 1, "please look again")
    ids = {"victim": victim.id, "attempt": work.id, "file": work.files[0].id, "regrade": regrade.id}
    failures = []
    for method, endpoint, url, data, expected in MATRIX:
        client = app.test_client()
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
        if role != "anonymous":
            assert login(client, f"{role}@example.com").status_code == 302
        url = url.format(**ids)
        if method == "GET":
            response = client.get(url)
        else:
            form = {key.format(**ids): value for key, value in data.items()}
            response = client.post(url, data={**form, "csrf_token": csrf_token(client)})
        got = _outcome(response)
        csp = response.headers.get("Content-Security-Policy", "")
        if "default-src" not in csp or "unsafe-inline" in csp.split("script-src")[-1].split(";")[0]:
            failures.append(f"{method} {url}: no strict Content-Security-Policy")
        if got != expected[role]:
            failures.append(f"{method} {url}: expected {expected[role]}, got {got} ({response.status_code})")
    assert failures == []


@pytest.mark.parametrize("method,endpoint,url,data,expected", [m for m in MATRIX if m[0] == "POST"],
                         ids=[m[1] for m in MATRIX if m[0] == "POST"])
def test_posts_without_a_csrf_token_are_refused(app, content_dir, make_user, method, endpoint, url, data, expected):
    """Every form refuses a POST that lacks the CSRF token, whoever sends it."""
    write_content(content_dir, valid_tree())
    sync_tree(content_dir)
    make_user("admin", email="admin@example.com")
    client = app.test_client()
    login(client, "admin@example.com")
    response = client.post(url.format(victim=1, attempt=1, file=1, regrade=1), data=data)
    assert response.status_code == 400
