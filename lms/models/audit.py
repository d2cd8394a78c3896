"""The audit trail: a hash-chained, append-only log, and auditors' sign-offs of content versions."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime, utcnow
from .users import User


class AuditEntry(db.Model):
    """One significant event. ``hash`` covers the entry's fields and the previous entry's hash,
    so editing, deleting or reordering any entry breaks the chain from there on."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(Integer)  # no foreign key: the log outlives rows
    actor_email: Mapped[str | None] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str] = mapped_column(String(30))
    object_id: Mapped[str] = mapped_column(String(100))
    course_id: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_audit_entries_course_seq", "course_id", "seq"),
        # The log of some courses and kinds of event (an auditor's): a short range per course and kind.
        Index("ix_audit_entries_course_action_seq", "course_id", "action", "seq"),
        Index("ix_audit_entries_action_seq", "action", "seq"),
        Index("ix_audit_entries_object", "object_type", "object_id", "seq"),
        Index("ix_audit_entries_actor_seq", "actor_id", "seq"),
        Index("ix_audit_entries_actor_email_seq", "actor_email", "seq"),  # the log filtered by actor
    )


class AuditHead(db.Model):
    """The single row naming the newest entry; writers lock it, so the chain never forks."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    hash: Mapped[str] = mapped_column(String(64))


class SignOff(db.Model):
    """An auditor's decision on one version of one content item."""

    __tablename__ = "sign_offs"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_type: Mapped[str] = mapped_column(String(20))
    item_id: Mapped[int] = mapped_column(Integer)
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id"))
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(20))  # approved | changes_requested
    comment: Mapped[str] = mapped_column(Text, default="")
    comment_html: Mapped[str] = mapped_column(Text, default="")
    auditor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    auditor: Mapped[User] = relationship()

    __table_args__ = (
        Index("ix_sign_offs_item", "item_type", "item_id", "id"),
        Index("ix_sign_offs_course", "course_id", "id"),
    )
