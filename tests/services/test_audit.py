"""The audit log: one entry per significant event, in the change's own transaction, a chain that
never forks under concurrent threads or processes, and a verify whose query count does not grow
with the log. Both databases."""
from __future__ import annotations

import math
import multiprocessing
import threading
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from lms import create_app
from lms.db_setup import begin_write
from lms.extensions import db
from lms.models import Attempt, ContentVersion, Extension, Grade, LoginAttempt, User
from lms.models.audit import AuditEntry
from lms.services import accounts, audit, grading, submissions
from lms.services.content import sync_tree
from tests.conftest import PASSWORD, csrf_token, login, write_content
from tests.factories import assignment as sample_assignment
from tests.factories import hand_in, release_grade
from tests.samples import valid_tree
from tests.views.test_gradebook import bare_student

L2 = "courses/py-data/lessons/02-reading-data.md"
FINAL = "courses/py-data/assignments/final-project.md"


# --- Helpers ----------------------------------------------------------------------------------

def entries(after: int = 0) -> list[AuditEntry]:
    """The log's entries after ``after``, in chain order, read in a fresh transaction."""
    db.session.rollback()
    return db.session.scalars(select(AuditEntry).where(AuditEntry.seq > after).order_by(AuditEntry.seq)).all()


def last_seq() -> int:
    return audit.head()[0]


class Transactions:
    """The SQL an engine runs, grouped by transaction: ``committed`` and ``rolled_back`` lists of lists."""

    def __init__(self, engine):
        self.engine, self.current, self.committed, self.rolled_back = engine, None, [], []

    def _begin(self, conn):
        self.current = []

    def _statement(self, conn, cursor, statement, *args):
        if self.current is not None and not statement.lstrip().upper().startswith("BEGIN"):
            self.current.append(statement)

    def _end(self, into):
        def end(conn):
            if self.current is not None:
                into.append(self.current)
            self.current = None
        return end

    def __enter__(self):
        self.listeners = [("begin", self._begin), ("before_cursor_execute", self._statement),
                          ("commit", self._end(self.committed)), ("rollback", self._end(self.rolled_back))]
        for name, fn in self.listeners:
            event.listen(self.engine, name, fn)
        return self

    def __exit__(self, *exc):
        for name, fn in self.listeners:
            event.remove(self.engine, name, fn)

    def writing(self, table: str) -> list[list[str]]:
        """Committed transactions that inserted into or updated ``table``."""
        marks = (f"INSERT INTO {table} ", f"UPDATE {table} ")
        return [tx for tx in self.committed if any(s.lstrip().startswith(marks) for s in tx)]


@contextmanager
def transactions():
    with Transactions(db.engine) as tx:
        yield tx


def assert_one_audited_transaction(tx: Transactions, *changed_tables: str) -> None:
    """Exactly one committed transaction wrote the log, and it also wrote every changed table."""
    audited = tx.writing("audit_entries")
    assert len(audited) == 1, [t[:3] for t in audited]
    for table in changed_tables:
        assert audited[0] in tx.writing(table), f"{table} was not written in the audit entry's transaction"


# --- Fixtures ---------------------------------------------------------------------------------

@pytest.fixture
def course(app, content_dir):
    """The sample tree, synced: one case, one course with two lessons and the final project."""
    write_content(content_dir, valid_tree())
    assert sync_tree(content_dir).errors == []
    return content_dir


@pytest.fixture
def mentor(course, make_user) -> User:
    return make_user("mentor", email="mentor@example.com", name="Mentor Chen")


@pytest.fixture
def attempt(mentor) -> Attempt:
    """One attempt at the final project by an enrolled student."""
    return hand_in(bare_student("王小明", "wang@example.com"), text="报告")


# --- One entry per event, in the change's transaction ------------------------------------------

