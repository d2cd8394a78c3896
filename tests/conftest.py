"""Shared fixtures: an app per test on SQLite and on a throwaway PostgreSQL cluster."""
from __future__ import annotations

import contextvars
import itertools
import os
import textwrap
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event

from lms import create_app
from lms.extensions import db
from tests.pgcluster import PostgresCluster, find_pg_bin

IN_CI = os.environ.get("CI", "").lower() == "true"
_db_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_cluster():
    """A PostgreSQL cluster for the whole run, or None when PostgreSQL is not installed (never in CI)."""
    if find_pg_bin() is None:
        if IN_CI:
            pytest.fail("PostgreSQL is required in CI (CI=true) but no PostgreSQL binaries were found")
        yield None
        return
    cluster = PostgresCluster().start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def pg_template(pg_cluster):
    """A database with the schema created, copied for every test."""
    if pg_cluster is None:
        return None
    pg_cluster.create_database("lms_template")
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": pg_cluster.url("lms_template"),
                      "SECRET_KEY": "test"})
    with app.app_context():
        db.create_all()
        db.engine.dispose()
    return "lms_template"


def _skip_without_pg(cluster) -> None:
    if cluster is None:
        pytest.skip("PostgreSQL binaries not found: the PostgreSQL half of the suite is skipped "
                    "(install postgresql, or set PG_BIN); in CI this is an error")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A fresh, empty-schema database per test: one SQLite file, or a PostgreSQL copy of the template."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.sqlite3'}", True
        return
    cluster = request.getfixturevalue("pg_cluster")
    _skip_without_pg(cluster)
    template = request.getfixturevalue("pg_template")
    name = f"lms_test_{os.getpid()}_{next(_db_counter)}"
    cluster.create_database(name, template=template)
    try:
        yield cluster.url(name), False
    finally:
        cluster.drop_database(name)


@pytest.fixture
def content_dir(tmp_path) -> Path:
    """An empty content folder; tests write files into it with ``write_content``."""
    path = tmp_path / "content"
    path.mkdir()
    return path


class IsolatedClient(FlaskClient):
    """A test client whose every request runs in its own app context, as in production.

    The ``app`` fixture keeps an app context open for the test body; without this, requests
    would reuse it and share ``g`` (the signed-in user, the chosen locale) across requests.
    """

    def open(self, *args, **kwargs):
        return contextvars.Context().run(self._open_and_read, *args, **kwargs)

    def _open_and_read(self, *args, **kwargs):
        response = super().open(*args, **kwargs)
        response.get_data()  # a streamed body is produced inside the request's own context
        return response


@pytest.fixture
def app(database_url, tmp_path, content_dir):
    """An app bound to a fresh database, with its own instance and content folders."""
    url, needs_schema = database_url
    app = create_app({
        "TESTING": True,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": url,
        "LMS_CONTENT_DIR": str(content_dir),
        "LMS_UPLOAD_DIR": str(tmp_path / "uploads"),
        "WTF_CSRF_ENABLED": True,
    })
    app.test_client_class = IsolatedClient
    with app.app_context():
        if needs_schema:
            db.create_all()
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class QueryCounter:
    """Counts the SQL statements an engine runs inside a ``with`` block."""

    def __init__(self, engine):
        self.engine, self.statements = engine, []

    def _record(self, conn, cursor, statement, *args):
        if not statement.lstrip().upper().startswith(("BEGIN", "PRAGMA", "SAVEPOINT", "RELEASE")):
            self.statements.append(statement)

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._record)

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_queries(app):
    """``with count_queries() as q: ...; q.count``"""
    return lambda: QueryCounter(db.engine)


def write_content(root: Path, files: dict[str, str]) -> None:
    """Write ``{relative path: text}`` into a content folder (text is dedented)."""
    for rel, text in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            target.write_bytes(text)
        else:
            target.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")



@pytest.fixture
def synced(app, content_dir) -> Path:
    """The sample tree (tests/samples.py valid_tree) written and synced once."""
    from lms.services.content import sync_tree
    from tests.samples import valid_tree

    write_content(content_dir, valid_tree())
    assert sync_tree(content_dir).errors == []
    return content_dir


PASSWORD = "harbour-lights-2027"


def csrf_token(client, path: str = "/") -> str:
    """A CSRF token valid for the client's current session (read from a page's form)."""
    import re

    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def login(client, email: str, password: str = PASSWORD):
    """Sign in through the real login form."""
    token = csrf_token(client, "/auth/login")
    return client.post("/auth/login", data={"email": email, "password": password, "csrf_token": token})


@pytest.fixture
def make_user(app):
    """``make_user(role, email=None, **fields)`` creates an account with the password PASSWORD."""
    from lms.services.accounts import create_user

    counter = itertools.count()

    def make(role: str = "student", email: str | None = None, **fields):
        email = email or f"{role}{next(counter)}@example.com"
        if role == "auditor":
            fields.setdefault("company", "Example Cold Chain Co. (illustrative)")
        return create_user(email=email, name=fields.pop("name", f"{role.title()} 用户"), password=PASSWORD,
                           role=role, **fields)

    return make
