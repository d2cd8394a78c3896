"""The tamper-evident audit log: append in the caller's transaction, verify, read the head.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's own fields
(canonical JSON), so changing, removing or reordering any entry breaks every hash after it.
Writers lock the single ``audit_head`` row (``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite
the write transaction, begun IMMEDIATE, already excludes other writers), so concurrent events
always extend the chain one after the other and never fork it.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models.audit import AuditEntry, AuditHead
from ..models.types import utcnow

GENESIS = "0" * 64
BATCH = 2000


@dataclass(frozen=True)
class Event:
    """What happened, before it is chained: the caller's description of one event."""

    action: str
    object_type: str
    object_id: str
    actor_id: int | None = None
    actor_email: str | None = None
    course_id: int | None = None
    details: dict | None = None


def _stamp(at: datetime) -> str:
    return at.astimezone(timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds")


def entry_hash(prev_hash: str, seq: int, at: datetime, actor_id, actor_email, action: str, object_type: str,
               object_id: str, course_id, details: dict) -> str:
    """The hash an entry must carry, from the previous hash and its own fields."""
    payload = json.dumps([seq, _stamp(at), actor_id, actor_email, action, object_type, object_id, course_id,
                          details], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((prev_hash + payload).encode("utf-8")).hexdigest()


def _locked_head() -> AuditHead:
    head = db.session.scalar(select(AuditHead).where(AuditHead.id == 1).with_for_update())
    if head is not None:
        return head
    try:
        with db.session.begin_nested():
            db.session.add(AuditHead(id=1, seq=0, hash=GENESIS))
    except IntegrityError:  # another writer created it first
        pass
    return db.session.scalar(select(AuditHead).where(AuditHead.id == 1).with_for_update())


def record_many(events: Iterable[Event], at: datetime | None = None) -> list[AuditEntry]:
    """Append events to the chain inside the caller's transaction (the caller commits).

    Call it after the change it records is flushed or added, in the same transaction, so the
    change and its record commit or roll back together.
    """
    events = list(events)
    if not events:
        return []
    at = at or utcnow()
    head = _locked_head()
    seq, prev = head.seq, head.hash
    rows = []
    for event in events:
        seq += 1
        details = json.loads(json.dumps(event.details or {}, ensure_ascii=False, default=str))
        digest = entry_hash(prev, seq, at, event.actor_id, event.actor_email, event.action, event.object_type,
                            str(event.object_id), event.course_id, details)
        rows.append(AuditEntry(seq=seq, at=at, actor_id=event.actor_id, actor_email=event.actor_email,
                               action=event.action, object_type=event.object_type, object_id=str(event.object_id),
                               course_id=event.course_id, details=details, prev_hash=prev, hash=digest))
        prev = digest
    db.session.add_all(rows)
    head.seq, head.hash = seq, prev
    return rows


def record(action: str, object_type: str, object_id, *, actor=None, course_id: int | None = None,
           details: dict | None = None, at: datetime | None = None) -> AuditEntry:
    """Append one event by ``actor`` (a User, or None for the system) in the caller's transaction."""
    event = Event(action, object_type, str(object_id), actor_id=getattr(actor, "id", None),
                  actor_email=getattr(actor, "email", None), course_id=course_id, details=details)
    return record_many([event], at=at)[0]


@dataclass(frozen=True)
class Verdict:
    """The outcome of re-computing the chain: ``bad_seq`` names the first broken entry."""

    checked: int
    head_seq: int
    head_hash: str
    bad_seq: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.bad_seq is None


def verify() -> Verdict:
    """Re-compute every hash in order and compare with the stored chain and head."""
    head = db.session.scalar(select(AuditHead).where(AuditHead.id == 1))
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
    prev, expected, checked = GENESIS, 1, 0
    last_seq = 0
    while True:
        batch = db.session.scalars(select(AuditEntry).where(AuditEntry.seq > last_seq)
                                   .order_by(AuditEntry.seq).limit(BATCH)).all()
        if not batch:
            break
        for entry in batch:
            if entry.seq != expected:
                return Verdict(checked, head_seq, head_hash, expected,
                               f"entry {expected} is missing (the next one is {entry.seq})")
            if entry.prev_hash != prev:
                return Verdict(checked, head_seq, head_hash, entry.seq,
                               f"entry {entry.seq} does not follow entry {entry.seq - 1} (previous hash differs)")
            if entry_hash(prev, entry.seq, entry.at, entry.actor_id, entry.actor_email, entry.action,
                          entry.object_type, entry.object_id, entry.course_id, entry.details or {}) != entry.hash:
                return Verdict(checked, head_seq, head_hash, entry.seq,
                               f"entry {entry.seq} was changed after it was written")
            prev, expected, checked = entry.hash, entry.seq + 1, checked + 1
            last_seq = entry.seq
        db.session.expunge_all()
    if checked != head_seq or prev != head_hash:
        return Verdict(checked, head_seq, head_hash, checked + 1,
                       f"the head names entry {head_seq}, but the chain ends at entry {checked}")
    return Verdict(checked, head_seq, head_hash)


def head() -> tuple[int, str]:
    """(sequence number, hash) of the newest entry; publish it to compare later."""
    row = db.session.scalar(select(AuditHead).where(AuditHead.id == 1))
    return (row.seq, row.hash) if row else (0, GENESIS)


def count() -> int:
    return db.session.scalar(select(func.count(AuditEntry.id))) or 0