def test_a_sync_records_each_new_version_and_each_retirement_with_the_changes(app, content_dir):
    """First sync: one content.version per item with path, version and hash; an edit adds one; removals retire."""
    write_content(content_dir, valid_tree())
    with transactions() as tx:
        assert sync_tree(content_dir).errors == []
    assert_one_audited_transaction(tx, "content_versions", "sync_runs", "lessons", "courses")
    logged = entries()
    first = [e for e in logged if e.action == "content.version"]
    versions = db.session.scalars(select(ContentVersion).order_by(ContentVersion.id)).all()
    assert len(first) == len(versions) == 5  # case, course, two lessons, assignment
    assert [(e.action, e.details["path"]) for e in logged if e not in first] == [("content.asset", "courses/py-data/assets/flow.png")]
    assert sorted((e.object_type, e.object_id, e.details["path"], e.details["version"], e.details["content_hash"])
                  for e in first) == sorted((v.item_type, str(v.item_id), v.path, v.number, v.content_hash)
                                            for v in versions)
    assert all(e.actor_id is None and e.at == versions[0].synced_at for e in first)

    write_content(content_dir, {L2: valid_tree()[L2] + "\n新的一段。\n"})
    assert sync_tree(content_dir).errors == []
    edited = entries(logged[-1].seq)
    assert [(e.action, e.details["path"], e.details["version"]) for e in edited] == [("content.version", L2, 2)]
    assert sync_tree(content_dir).errors == [] and entries(edited[-1].seq) == []  # nothing changed: no entry

    (content_dir / L2).unlink()
    (content_dir / FINAL).unlink()
    with transactions() as tx:
        assert sync_tree(content_dir).errors == []
    assert_one_audited_transaction(tx, "lessons", "assignments", "sync_runs")
    retired = entries(edited[-1].seq)
    assert sorted((e.action, e.object_type, e.details["path"], e.details["version"]) for e in retired) == [
        ("content.retired", "assignment", FINAL, 1), ("content.retired", "lesson", L2, 2)]
    assert audit.verify().ok


def test_asset_changes_are_logged_with_their_hashes(app, content_dir):
    """A new asset, a changed one (with the hash it replaced) and a removed one each get an entry;
    an unchanged asset none."""
    from lms.models import Asset
    from tests.samples import PNG_1PX

    flow, chart = "courses/py-data/assets/flow.png", "courses/py-data/assets/chart.png"
    write_content(content_dir, {**valid_tree(), chart: PNG_1PX + b"chart"})
    assert sync_tree(content_dir).errors == []
    first = [e for e in entries() if e.object_type == "asset"]
    assets = {a.path: a for a in db.session.scalars(select(Asset))}
    assert sorted((e.action, e.details["path"], e.details["previous_hash"]) for e in first) == [
        ("content.asset", chart, None), ("content.asset", flow, None)]
    assert {e.object_id: e.details["content_hash"] for e in first} == {
        str(assets["flow.png"].id): assets["flow.png"].content_hash,
        str(assets["chart.png"].id): assets["chart.png"].content_hash}
    assert all(e.course_id == assets["flow.png"].course_id for e in first)

    old_hash = assets["flow.png"].content_hash
    write_content(content_dir, {flow: PNG_1PX + b"v2"})
    (content_dir / chart).unlink()
    assert sync_tree(content_dir).errors == []
    db.session.rollback()
    later = entries(first[-1].seq)
    changed = db.session.get(Asset, assets["flow.png"].id)
    assert sorted((e.action, e.details["path"]) for e in later) == [
        ("content.asset", flow), ("content.retired", chart)]
    [edit] = [e for e in later if e.action == "content.asset"]
    assert edit.details["previous_hash"] == old_hash and edit.details["content_hash"] == changed.content_hash
    assert sync_tree(content_dir).errors == [] and entries(later[-1].seq) == []
    assert audit.verify().ok


def test_a_sync_that_fails_after_writing_its_entries_leaves_neither_entries_nor_changes(app, content_dir,
                                                                                        monkeypatch):
    """Entries flushed, then the sync breaks before its commit: no entry, no version, the head unmoved."""
    write_content(content_dir, valid_tree())
    record_many, flushed = audit.record_many, []

    def record_then_crash(events, at=None):
        flushed.extend(record_many(events, at=at))
        db.session.flush()
        raise RuntimeError("power cut")

    monkeypatch.setattr(audit, "record_many", record_then_crash)
    with pytest.raises(RuntimeError):
        sync_tree(content_dir)
    monkeypatch.undo()

    assert len(flushed) == 6  # five versions and the asset

    assert entries() == [] and db.session.scalar(select(ContentVersion)) is None
    assert audit.head() == (0, audit.GENESIS)


