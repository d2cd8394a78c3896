"""Accounts: registration, password rules, throttled sign-in, password reset, roles.

Functions take explicit arguments and raise AccountError (with a translatable message) on
refusal; they commit their own transaction.
"""
from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from functools import lru_cache
from importlib.resources import files

from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, or_, select

from ..db_setup import begin_write
from ..extensions import db
from ..models import ROLES, LoginAttempt, User
from ..models.types import utcnow
from . import audit

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 200
THROTTLE_FAILURES = 5
THROTTLE_WINDOW = timedelta(minutes=15)
RESET_MAX_AGE_S = 3600
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class AccountError(Exception):
    """A refused account operation; ``message`` is shown to the user in their language."""

    def __init__(self, message, field: str | None = None):
        super().__init__(str(message))
        self.message, self.field = message, field


class Throttled(AccountError):
    """Too many failed sign-ins; try again after ``wait`` seconds."""

    def __init__(self, wait: int):
        minutes = max(1, (wait + 59) // 60)
        super().__init__(_l("Too many failed sign-in attempts. Please wait %(minutes)d minutes and try again.",
                            minutes=minutes))
        self.wait = wait


def normalize_email(email: str) -> str:
    """E-mail addresses compare case-insensitively and without surrounding spaces."""
    return (email or "").strip().lower()


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    text = files("lms").joinpath("data/common-passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def password_problems(password: str, *, email: str = "", name: str = "") -> list:
    """Why ``password`` is too weak (empty when it is acceptable)."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(_l("Use at least %(count)d characters.", count=MIN_PASSWORD_LENGTH))
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(_l("Use at most %(count)d characters.", count=MAX_PASSWORD_LENGTH))
    lowered = password.lower()
    local = normalize_email(email).split("@")[0]
    if lowered in _common_passwords() or len(set(lowered)) <= 2:
        problems.append(_l("This password is too common. Choose one that is harder to guess."))
    elif (local and len(local) >= 4 and local in lowered) or (name and name.strip().lower() == lowered):
        problems.append(_l("Do not use your e-mail address or name as your password."))
    return problems


def _check_password(password: str, email: str, name: str) -> None:
    problems = password_problems(password, email=email, name=name)
    if problems:
        raise AccountError(" ".join(str(p) for p in problems), field="password")


def create_user(*, email: str, name: str, password: str, role: str = "student", company: str | None = None,
                locale: str | None = None, actor: User | None = None, audits_all: bool = False) -> User:
    """Create an account; refuses duplicates, unknown roles, weak passwords and auditors without a company."""
    email = normalize_email(email)
    if not EMAIL_RE.match(email):
        raise AccountError(_l("Enter a valid e-mail address."), field="email")
    if role not in ROLES:
        raise AccountError(_l("Unknown role: %(role)s", role=role), field="role")
    if role == "auditor" and not (company or "").strip() and not audits_all:
        raise AccountError(_l("An auditor belongs to an enterprise: give its company name."), field="company")
    name = (name or "").strip()
    if not name:
        raise AccountError(_l("Enter your name."), field="name")
    _check_password(password, email, name)
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise AccountError(_l("An account with this e-mail address already exists."), field="email")
    user = User(email=email, name=name, role=role, company=(company or "").strip() or None, locale=locale,
                audits_all=bool(audits_all and role == "auditor"))
    user.set_password(password)
    begin_write()
    db.session.add(user)
    db.session.flush()
    audit.record("account.created", "user", user.id, actor=actor,
                 details={"email": user.email, "role": role, "company": user.company,
                          "audits_all": user.audits_all, "self_registered": actor is None and role == "student"})
    db.session.commit()
    return user


def register_student(*, email: str, name: str, password: str, locale: str | None) -> User:
    """Self-registration: always a student."""
    return create_user(email=email, name=name, password=password, role="student", locale=locale)


def _recent_failures(column, value: str, now: datetime) -> list[datetime]:
    """Failures for one account or address in the window, since its last success."""
    since = now - THROTTLE_WINDOW
    last_success = db.session.scalar(select(func.max(LoginAttempt.at)).where(
        column == value, LoginAttempt.succeeded.is_(True), LoginAttempt.at >= since))
    start = max(since, last_success) if last_success else since
    return list(db.session.scalars(select(LoginAttempt.at).where(
        column == value, LoginAttempt.succeeded.is_(False), LoginAttempt.at > start)
        .order_by(LoginAttempt.at.desc()).limit(THROTTLE_FAILURES)))


def throttle_wait(email: str, address: str, now: datetime | None = None) -> int:
    """Seconds to wait before this account or address may try again (0 when allowed)."""
    now = now or utcnow()
    wait = 0
    for column, value in ((LoginAttempt.email, normalize_email(email)), (LoginAttempt.address, address)):
        failures = _recent_failures(column, value, now)
        if len(failures) >= THROTTLE_FAILURES:
            wait = max(wait, int((failures[-1] + THROTTLE_WINDOW - now).total_seconds()) + 1)
    return wait


def authenticate(email: str, password: str, address: str, now: datetime | None = None) -> User:
    """The active user with these credentials; raises Throttled or AccountError.

    Every attempt is recorded in the database, so the limit (5 failures in 15 minutes per
    account and per address) holds across all workers and servers.
    """
    now = now or utcnow()
    email = normalize_email(email)
    wait = throttle_wait(email, address, now)
    if wait:
        raise Throttled(wait)
    user = db.session.scalar(select(User).where(User.email == email))
    # Check a hash even for unknown accounts, so response times do not reveal which exist.
    valid = user.check_password(password) if user else (User(password_hash=_DUMMY_HASH).check_password(password))
    ok = bool(user and valid and user.active)
    begin_write()
    db.session.add(LoginAttempt(email=email[:320], address=address[:64], succeeded=ok, at=now))
    if user is not None and user.role != "student":  # staff sign-ins are audited, failures too
        audit.record("auth.login" if ok else "auth.login_failed", "user", user.id, actor=user, at=now,
                     details={"address": address[:64]})
    db.session.commit()
    if not ok:
        if user and valid and not user.active:
            raise AccountError(_l("This account is disabled. Contact an administrator."))
        raise AccountError(_l("Wrong e-mail address or password."))
    return user


_DUMMY_HASH = "scrypt:32768:8:1$dummysaltdummysa$" + "0" * 128


def change_password(user: User, current: str, new: str) -> None:
    """Change a password after checking the current one."""
    if not user.check_password(current):
        raise AccountError(_l("Your current password is not correct."), field="current_password")
    _check_password(new, user.email, user.name)
    begin_write()
    user.set_password(new)
    db.session.commit()


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="lms-password-reset")


def _password_fingerprint(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:20]


def make_reset_token(user: User, secret_key: str) -> str:
    """A signed token for a password-reset link; it dies once the password changes (single use)."""
    return _serializer(secret_key).dumps({"u": user.id, "p": _password_fingerprint(user)})


def user_for_reset_token(token: str, secret_key: str, max_age: int = RESET_MAX_AGE_S) -> User:
    """The user a valid, unexpired, unused token belongs to; AccountError otherwise."""
    try:
        data = _serializer(secret_key).loads(token, max_age=max_age)
    except SignatureExpired:
        raise AccountError(_l("This reset link has expired. Ask for a new one.")) from None
    except BadSignature:
        raise AccountError(_l("This reset link is not valid.")) from None
    user = db.session.get(User, data.get("u")) if isinstance(data, dict) else None
    if user is None or not user.active or data.get("p") != _password_fingerprint(user):
        raise AccountError(_l("This reset link has already been used or is no longer valid."))
    return user


def reset_password(token: str, new: str, secret_key: str) -> User:
    """Set a new password through a reset token; the token cannot be used again."""
    user = user_for_reset_token(token, secret_key)
    _check_password(new, user.email, user.name)
    begin_write()
    user.set_password(new)
    db.session.commit()
    return user


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalize_email(email)))


def set_role(user: User, role: str, company: str | None = None, *, audits_all: bool | None = None,
             actor: User | None = None) -> User:
    """Change a user's role (an auditor needs a company, or to audit all courses); audited."""
    if role not in ROLES:
        raise AccountError(_l("Unknown role: %(role)s", role=role), field="role")
    begin_write()  # read the old values under the write lock, so the record is exact
    company = (company or "").strip() or (user.company if role == "auditor" else None)
    all_courses = bool(user.audits_all if audits_all is None else audits_all) and role == "auditor"
    if role == "auditor" and not company and not all_courses:
        db.session.rollback()
        raise AccountError(_l("An auditor belongs to an enterprise: give its company name."), field="company")
    old = {"role": user.role, "company": user.company, "audits_all": user.audits_all}
    new = {"role": role, "company": company, "audits_all": all_courses}
    user.role, user.company, user.audits_all = role, company, all_courses
    if old != new:
        audit.record("account.role_changed", "user", user.id, actor=actor,
                     details={"email": user.email, "old": old, "new": new})
    db.session.commit()
    return user


def set_active(user: User, active: bool, actor: User | None = None) -> User:
    """Disable or re-enable an account (a disabled account cannot sign in); audited."""
    begin_write()
    if user.active != active:
        audit.record("account.enabled" if active else "account.disabled", "user", user.id, actor=actor,
                     details={"email": user.email})
    user.active = active
    db.session.commit()
    return user


def search_users(query: str = "", role: str | None = None, page: int = 1, per_page: int = 50):
    """Users matching ``query`` (e-mail or name) and ``role``, newest first, one page at a time."""
    stmt = select(User)
    if query:
        like = f"%{query.strip().lower()}%"
        stmt = stmt.where(or_(func.lower(User.email).like(like), func.lower(User.name).like(like)))
    if role in ROLES:
        stmt = stmt.where(User.role == role)
    return db.paginate(stmt.order_by(User.created_at.desc(), User.id.desc()), page=page, per_page=per_page,
                       error_out=False)


def update_settings(user: User, *, name: str, locale: str, timezone: str) -> User:
    """Change a user's display name, interface language and time zone."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = (name or "").strip()
    if not name:
        raise AccountError(_l("Enter your name."), field="name")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise AccountError(_l("Unknown time zone."), field="timezone") from None
    begin_write()
    user.name, user.locale, user.timezone = name[:200], locale, timezone
    db.session.commit()
    return user
