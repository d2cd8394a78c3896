"""Registration, sign-in, throttling, sessions, password change and reset. Both databases."""
from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lms import create_app
from lms.extensions import db
from lms.models import LoginAttempt, User
from lms.services import accounts
from tests.conftest import PASSWORD, csrf_token, login


@pytest.fixture(autouse=True)
def english(client):
    """These tests read English messages; Chinese is covered by the translation tests."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"


def register(client, **overrides):
    data = {"email": "xiaoming@example.com", "name": "王小明", "password": PASSWORD, "confirm": PASSWORD,
            "language": "zh_CN", "csrf_token": csrf_token(client, "/auth/register")}
    data.update(overrides)
    return client.post("/auth/register", data=data)


def test_register_signs_a_student_in(client):
    """A visitor registers with e-mail, name, password and language, and lands on their dashboard."""
    response = register(client, email="  XiaoMing@Example.com ")
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard"
    user = db.session.scalar(select(User))
    assert (user.email, user.role, user.locale) == ("xiaoming@example.com", "student", "zh_CN")
    assert user.password_hash.startswith("scrypt:") and PASSWORD not in user.password_hash
    assert "王小明" in client.get("/dashboard").get_data(as_text=True)


@pytest.mark.parametrize("overrides,message", [
    ({"password": "short", "confirm": "short"}, "at least 10 characters"),
    ({"password": "password123", "confirm": "password123"}, "too common"),
    ({"password": "1234567890", "confirm": "1234567890"}, "too common"),
    ({"password": "xiaoming-secret", "confirm": "xiaoming-secret"}, "e-mail address or name"),
    ({"confirm": "something-else-2027"}, "do not match"),
    ({"email": "not-an-address"}, "mail"),
    ({"name": ""}, "required"),
])
def test_register_refuses_bad_input_with_a_clear_message(client, overrides, message):
    """Weak, common or mismatched passwords and bad fields are refused, saying why, and keep the form."""
    response = register(client, **overrides)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert message.lower() in page.lower(), page
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_register_refuses_a_taken_address(client, make_user):
    """One account per e-mail address, case-insensitively."""
    make_user("student", email="taken@example.com")
    response = register(client, email="Taken@Example.com")
    assert response.status_code == 400 and "already exists" in response.get_data(as_text=True)


def test_register_form_uses_the_right_input_types(client):
    """E-mail and password fields are typed, so phones and password managers help."""
    page = client.get("/auth/register", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert re.search(r'<input[^>]*type="email"[^>]*name="email"|<input[^>]*name="email"[^>]*type="email"', page)
    assert page.count('type="password"') == 2 and 'autocomplete="new-password"' in page


def test_login_and_logout(client, make_user):
    """Sign in with the form, sign out with a POST; a GET cannot sign anyone out."""
    make_user("student", email="s@example.com")
    response = login(client, "s@example.com")
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard"
    assert client.get("/dashboard").status_code == 200
    assert client.get("/auth/logout").status_code == 405
    assert client.post("/auth/logout").status_code == 400  # no CSRF token: refused, still signed in
    assert client.get("/dashboard").status_code == 200
    client.post("/auth/logout", data={"csrf_token": csrf_token(client, "/dashboard")})
    response = client.get("/dashboard")
    assert response.status_code == 302 and response.headers["Location"].startswith("/auth/login")


def test_wrong_password_and_disabled_account(client, make_user):
    """Wrong credentials get one message for both cases; a disabled account cannot sign in."""
    user = make_user("student", email="s@example.com")
    wrong = login(client, "s@example.com", "not-the-password")
    assert wrong.status_code == 401 and "Wrong e-mail address or password" in wrong.get_data(as_text=True)
    unknown = login(client, "nobody@example.com")
    assert unknown.status_code == 401
    accounts.set_active(user, False)
    assert login(client, "s@example.com").status_code == 401
    assert client.get("/dashboard").status_code == 302


@pytest.mark.parametrize("target,expected", [
    ("/courses/abc", "/courses/abc"),
    ("//evil.example/steal", "/dashboard"),
    ("https://evil.example/", "/dashboard"),
    ("/\\evil.example", "/dashboard"),
    ("javascript:alert(1)", "/dashboard"),
])
def test_next_only_redirects_within_the_site(client, make_user, target, expected):
    """``next`` after sign-in is followed only when it is a path on this site."""
    make_user("student", email="s@example.com")
    token = csrf_token(client, "/auth/login")
    response = client.post("/auth/login", data={"email": "s@example.com", "password": PASSWORD,
                                                "next": target, "csrf_token": token})
    assert response.headers["Location"] == expected


def test_login_starts_a_fresh_session(client, make_user):
    """Session fixation: whatever the session held before sign-in is gone after it (but the language stays)."""
    make_user("student", email="s@example.com")
    with client.session_transaction() as session:
        session["planted"] = "attacker"
        session["lang"] = "en"
    login(client, "s@example.com")
    with client.session_transaction() as session:
        assert "planted" not in session and session["lang"] == "en" and "_user_id" in session


def _cookie_flags(response, name):
    for header in response.headers.getlist("Set-Cookie"):
        if header.startswith(name + "="):
            return header.lower()
    raise AssertionError(f"no {name} cookie set")


def test_session_cookie_flags(client, make_user):
    """The session cookie is HttpOnly and SameSite=Lax (and Secure in production: see test_factory)."""
    make_user("student", email="s@example.com")
    flags = _cookie_flags(login(client, "s@example.com"), "session")
    assert "httponly" in flags and "samesite=lax" in flags


def test_session_cookie_is_secure_in_production(tmp_path, database_url):
    """In production the cookie is only ever sent over HTTPS."""
    url, needs_schema = database_url
    app = create_app({"INSTANCE_PATH": str(tmp_path / "p"), "SQLALCHEMY_DATABASE_URI": url, "LMS_ENV": "production",
                      "SECRET_KEY": "prod-secret", "SESSION_COOKIE_SECURE": True})
    with app.app_context():
        if needs_schema:
            db.create_all()
        response = app.test_client().get("/auth/login")
        assert "secure" in _cookie_flags(response, "session")
        assert response.headers["Strict-Transport-Security"].startswith("max-age=")
        db.engine.dispose()


def test_throttle_after_five_failures(client, make_user):
    """After 5 failures in 15 minutes even the right password waits, with a clear message."""
    make_user("student", email="s@example.com")
    for _ in range(5):
        assert login(client, "s@example.com", "wrong-password-1").status_code == 401
    response = login(client, "s@example.com")
    assert response.status_code == 429
    assert "Please wait 15 minutes" in response.get_data(as_text=True)
    assert client.get("/dashboard").status_code == 302


def test_throttle_is_per_address_too(client, make_user):
    """Failures spread over many accounts from one address also trigger the wait."""
    make_user("student", email="s@example.com")
    for n in range(5):
        login(client, f"guess{n}@example.com", "wrong-password-1")
    assert login(client, "s@example.com").status_code == 429


def test_throttle_expires_after_the_window(app, make_user):
    """The wait ends 15 minutes after the failures."""
    from datetime import timedelta

    from lms.models.types import utcnow

    make_user("student", email="s@example.com")
    past = utcnow() - timedelta(minutes=16)
    for _ in range(5):
        db.session.add(LoginAttempt(email="s@example.com", address="10.0.0.1", succeeded=False, at=past))
    db.session.commit()
    assert accounts.throttle_wait("s@example.com", "10.0.0.1") == 0
    user = accounts.authenticate("s@example.com", PASSWORD, "10.0.0.1")
    assert user.email == "s@example.com"


def test_throttle_holds_across_two_app_processes(app, client, make_user, tmp_path):
    """Failures made by another process (another gunicorn worker) count here: the counters live in the database."""
    make_user("student", email="s@example.com")
    script = textwrap.dedent(f"""
        import re, sys
        sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
        from lms import create_app
        app = create_app({{"TESTING": True, "INSTANCE_PATH": {str(tmp_path / "other")!r},
                          "SQLALCHEMY_DATABASE_URI": {app.config["SQLALCHEMY_DATABASE_URI"]!r},
                          "SECRET_KEY": "other-worker"}})
        client = app.test_client()
        for _ in range(5):
            page = client.get("/auth/login").get_data(as_text=True)
            token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
            status = client.post("/auth/login", data={{"email": "s@example.com", "password": "wrong-password-9",
                                                       "csrf_token": token}}).status_code
            assert status == 401, status
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr
    assert login(client, "s@example.com").status_code == 429