def test_saving_and_releasing_a_grade_records_one_entry_each_with_the_grade(app, attempt, mentor):
    """Draft then release: grade.draft_saved then grade.released, each committed with its grade row."""
    before = last_seq()
    with transactions() as tx:
        grading.save_grade(mentor, attempt, grading.Marks([1, None], ["", ""], "草稿"), release=False,
                           expected_version=0)
    assert_one_audited_transaction(tx, "grades", "grade_events")
    with transactions() as tx:
        grading.save_grade(mentor, attempt, grading.Marks([0, 0], ["", ""], "很好"), release=True,
                           expected_version=1)
    assert_one_audited_transaction(tx, "grades", "grade_events")

    draft, released = entries(before)
    grade = db.session.scalar(select(Grade))
    assert (draft.action, released.action) == ("grade.draft_saved", "grade.released")
    assert {(e.object_type, e.object_id, e.actor_id, e.actor_email, e.course_id) for e in (draft, released)} == {
        ("attempt", str(attempt.id), mentor.id, "mentor@example.com", attempt.course_id)}
    assert draft.details["old"] is None and draft.details["new"]["status"] == "draft"
    assert released.details["old"]["status"] == "draft"
    assert released.details["new"] == {"status": "released", "score": str(grade.score),
                                       "rubric_hash": grade.rubric_hash}
    assert released.at == grade.updated_at


def test_a_grade_save_refused_with_conflict_records_nothing(app, attempt, mentor):
    """A save from a stale version raises Conflict and writes no entry (and the head does not move)."""
    release_grade(mentor, attempt, [0, 0])
    head = audit.head()

    for stale in (0, 5):
        with pytest.raises(grading.Conflict):
            grading.save_grade(mentor, attempt, grading.Marks([1, 1], ["", ""], "旧表单"), release=True,
                               expected_version=stale)

    db.session.rollback()
    assert audit.head() == head and entries(head[0]) == []
    assert audit.verify().ok


def test_a_grade_whose_audit_entry_cannot_be_written_is_not_saved(app, attempt, mentor, monkeypatch):
    """The other direction: when writing the entry fails, the grade change rolls back with it."""
    release_grade(mentor, attempt, [0, 0])
    head = audit.head()

    def broken_head():
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr(audit, "_locked_head", broken_head)
    with pytest.raises(RuntimeError):
        grading.save_grade(mentor, attempt, grading.Marks([1, 1], ["", ""], "改分"), release=True,
                           expected_version=1)
    db.session.rollback()

    grade = db.session.scalar(select(Grade))
    assert (grade.version, grade.feedback, grade.levels[0]["level"]) == (1, "", 0)
    assert audit.head() == head


def test_a_regrade_request_and_its_answers_record_one_entry_each(app, attempt, mentor):
    """Request (by the student), accept and decline (by the mentor): three entries, each with its change."""
    release_grade(mentor, attempt, [1, 1])
    student = db.session.get(User, attempt.user_id)
    before = last_seq()

    with transactions() as tx:
        first = grading.request_regrade(student, attempt, 0, "代码其实很规范")
    assert_one_audited_transaction(tx, "regrade_requests", "grade_events")
    second = grading.request_regrade(student, attempt, 1, "报告写了结论")
    with transactions() as tx:
        grading.answer_regrade(mentor, first, accept=True, new_level=0, response="同意", expected_version=1)
    assert_one_audited_transaction(tx, "grades", "regrade_requests", "grade_events")
    with transactions() as tx:
        grading.answer_regrade(mentor, second, accept=False, new_level=None, response="缺少图表",
                               expected_version=2)
    assert_one_audited_transaction(tx, "regrade_requests", "grade_events")

    logged = entries(before)
    assert [(e.action, e.actor_id, e.details["criterion"]) for e in logged] == [
        ("grade.regrade_requested", student.id, 0), ("grade.regrade_requested", student.id, 1),
        ("grade.regrade_accepted", mentor.id, 0), ("grade.regrade_declined", mentor.id, 1)]
    assert (logged[2].details["old_score"], logged[2].details["new_score"]) == ("3.00", "6.00")
    assert {e.object_id for e in logged} == {str(attempt.id)}


