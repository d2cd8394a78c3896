"""Two app servers (two gunicorn processes) on one PostgreSQL and one shared upload folder.

As in docs/operations.md ("Several app servers"): the same DATABASE_URL, SECRET_KEY,
LMS_UPLOAD_DIR and LMS_CONTENT_DIR, and a separate instance folder per server. The database
is created with ``flask db upgrade``, the content imported with ``flask content sync`` and the
accounts made with ``flask users create``, all from the command line as an administrator would.
Then, with a cookie jar per browser that is sent to both servers (as behind a load balancer
without sticky sessions):

* a student signs in and hands in a file through server A; the session works on B too;
* a mentor signs in through B, downloads the file through B (the shared upload folder) and
  grades and releases through B;
* the student sees the grade through A and asks for a regrade through A; the mentor answers
  it through A with the session made on B;
* the audit chain verifies, and holds the entries written by both servers, in order.
"""
from __future__ import annotations

import http.client
import io
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import PASSWORD, write_content
from tests.samples import ASSIGNMENT, valid_tree

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ASSIGNMENT_URL = "/courses/py-data/assignments/final-project"


def _command(name: str) -> list[str]:
    exe = BIN / name
    return [str(exe)] if exe.exists() else [sys.executable, "-m", name]


def flask(env: dict, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run(_command("flask") + list(args), cwd=ROOT, env=env, input=stdin, text=True,
                          capture_output=True, timeout=120)
    return done


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Browser:
    """One browser: a cookie jar sent to every server, requests with http.client, no redirects followed."""

    def __init__(self):
        self.cookies: dict[str, str] = {}

    def request(self, port: int, method: str, path: str, body: bytes | None = None,
                headers: dict | None = None) -> tuple[int, dict, bytes]:
        headers = dict(headers or {})
        headers["Accept-Language"] = "en"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                cookie_value = rest.split(";", 1)[0]
                if "expires=thu, 01 jan 1970" in value.lower() or not cookie_value:
                    self.cookies.pop(key, None)
                else:
                    self.cookies[key] = cookie_value
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data

    def get(self, port: int, path: str) -> tuple[int, str]:
        status, _headers, data = self.request(port, "GET", path)
        return status, data.decode("utf-8", "replace")

    def token(self, port: int, path: str) -> str:
        status, page = self.get(port, path)
        assert status == 200, (path, status)
        match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def post(self, port: int, path: str, fields: dict, token_from: str | None = None) -> tuple[int, dict]:
        fields = {"csrf_token": self.token(port, token_from or path), **fields}
        status, headers, _data = self.request(port, "POST", path, urlencode(fields).encode(),
                                              {"Content-Type": "application/x-www-form-urlencoded"})
        return status, headers

    def post_file(self, port: int, path: str, fields: dict, field: str, filename: str,
                  data: bytes) -> tuple[int, dict]:
        fields = {"csrf_token": self.token(port, path), **fields}
        boundary = secrets.token_hex(16)
        body = io.BytesIO()
        for name, value in fields.items():
            body.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
        body.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
                   f"Content-Type: application/zip\r\n\r\n".encode() + data + b"\r\n")
        body.write(f"--{boundary}--\r\n".encode())
        status, headers, _data = self.request(port, "POST", path, body.getvalue(),
                                              {"Content-Type": f"multipart/form-data; boundary={boundary}"})
        return status, headers

    def sign_in(self, port: int, email: str) -> None:
        status, headers = self.post(port, "/auth/login", {"email": email, "password": PASSWORD})
        assert status == 302, f"sign-in of {email} on port {port} answered {status}"


def make_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("report/README.md", date_time=(2026, 11, 25, 8, 0, 0)),
                         "# 项目报告\n两台服务器。\n".encode())
    return buffer.getvalue()