def test_password_change(client, make_user):
    """A signed-in user changes their password after giving the current one."""
    make_user("student", email="s@example.com")
    login(client, "s@example.com")
    token = csrf_token(client, "/auth/password")
    bad = client.post("/auth/password", data={"current_password": "nope-nope-nope", "password": "new-harbour-2028",
                                              "confirm": "new-harbour-2028", "csrf_token": token})
    assert bad.status_code == 400
    good = client.post("/auth/password", data={"current_password": PASSWORD, "password": "new-harbour-2028",
                                               "confirm": "new-harbour-2028", "csrf_token": token})
    assert good.status_code == 302
    db.session.expire_all()
    assert db.session.scalar(select(User)).check_password("new-harbour-2028")


def test_password_reset_by_email_link_works_once(app, client, make_user):
    """The reset mail lands in the outbox; its link sets a new password once, and only once."""
    make_user("student", email="s@example.com")
    token = csrf_token(client, "/auth/reset")
    response = client.post("/auth/reset", data={"email": "s@example.com", "csrf_token": token})
    assert response.status_code == 302
    client.post("/auth/reset", data={"email": "nobody@example.com", "csrf_token": token})
    mails = list((Path(app.instance_path) / "outbox").glob("*.eml"))
    assert len(mails) == 1, "only existing accounts get mail"
    import email
    from email import policy

    body = email.message_from_bytes(mails[0].read_bytes(), policy=policy.default).get_content()
    link = re.search(r"http://localhost(/auth/reset/\S+)", body).group(1)
    page = client.get(link)
    assert page.status_code == 200
    form_token = csrf_token(client, link)
    done = client.post(link, data={"password": "fresh-harbour-2028", "confirm": "fresh-harbour-2028",
                                   "csrf_token": form_token})
    assert done.status_code == 302 and done.headers["Location"] == "/auth/login"
    assert login(client, "s@example.com", "fresh-harbour-2028").status_code == 302
    again = client.get(link)
    assert again.status_code == 302 and again.headers["Location"] == "/auth/reset"


