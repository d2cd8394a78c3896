"""Several processes writing to one SQLite file at once never see "database is locked".

Each worker process is a separate app (as a gunicorn worker is) on the same SQLite file. The
students sign in, enroll, open lessons (which records where they left off), mark lessons
complete and undo it, switch the language and hand in work, all through the real views, while
another process syncs content changes and a mentor grades. Writers must queue on the write lock
(``BEGIN IMMEDIATE`` and the busy timeout), never fail.
"""
from __future__ import annotations

import multiprocessing
import re
import traceback
from pathlib import Path

ROUNDS = 12
STUDENTS = 3
PASSWORD = "harbour-lights-2027"
LESSONS = [f"l{n}" for n in range(1, 7)]


def _config(base: Path) -> dict:
    return {"TESTING": True, "SECRET_KEY": "concurrency", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{base / 'lms.sqlite3'}",
            "INSTANCE_PATH": str(base / "instance"), "LMS_CONTENT_DIR": str(base / "content"),
            "LMS_UPLOAD_DIR": str(base / "uploads")}


def _tree(base: Path, version: int) -> None:
    from tests.conftest import write_content
    from tests.samples import ASSIGNMENT, CASE, COURSE

    files = {"cases/port-cold-chain.md": CASE, "courses/py-data/course.md": COURSE,
             "courses/py-data/assignments/final-project.md":
                 ASSIGNMENT.replace("due: 2027-01-15T23:59:00+08:00", "due: 2099-01-15T23:59:00+08:00")
                 .replace("after_lesson: reading-data", "after_lesson: l1")
                 .replace('  repo_url: optional', '  repo_url: optional\n  text: optional')}
    for n, slug in enumerate(LESSONS, 1):
        files[f"courses/py-data/lessons/{n:02d}-{slug}.md"] = (
            f"---\ntitle: 第 {n} 课 (v{version})\n---\n# 第 {n} 课\n\n版本 {version}。\n")
    write_content(base / "content", files)


def _token(client, url: str) -> str:
    page = client.get(url).get_data(as_text=True)
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)


def _check(response, expected: tuple[int, ...], what: str, errors: list[str]) -> None:
    if response.status_code not in expected:
        errors.append(f"{what}: HTTP {response.status_code}")


def _student(base: Path, email: str, start, errors: list[str]) -> None:
    from lms import create_app

    app = create_app(_config(base))
    client = app.test_client()
    start.wait()
    token = _token(client, "/auth/login")
    _check(client.post("/auth/login", data={"email": email, "password": PASSWORD, "csrf_token": token}),
           (302,), "login", errors)
    token = _token(client, "/courses/py-data")
    _check(client.post("/courses/py-data/enroll", data={"csrf_token": token}), (302,), "enroll", errors)
    for round_ in range(ROUNDS):
        lesson = LESSONS[round_ % len(LESSONS)]
        url = f"/courses/py-data/lessons/{lesson}"
        _check(client.get(url), (200,), "lesson", errors)  # records the visit: a write
        action = "complete" if round_ % 2 == 0 else "incomplete"
        _check(client.post(f"{url}/{action}", data={"csrf_token": token}), (302,), action, errors)
        if round_ % 4 == 0:
            lang = "en" if round_ % 8 == 0 else "zh_CN"
            _check(client.post("/language", data={"lang": lang, "next": "/", "csrf_token": token}),
                   (302,), "language", errors)
        if round_ % 3 == 0:
            _check(client.post("/courses/py-data/assignments/final-project/submit",
                               data={"text": f"答案 {round_}", "csrf_token": token}), (302,), "submit", errors)


def _syncer(base: Path, start, errors: list[str]) -> None:
    from lms import create_app
    from lms.services.content import sync_tree

    app = create_app(_config(base))
    with app.app_context():
        start.wait()
        for version in (2, 3, 4):
            _tree(base, version)
            result = sync_tree(base / "content", workers=1)
            if result.errors:
                errors.append(f"sync: {result.errors}")


def _mentor(base: Path, start, errors: list[str]) -> None:
    from sqlalchemy import select

    from lms import create_app
    from lms.extensions import db
    from lms.models import Attempt, User
    from lms.services import grading

    app = create_app(_config(base))
    with app.app_context():
        mentor = db.session.scalar(select(User).where(User.email == "mentor@example.com"))
        start.wait()
        graded: set[int] = set()
        for _round in range(ROUNDS * 2):
            attempts = db.session.scalars(select(Attempt).where(Attempt.id.not_in(graded or {0}))).all()
            db.session.rollback()
            for attempt in attempts[:2]:
                levels = [0] * len(attempt.assignment.rubric)
                grading.save_grade(mentor, attempt, grading.Marks(levels, ["" for _ in levels], "好"),
                                   release=True, expected_version=0)
                graded.add(attempt.id)


