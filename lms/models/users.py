"""Accounts and roles."""
from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, Index, String
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from .types import UTCDateTime, utcnow

ROLES = ("student", "mentor", "auditor", "admin")


class User(UserMixin, db.Model):
    """A person who signs in: a student, mentor, enterprise auditor or administrator."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20), default="student")
    company: Mapped[str | None] = mapped_column(String(300), index=True)
    # An auditor normally sees the courses using their company's cases; this one sees all.
    audits_all: Mapped[bool] = mapped_column(Boolean, default=False)
    password_hash: Mapped[str] = mapped_column(String(300))
    locale: Mapped[str | None] = mapped_column(String(10))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # The admin's user list: newest first, one page at a time, of everybody or of one role; the
    # gradebook's students in name order (for a course most students take, it walks this index
    # and keeps the enrolled ones).
    __table_args__ = (
        Index("ix_users_created", "created_at", "id"),
        Index("ix_users_role_created", "role", "created_at", "id"),
        Index("ix_users_name", "name", "id"),
    )

    @property
    def is_active(self) -> bool:  # Flask-Login refuses disabled accounts
        return self.active

    def set_password(self, password: str) -> None:
        """Store a salted scrypt hash of ``password``; the password itself is never kept."""
        self.password_hash = generate_password_hash(password, method="scrypt")

    def check_password(self, password: str) -> bool:
        """True when ``password`` matches the stored hash."""
        return check_password_hash(self.password_hash, password)


class LoginAttempt(db.Model):
    """One sign-in attempt, kept in the database so throttling holds across all workers and servers."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    address: Mapped[str] = mapped_column(String(64))
    succeeded: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_login_attempts_email_at", "email", "at"),
        Index("ix_login_attempts_address_at", "address", "at"),
    )