def test_a_refused_regrade_request_records_nothing(app, attempt, mentor):
    """Asking twice for the same criterion is refused (IntegrityError rolled back) with no entry."""
    release_grade(mentor, attempt, [1, 1])
    student = db.session.get(User, attempt.user_id)
    grading.request_regrade(student, attempt, 0, "请再看看")
    head = audit.head()

    with pytest.raises(grading.GradingError):
        grading.request_regrade(student, attempt, 0, "再请求一次")

    assert audit.head() == head and entries(head[0]) == []


def test_an_extension_grant_records_one_entry_with_the_extension(app, attempt, mentor):
    """extension.granted names the assignment, the student, the new due time and the granting mentor."""
    target = sample_assignment()
    due = target.due_at + timedelta(days=3)
    before = last_seq()

    with transactions() as tx:
        submissions.grant_extension(mentor, target, "wang@example.com", due, reason=" 病假 ")
    assert_one_audited_transaction(tx, "extensions")

    [entry] = entries(before)
    extension = db.session.scalar(select(Extension))
    assert (entry.action, entry.object_type, entry.object_id, entry.course_id) == (
        "extension.granted", "assignment", str(target.id), target.course_id)
    assert (entry.actor_id, entry.actor_email) == (mentor.id, "mentor@example.com")
    assert entry.details == {"student_id": extension.user_id, "due_at": due.isoformat(), "reason": "病假"}


def test_an_extension_for_a_student_not_enrolled_records_nothing(app, attempt, mentor):
    """A refused grant (no such enrolled student) writes no entry."""
    head = audit.head()
    with pytest.raises(submissions.SubmissionError):
        submissions.grant_extension(mentor, sample_assignment(), "nobody@example.com",
                                    sample_assignment().due_at + timedelta(days=1))
    assert audit.head() == head


def test_an_admin_changing_a_role_and_disabling_and_enabling_is_recorded_with_the_admin(app, client, make_user):
    """Through the admin pages: role_changed (old and new), disabled, enabled; the admin is the actor."""
    admin = make_user("admin", email="admin@example.com")
    target = make_user("student", email="s@example.com")
    login(client, "admin@example.com")
    page = f"/admin/users/{target.id}"
    before = last_seq()

    with transactions() as tx:
        client.post(page, data={"csrf_token": csrf_token(client, page), "role": "auditor",
                                "company": "Example Cold Chain Co."})
    assert_one_audited_transaction(tx, "users")
    client.post(page, data={"csrf_token": csrf_token(client, page), "role": "auditor",
                            "company": "Example Cold Chain Co."})  # no change: no entry
    with transactions() as tx:
        client.post(f"{page}/disable", data={"csrf_token": csrf_token(client, page)})
    assert_one_audited_transaction(tx, "users")
    client.post(f"{page}/disable", data={"csrf_token": csrf_token(client, page)})  # already disabled
    client.post(f"{page}/enable", data={"csrf_token": csrf_token(client, page)})

    logged = entries(before)
    assert [e.action for e in logged] == ["account.role_changed", "account.disabled", "account.enabled"]
    assert {(e.actor_id, e.actor_email, e.object_type, e.object_id) for e in logged} == {
        (admin.id, "admin@example.com", "user", str(target.id))}
    assert logged[0].details == {"email": "s@example.com",
                                 "old": {"role": "student", "company": None, "audits_all": False},
                                 "new": {"role": "auditor", "company": "Example Cold Chain Co.", "audits_all": False}}
    db.session.expire_all()
    assert db.session.get(User, target.id).active is True