def _run(target, *args) -> list[str]:
    errors: list[str] = []
    try:
        target(*args, errors)
    except Exception:  # noqa: BLE001  (report everything, "database is locked" above all)
        errors.append(traceback.format_exc())
    return errors


def _worker(queue, target, *args) -> None:
    queue.put(_run(target, *args))


def test_concurrent_writers_on_one_sqlite_file_never_fail(tmp_path):
    from lms import create_app
    from lms.extensions import db
    from lms.services.accounts import create_user
    from lms.services.content import sync_tree

    base = tmp_path
    _tree(base, 1)
    app = create_app(_config(base))
    with app.app_context():
        db.create_all()
        assert sync_tree(base / "content").errors == []
        create_user(email="mentor@example.com", name="导师", password=PASSWORD, role="mentor")
        for n in range(STUDENTS):
            create_user(email=f"s{n}@example.com", name=f"学生 {n}", password=PASSWORD)
        db.session.remove()
        db.engine.dispose()

    ctx = multiprocessing.get_context("spawn")  # separate interpreters, as gunicorn workers are
    start, queue = ctx.Barrier(STUDENTS + 2), ctx.Queue()
    jobs = [(_student, base, f"s{n}@example.com", start) for n in range(STUDENTS)]
    jobs += [(_syncer, base, start), (_mentor, base, start)]
    processes = [ctx.Process(target=_worker, args=(queue, *job)) for job in jobs]
    for process in processes:
        process.start()
    errors = []
    for _process in processes:
        errors += queue.get(timeout=240)
    for process in processes:
        process.join(timeout=30)
    assert errors == [], "\n".join(errors)
    assert all(p.exitcode == 0 for p in processes)

    from sqlalchemy import func, select

    from lms.models import Attempt, Enrollment, LoginAttempt
    from lms.services import audit

    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Enrollment)) == STUDENTS
        assert db.session.scalar(select(func.count()).select_from(LoginAttempt)) == STUDENTS
        submitted = len(range(0, ROUNDS, 3))
        assert db.session.scalar(select(func.count()).select_from(Attempt)) == STUDENTS * submitted
        assert audit.verify().ok


def _queue_taken(database: Path) -> bool:
    """Whether some write transaction holds the writers' queue of ``database`` (seen from a handle of our own)."""
    import fcntl

    with open(f"{database}-writers", "a+b") as other:
        try:
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(other, fcntl.LOCK_UN)
        return False


def test_write_transactions_queue_in_turn_and_leave_the_queue_when_they_end(tmp_path):
    import threading

    from sqlalchemy import text

    from lms import create_app
    from lms.db_setup import begin_write
    from lms.extensions import db

    database = tmp_path / "lms.sqlite3"
    app = create_app(_config(tmp_path))
    with app.app_context():
        db.session.execute(text("CREATE TABLE notes (body TEXT)"))
        db.session.commit()

        db.session.execute(text("SELECT count(*) FROM notes"))
        assert not _queue_taken(database), "a read transaction must not queue"
        db.session.rollback()

        begin_write()
        db.session.execute(text("INSERT INTO notes VALUES ('first')"))
        assert _queue_taken(database)
        db.session.commit()
        assert not _queue_taken(database), "a commit leaves the queue"

        begin_write()
        db.session.execute(text("INSERT INTO notes VALUES ('undone')"))
        db.session.rollback()
        assert not _queue_taken(database), "a rollback leaves the queue"

        begin_write()
        db.session.execute(text("INSERT INTO notes VALUES ('abandoned')"))
        db.session.remove()
        assert not _queue_taken(database), "a connection given back to the pool leaves the queue"

        # A second writer waits for the first (it neither fails nor writes in between) and goes on
        # when the first commits.
        begin_write()
        db.session.execute(text("INSERT INTO notes VALUES ('held')"))
        done = threading.Event()

        def second() -> None:
            with app.app_context():
                begin_write()
                db.session.execute(text("INSERT INTO notes VALUES ('second')"))
                db.session.commit()
                done.set()

        thread = threading.Thread(target=second)
        thread.start()
        assert not done.wait(0.5), "the second writer must wait while the first holds the queue"
        db.session.commit()
        thread.join(10)
        assert done.is_set()
        assert db.session.scalars(text("SELECT body FROM notes ORDER BY rowid")).all() == ["first", "held", "second"]
