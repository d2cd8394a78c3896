"""``flask audit verify|head``: a clean chain passes; any edit, deletion or reordering made directly in
the database is caught and the first broken entry named. Both databases."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text, update

from lms.db_setup import begin_write
from lms.extensions import db
from lms.models.audit import AuditEntry
from lms.models.types import utcnow
from lms.services import audit

LENGTH = 6


@pytest.fixture
def chain(app, make_user) -> list[tuple[int, str]]:
    """Six committed entries, one transaction each: two account creations and four varied events."""
    admin = make_user("admin", email="admin@example.com")
    make_user("mentor", email="mentor@example.com")
    for n, (action, details) in enumerate([
        ("grade.released", {"score": "8.50", "old": None, "new": {"status": "released"}}),
        ("extension.granted", {"reason": "病假，需要三天", "due_at": "2027-01-18T23:59:59+08:00"}),
        ("content.version", {"path": "courses/py-data/course.md", "version": 2, "content_hash": "ab" * 32}),
        ("account.disabled", {"email": "mentor@example.com"}),
    ]):
        begin_write()
        audit.record(action, "thing", n, actor=admin, course_id=n % 2 or None, details=details)
        db.session.commit()
    rows = db.session.execute(select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq)).all()
    assert [seq for seq, _ in rows] == list(range(1, LENGTH + 1))
    return [tuple(row) for row in rows]


def sql(statement: str, **params) -> None:
    """Run one statement behind the application's back, as someone with database access could."""
    db.session.execute(text(statement), params)
    db.session.commit()


def verify(runner):
    db.session.rollback()  # the command reads in a fresh transaction, as a new process would
    return runner.invoke(args=["audit", "verify"])


def assert_broken_at(result, seq: int) -> None:
    assert result.exit_code == 1, result.output
    assert f"BROKEN at entry {seq}:" in result.output, result.output
    assert not result.output.startswith("OK")


# --- A clean log ------------------------------------------------------------------------------

def test_a_clean_log_verifies_and_prints_the_head(runner, chain):
    """Exit 0, "OK", the number of entries and the head's seq and hash."""
    result = verify(runner)

    assert result.exit_code == 0, result.output
    last_seq, last_hash = chain[-1]
    assert result.output.strip() == f"OK: {LENGTH} entries, head {last_seq} {last_hash}"


def test_an_empty_log_verifies_with_the_genesis_head(runner):
    """No entry yet: OK with 0 entries; head prints 0 and the genesis hash."""
    result = verify(runner)

    assert result.exit_code == 0 and "OK: 0 entries" in result.output, result.output
    assert runner.invoke(args=["audit", "head"]).output.strip() == f"0 {audit.GENESIS}"


def test_head_prints_the_same_seq_and_hash_as_the_service(runner, chain):
    """``flask audit head`` prints "<seq> <hash>" exactly as services.audit.head() returns them."""
    result = runner.invoke(args=["audit", "head"])

    assert result.exit_code == 0, result.output
    seq, digest = audit.head()
    assert result.output == f"{seq} {digest}\n"
    assert (seq, digest) == chain[-1]


# --- Tampering --------------------------------------------------------------------------------

@pytest.mark.parametrize("column, value", [
    ("details", json.dumps({"score": "10.00", "old": None, "new": {"status": "released"}})),
    ("action", "grade.draft_saved"),
    ("actor_email", "someone-else@example.com"),
    ("object_id", "999"),
])
def test_an_edited_entry_is_named(runner, chain, column, value):
    """UPDATE one column of entry 3 in SQL: verify exits 1 naming entry 3."""
    sql(f"UPDATE audit_entries SET {column} = :value WHERE seq = 3", value=value)

    assert_broken_at(verify(runner), 3)


def test_an_edited_timestamp_is_named(runner, chain):
    """Moving entry 4's time by one microsecond is enough to break it."""
    at = db.session.scalar(select(AuditEntry.at).where(AuditEntry.seq == 4))
    db.session.execute(update(AuditEntry).where(AuditEntry.seq == 4).values(at=at.replace(
        microsecond=(at.microsecond + 1) % 1_000_000)))
    db.session.commit()

    assert_broken_at(verify(runner), 4)


def test_a_deleted_middle_entry_is_named_as_missing(runner, chain):
    """DELETE entry 3: verify exits 1 naming 3 as missing."""
    sql("DELETE FROM audit_entries WHERE seq = 3")

    result = verify(runner)

    assert_broken_at(result, 3)
    assert "missing" in result.output