def test_a_mentor_signing_in_is_recorded_failed_and_successful_but_a_student_is_not(app, client, make_user):
    """Through /auth/login: a mentor's wrong and right passwords give login_failed then login; a student's none."""
    mentor = make_user("mentor", email="mentor@example.com")
    make_user("student", email="s@example.com")
    before = last_seq()

    with transactions() as tx:
        assert login(client, "mentor@example.com", "wrong-password-123").status_code == 401
    assert_one_audited_transaction(tx, "login_attempts")
    with transactions() as tx:
        assert login(client, "mentor@example.com").status_code == 302
    assert_one_audited_transaction(tx, "login_attempts")
    client.post("/auth/logout", data={"csrf_token": csrf_token(client)})
    others = [login(client, "nobody@example.com").status_code,
              login(client, "s@example.com", "wrong-password-123").status_code,
              login(client, "s@example.com").status_code]

    assert others == [401, 401, 302]
    logged = entries(before)
    assert [(e.action, e.actor_id, e.actor_email, e.object_id) for e in logged] == [
        ("auth.login_failed", mentor.id, "mentor@example.com", str(mentor.id)),
        ("auth.login", mentor.id, "mentor@example.com", str(mentor.id))]
    attempts = db.session.scalars(select(LoginAttempt).where(LoginAttempt.email == "mentor@example.com")
                                  .order_by(LoginAttempt.id)).all()
    assert [e.at for e in logged] == [a.at for a in attempts]
    assert all(e.details == {"address": "127.0.0.1"} for e in logged)


def test_creating_an_account_records_one_entry_with_who_created_it(app, client, make_user):
    """Created without an actor (command line), by an admin (the admin is the actor) and by self-registration."""
    with transactions() as tx:
        mentor = make_user("mentor", email="mentor@example.com")
    assert_one_audited_transaction(tx, "users")
    admin = make_user("admin", email="admin@example.com")
    login(client, "admin@example.com")
    client.post("/admin/users/new", data={"csrf_token": csrf_token(client, "/admin/users/new"),
                                          "email": "auditor@example.com", "name": "Auditor Lin", "role": "auditor",
                                          "company": "Example Cold Chain Co.", "password": PASSWORD})
    with pytest.raises(accounts.AccountError):
        make_user("mentor", email="mentor@example.com")  # a refused duplicate: no entry

    logged = [e for e in entries() if e.action == "account.created"]
    by_email = {e.details["email"]: e for e in logged}
    assert len(logged) == len(by_email) == 3
    assert (by_email["mentor@example.com"].actor_id, by_email["mentor@example.com"].object_id) == (None, str(mentor.id))
    assert by_email["mentor@example.com"].details["self_registered"] is False
    created = by_email["auditor@example.com"]
    assert (created.actor_id, created.actor_email) == (admin.id, "admin@example.com")
    assert (created.details["role"], created.details["company"]) == ("auditor", "Example Cold Chain Co.")
    accounts.register_student(email="new@example.com", name="新同学", password=PASSWORD, locale="zh_CN")
    assert entries(last_seq() - 1)[0].details["self_registered"] is True


# --- Concurrent writers never fork the chain --------------------------------------------------

def assert_one_unbroken_chain(count: int) -> None:
    """Entries are numbered 1..count with no gap or duplicate, each follows the one before, verify is OK."""
    rows = db.session.execute(select(AuditEntry.seq, AuditEntry.prev_hash, AuditEntry.hash)
                              .order_by(AuditEntry.seq)).all()
    assert [r.seq for r in rows] == list(range(1, count + 1))
    assert rows[0].prev_hash == audit.GENESIS
    assert all(rows[i].prev_hash == rows[i - 1].hash for i in range(1, len(rows)))
    verdict = audit.verify()
    assert verdict.ok, verdict
    assert (verdict.checked, verdict.head_seq, verdict.head_hash) == (count, count, rows[-1].hash)


def write_events(worker: int, count: int) -> None:
    """``count`` events, one transaction each, as a service would write them."""
    for n in range(count):
        begin_write()
        audit.record("test.event", "worker", f"{worker}-{n}", details={"worker": worker, "n": n})
        db.session.commit()