def start_server(env: dict, port: int, log: Path) -> subprocess.Popen:
    cmd = _command("gunicorn") + ["--workers", "2", "--threads", "2", "--bind", f"127.0.0.1:{port}",
                                  "--access-logfile", "-", "wsgi:app"]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_ready(server: subprocess.Popen, port: int, log: Path, deadline: float) -> None:
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"gunicorn on port {port} exited with {server.returncode}:\n{log.read_text()}")
        try:
            status, _headers, _data = Browser().request(port, "GET", "/healthz")
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"gunicorn on port {port} did not become ready:\n{log.read_text()}")


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=5)


def requests_served(log: Path, method: str, path_prefix: str) -> int:
    """How many requests gunicorn's access log shows for METHOD and a path starting with the prefix."""
    return len(re.findall(rf'"{method} {re.escape(path_prefix)}[^ ]* HTTP/1\.1" (?:2|3)\d\d', log.read_text()))


@pytest.fixture
def two_servers(pg_cluster, tmp_path):
    if pg_cluster is None:
        pytest.skip("PostgreSQL binaries not found: two servers need PostgreSQL (in CI this is an error)")
    database = f"lms_two_servers_{os.getpid()}"
    pg_cluster.create_database(database)
    content, uploads = tmp_path / "content", tmp_path / "shared-uploads"
    files = valid_tree()
    files["courses/py-data/assignments/final-project.md"] = ASSIGNMENT.replace(
        "due: 2027-01-15T23:59:00+08:00", "due: 2099-01-15T23:59:00+08:00")
    write_content(content, files)
    base = {key: value for key, value in os.environ.items()
            if not key.startswith(("LMS_", "DATABASE_URL", "SECRET_KEY", "FLASK_"))}
    base.update({"DATABASE_URL": pg_cluster.url(database), "SECRET_KEY": secrets.token_hex(32),
                 "LMS_UPLOAD_DIR": str(uploads), "LMS_CONTENT_DIR": str(content), "LMS_ENV": "development"})
    envs = {name: {**base, "LMS_INSTANCE_PATH": str(tmp_path / f"instance-{name}")} for name in ("a", "b")}

    # One-time set-up from server A's shell, as docs/operations.md says: migrate once, sync from one place.
    for args, stdin in ((("db", "upgrade"), None), (("content", "sync"), None),
                        (("users", "create", "--role", "student", "--email", "student@example.com",
                          "--name", "学生 王"), PASSWORD + "\n"),
                        (("users", "create", "--role", "mentor", "--email", "mentor@example.com",
                          "--name", "导师 陈"), PASSWORD + "\n")):
        done = flask(envs["a"], *args, stdin=stdin)
        assert done.returncode == 0, f"flask {' '.join(args)}:\n{done.stdout}\n{done.stderr}"

    ports = {name: free_port() for name in envs}
    logs = {name: tmp_path / f"gunicorn-{name}.log" for name in envs}
    servers = {name: start_server(envs[name], ports[name], logs[name]) for name in envs}
    try:
        deadline = time.monotonic() + 60
        for name in servers:
            wait_ready(servers[name], ports[name], logs[name], deadline)
        yield {"ports": ports, "envs": envs, "logs": logs, "url": pg_cluster.url(database), "uploads": uploads}
    finally:
        for server in servers.values():
            stop_server(server)
        pg_cluster.drop_database(database)