def test_two_swapped_entries_are_caught_at_the_first(runner, chain):
    """Swap the seq numbers of entries 3 and 5 (through a temporary value): verify names 3."""
    sql("UPDATE audit_entries SET seq = -1 WHERE seq = 3")
    sql("UPDATE audit_entries SET seq = 3 WHERE seq = 5")
    sql("UPDATE audit_entries SET seq = 5 WHERE seq = -1")

    assert_broken_at(verify(runner), 3)


def test_two_swapped_neighbours_are_caught_at_the_first(runner, chain):
    """Swapping adjacent entries 2 and 3 is caught at 2."""
    sql("UPDATE audit_entries SET seq = -1 WHERE seq = 2")
    sql("UPDATE audit_entries SET seq = 2 WHERE seq = 3")
    sql("UPDATE audit_entries SET seq = 3 WHERE seq = -1")

    assert_broken_at(verify(runner), 2)


def test_a_deleted_last_entry_is_caught_by_the_head(runner, chain):
    """DELETE the newest entry while the head still names it: verify exits 1 naming it."""
    sql(f"DELETE FROM audit_entries WHERE seq = {LENGTH}")

    result = verify(runner)

    assert_broken_at(result, LENGTH)
    assert f"the head names entry {LENGTH}" in result.output


def rewrite_consistently(seq: int, details: dict) -> None:
    """Change entry ``seq``'s details and recompute its own hash (but not the entries after it)."""
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.seq == seq))
    digest = audit.entry_hash(entry.prev_hash, entry.seq, entry.at, entry.actor_id, entry.actor_email, entry.action,
                              entry.object_type, entry.object_id, entry.course_id, details)
    sql("UPDATE audit_entries SET details = :details, hash = :hash WHERE seq = :seq",
        details=json.dumps(details), hash=digest, seq=seq)


def test_a_rewritten_entry_with_its_own_hash_recomputed_is_caught_at_the_next(runner, chain):
    """Entry 3 re-hashed after the edit looks whole; entry 4 no longer follows it, so 4 is named."""
    rewrite_consistently(3, {"score": "10.00", "old": None, "new": {"status": "released"}})

    result = verify(runner)

    assert_broken_at(result, 4)
    assert "does not follow entry 3" in result.output


def append_past_the_head() -> None:
    """A well-formed entry after the newest one, without moving the head."""
    seq, prev = audit.head()
    entry = dict(seq=seq + 1, at=utcnow(), actor_id=None, actor_email=None, action="grade.released",
                 object_type="attempt", object_id="1", course_id=None, details={"score": "10.00"})
    db.session.add(AuditEntry(**entry, prev_hash=prev, hash=audit.entry_hash(prev, **entry)))
    db.session.commit()


END_TAMPERING = {
    "rewrite-last": (lambda: rewrite_consistently(LENGTH, {"email": "nobody@example.com"}), LENGTH),
    "append-past-head": (append_past_the_head, LENGTH + 1),
}


@pytest.mark.parametrize("tamper", END_TAMPERING, ids=list(END_TAMPERING))
def test_tampering_at_the_end_of_the_chain_is_caught_by_the_head(runner, chain, tamper):
    """The newest entry re-hashed, or a well-formed entry appended, no longer matches the head: exit 1."""
    END_TAMPERING[tamper][0]()

    result = verify(runner)

    assert result.exit_code == 1 and "BROKEN" in result.output, result.output


@pytest.mark.parametrize("tamper", END_TAMPERING, ids=list(END_TAMPERING))
def test_tampering_at_the_end_of_the_chain_names_an_entry_that_exists(runner, chain, tamper):
    """The verdict names the re-hashed last entry itself, or the first entry past the head."""
    action, named = END_TAMPERING[tamper]
    action()

    assert_broken_at(verify(runner), named)


def test_verify_checks_a_head_published_earlier(runner, chain):
    """--expect N:HASH passes while entry N still carries HASH and fails once it does not."""
    seq, digest = chain[2]
    assert runner.invoke(args=["audit", "verify", "--expect", f"{seq}:{digest}"]).exit_code == 0
    wrong = runner.invoke(args=["audit", "verify", "--expect", f"{seq}:{'0' * 64}"])
    assert wrong.exit_code == 1 and "published hash" in wrong.output