def test_threads_writing_at_once_extend_one_chain(app):
    """8 threads x 25 events, started together, each with its own session: seq 1..200, one chain."""
    threads_n, per_thread = 8, 25
    db.session.rollback()
    start = threading.Barrier(threads_n, timeout=30)
    errors: list[str] = []

    def work(worker: int) -> None:
        with app.app_context():
            try:
                start.wait()
                write_events(worker, per_thread)
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(repr(exc))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert_one_unbroken_chain(threads_n * per_thread)
    objects = db.session.scalars(select(AuditEntry.object_id)).all()
    assert sorted(objects) == sorted(f"{w}-{n}" for w in range(threads_n) for n in range(per_thread))


def _process_writer(config: dict, worker: int, count: int, start, results) -> None:
    """Run in a spawned process: its own app, engine and session on the same database."""
    try:
        app = create_app(config)
        with app.app_context():
            start.wait()
            write_events(worker, count)
            db.session.remove()
            db.engine.dispose()
        results.put((worker, "ok"))
    except Exception as exc:  # noqa: BLE001 - reported by the parent's assertion
        results.put((worker, repr(exc)))


def test_processes_writing_at_once_extend_one_chain(app):
    """4 spawned processes x 20 events, each with its own app and engine: seq 1..80, one chain."""
    processes_n, per_process = 4, 20
    config = {key: app.config[key] for key in ("SQLALCHEMY_DATABASE_URI", "SECRET_KEY", "LMS_CONTENT_DIR",
                                               "LMS_UPLOAD_DIR", "TESTING")}
    config["INSTANCE_PATH"] = app.instance_path
    db.session.rollback()
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Barrier(processes_n, timeout=60), ctx.Queue()
    processes = [ctx.Process(target=_process_writer, args=(config, n, per_process, start, results))
                 for n in range(processes_n)]
    for process in processes:
        process.start()
    try:
        outcomes = sorted(results.get(timeout=90) for _ in processes)
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()

    assert outcomes == [(n, "ok") for n in range(processes_n)]
    assert_one_unbroken_chain(processes_n * per_process)


def test_verify_during_concurrent_writes_reports_no_tampering(app, request):
    """Entries committed while verify runs (after it read the head) must not make it report a broken chain."""
    write_events(0, 5)
    db.session.rollback()
    fired = threading.Event()

    def commit_more_after_the_head_is_read(conn, cursor, statement, *args):
        if fired.is_set() or "FROM audit_head" not in statement or "FOR UPDATE" in statement:
            return
        fired.set()

        def writer():
            with app.app_context():
                write_events(1, 3)
                db.session.remove()

        thread = threading.Thread(target=writer)
        thread.start()
        thread.join(timeout=30)

    event.listen(db.engine, "after_cursor_execute", commit_more_after_the_head_is_read)
    try:
        verdict = audit.verify()
    finally:
        event.remove(db.engine, "after_cursor_execute", commit_more_after_the_head_is_read)

    db.session.rollback()
    assert fired.is_set() and audit.count() == 8
    assert verdict.ok, verdict


# --- Verify's queries do not grow with the log -------------------------------------------------

def fill(count: int, batch: int = 1000) -> None:
    """``count`` chained entries, appended ``batch`` at a time through record_many."""
    for start in range(0, count, batch):
        begin_write()
        audit.record_many(audit.Event("test.bulk", "row", str(n), details={"n": n})
                          for n in range(start, min(count, start + batch)))
        db.session.commit()


def test_verify_runs_a_few_queries_per_batch_not_per_entry(app, count_queries):
    """100 and 5,000 entries: head + ceil(n / BATCH) + 1 reads each; both verify OK."""
    counts = {}
    for total in (100, 5000):
        fill(total - audit.count())
        db.session.rollback()
        with count_queries() as q:
            verdict = audit.verify()
        assert verdict.ok and verdict.checked == total, verdict
        counts[total] = q.count

    assert counts == {total: 2 + math.ceil(total / audit.BATCH) for total in counts}, counts
    assert counts[5000] < 10