def test_two_servers_share_database_sessions_uploads_and_the_audit_chain(two_servers):
    a, b = two_servers["ports"]["a"], two_servers["ports"]["b"]
    engine = create_engine(two_servers["url"])

    def audit_actions() -> list[str]:
        with engine.connect() as conn:
            return list(conn.scalars(text("SELECT action FROM audit_entries ORDER BY seq")))

    try:
        before = audit_actions()
        assert before.count("account.created") == 2 and "content.version" in before

        # A student signs in through A and hands in a file through A.
        student = Browser()
        student.sign_in(a, "student@example.com")
        status, page = student.get(b, "/dashboard")  # the session made on A works on B
        assert status == 200 and "学生 王" in page
        status, _headers = student.post(a, "/courses/py-data/enroll", {}, token_from="/courses/py-data")
        assert status == 302
        upload = make_zip()
        status, headers = student.post_file(a, f"{ASSIGNMENT_URL}/submit", {"text": "两台服务器"}, "files",
                                            "项目.zip", upload)
        assert status == 302, status
        attempt_path = urlsplit(headers["location"]).path
        assert attempt_path == f"{ASSIGNMENT_URL}/attempts/1"
        status, page = student.get(b, attempt_path)  # and is visible through B
        assert status == 200 and "项目.zip" in page

        # A mentor signs in through B, downloads the file through B, grades and releases through B.
        mentor = Browser()
        mentor.sign_in(b, "mentor@example.com")
        status, queue = mentor.get(b, "/grading/")
        attempt_id = re.search(r'href="/grading/attempts/(\d+)"', queue).group(1)
        grade_url = f"/grading/attempts/{attempt_id}"
        status, grade_page = mentor.get(b, grade_url)
        assert status == 200 and "两台服务器" in grade_page
        file_url = re.search(r'href="(/attempts/\d+/files/\d+)"', grade_page).group(1)
        status, _headers, data = mentor.request(b, "GET", file_url)
        assert status == 200 and data == upload  # stored by A, read by B: one shared upload folder
        version = re.search(r'name="version" type="hidden" value="(\d+)"', grade_page).group(1)
        status, _headers = mentor.post(b, grade_url, {"version": version, "level_0": "0", "level_1": "0",
                                                      "comment_0": "很好", "feedback": "**通过**", "release": "1"})
        assert status == 302

        # The student sees the released grade through A and asks for a regrade through A.
        status, page = student.get(a, attempt_path)
        assert status == 200 and "<strong>10</strong> / 10" in page and "<strong>通过</strong>" in page
        status, _headers = student.post(a, f"{attempt_path}/regrade", {"criterion": "1", "reason": "请再看看报告"},
                                        token_from=attempt_path)
        assert status == 302

        # The mentor's session, made on B, answers the regrade through A.
        status, grade_page = mentor.get(a, grade_url)
        assert status == 200 and "请再看看报告" in grade_page
        request_id = re.search(r'action="/grading/regrades/(\d+)"', grade_page).group(1)
        regrade_version = re.search(rf'name="r{request_id}-version" type="hidden" value="(\d+)"', grade_page).group(1)
        status, _headers = mentor.post(a, f"/grading/regrades/{request_id}", {
            f"r{request_id}-version": regrade_version, f"r{request_id}-decision": "decline",
            f"r{request_id}-response": "维持原评分"}, token_from=grade_url)
        assert status == 302
        status, page = student.get(b, attempt_path)
        assert status == 200 and "维持原评分" in page

        # Each server served its part of the story (gunicorn's access logs).
        logs = two_servers["logs"]
        assert requests_served(logs["a"], "POST", f"{ASSIGNMENT_URL}/submit") == 1
        assert requests_served(logs["b"], "POST", f"{ASSIGNMENT_URL}/submit") == 0
        assert requests_served(logs["b"], "POST", grade_url) == 1
        assert requests_served(logs["a"], "POST", grade_url) == 0
        assert requests_served(logs["a"], "POST", "/grading/regrades/") == 1
        assert requests_served(logs["a"], "POST", f"{attempt_path}/regrade") == 1

        # One unbroken chain holds the entries written by both servers, in the order they happened.
        after = audit_actions()
        assert after[:len(before)] == before
        assert after[len(before):] == ["auth.login",  # mentor, on B
                                       "grade.released",  # on B
                                       "grade.regrade_requested",  # on A
                                       "grade.regrade_declined"]  # on A
        done = flask(two_servers["envs"]["b"], "audit", "verify")
        assert done.returncode == 0 and done.stdout.startswith("OK:"), done.stdout + done.stderr
        done = flask(two_servers["envs"]["b"], "storage", "verify")
        assert done.returncode == 0, done.stdout + done.stderr
    finally:
        engine.dispose()