def test_reset_tokens_expire_and_cannot_be_forged(app, make_user):
    """An old, tampered or foreign-key token is refused."""
    user = make_user("student", email="s@example.com")
    token = accounts.make_reset_token(user, "test-secret")
    assert accounts.user_for_reset_token(token, "test-secret").id == user.id
    with pytest.raises(accounts.AccountError):
        accounts.user_for_reset_token(token, "test-secret", max_age=-1)
    with pytest.raises(accounts.AccountError):
        accounts.user_for_reset_token(token[:-2] + "xx", "test-secret")
    with pytest.raises(accounts.AccountError):
        accounts.user_for_reset_token(token, "another-secret")


def test_settings_change_name_language_and_time_zone(client, make_user, app, content_dir):
    """A user's language and time zone are theirs: pages follow them over Accept-Language."""
    from lms.services.content import sync_tree
    from tests.conftest import write_content
    from tests.samples import valid_tree

    write_content(content_dir, valid_tree())
    sync_tree(content_dir)
    make_user("student", email="s@example.com")
    login(client, "s@example.com")
    token = csrf_token(client, "/auth/settings")
    response = client.post("/auth/settings", data={"name": "小明", "language": "zh_CN", "timezone": "Asia/Tokyo",
                                                   "csrf_token": token})
    assert response.status_code == 302
    page = client.get("/courses/py-data").get_data(as_text=True)
    assert '<html lang="zh-CN">' in page  # the account's language wins over the browser's English
    assert "2027年1月16日" in page and "00:59:00" in page  # 23:59 in Beijing is 00:59 next day in Tokyo
    bad = client.post("/auth/settings", data={"name": "小明", "language": "zh_CN", "timezone": "Mars/Olympus",
                                              "csrf_token": token})
    assert bad.status_code == 400


def test_admin_sees_the_last_sync_and_can_sync_now(client, make_user, app, content_dir):
    """The admin's content page shows when the last sync ran, at which commit, and its errors; the button syncs."""
    import subprocess

    from tests.conftest import write_content
    from tests.samples import ASSIGNMENT, valid_tree

    files = valid_tree()
    files["courses/py-data/assignments/final-project.md"] = ASSIGNMENT.replace("points: 10", "points: 11")
    write_content(content_dir, files)
    for args in (["init", "-q"], ["add", "."], ["-c", "user.name=T", "-c", "user.email=t@example.com",
                                                "commit", "-q", "-m", "c"]):
        subprocess.run(["git", *args], cwd=content_dir, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=content_dir, capture_output=True, text=True).stdout
    make_user("admin", email="a@example.com")
    login(client, "a@example.com")
    token = csrf_token(client, "/admin/content")
    failed = client.post("/admin/content", data={"csrf_token": token}, follow_redirects=True).get_data(as_text=True)
    assert "The sync failed with 1 error(s); nothing was changed." in failed
    assert "but &#39;points&#39; is 11" in failed or "but 'points' is 11" in failed
    assert head[:12] in failed
    (content_dir / "courses/py-data/assignments/final-project.md").write_text(ASSIGNMENT, encoding="utf-8")
    done = client.post("/admin/content", data={"csrf_token": token}, follow_redirects=True).get_data(as_text=True)
    assert "Content synced: 6 created" in done and "succeeded" in done

