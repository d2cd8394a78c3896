"""``flask users ...``: staff accounts from the command line; passwords never on the command line."""
from __future__ import annotations

from sqlalchemy import select

from lms.extensions import db
from lms.models import User
from tests.conftest import PASSWORD


def test_create_reads_the_password_from_stdin(runner):
    """The password comes from standard input; there is no --password option at all."""
    result = runner.invoke(args=["users", "create", "--role", "mentor", "--email", "Chen@Example.com",
                                 "--name", "陈静"], input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User))
    assert (user.email, user.role, user.name) == ("chen@example.com", "mentor", "陈静")
    assert user.check_password(PASSWORD)
    refused = runner.invoke(args=["users", "create", "--role", "admin", "--email", "a@example.com", "--name", "A",
                                  "--password", PASSWORD])
    assert refused.exit_code != 0 and "No such option" in refused.output


def test_create_refuses_weak_passwords_duplicates_and_companyless_auditors(runner):
    """The same rules as registration apply, with a clear message."""
    weak = runner.invoke(args=["users", "create", "--role", "mentor", "--email", "m@example.com", "--name", "M"],
                         input="password1\n")
    assert weak.exit_code == 1 and "at least 10 characters" in weak.output
    auditor = runner.invoke(args=["users", "create", "--role", "auditor", "--email", "a@example.com",
                                  "--name", "A"], input=PASSWORD + "\n")
    assert auditor.exit_code == 1 and "company" in auditor.output
    ok = runner.invoke(args=["users", "create", "--role", "auditor", "--email", "a@example.com", "--name", "A",
                             "--company", "Egret Circuit Technologies"], input=PASSWORD + "\n")
    assert ok.exit_code == 0, ok.output
    again = runner.invoke(args=["users", "create", "--role", "mentor", "--email", "a@example.com", "--name", "B"],
                          input=PASSWORD + "\n")
    assert again.exit_code == 1 and "already exists" in again.output


def test_set_role_disable_and_enable(runner, make_user):
    """Roles change and accounts are disabled by e-mail, as arguments or options."""
    make_user("student", email="s@example.com")
    assert runner.invoke(args=["users", "set-role", "s@example.com", "mentor"]).exit_code == 0
    assert runner.invoke(args=["users", "set-role", "--email", "s@example.com", "--role", "auditor",
                               "--company", "Example Co."]).exit_code == 0
    db.session.expire_all()
    user = db.session.scalar(select(User))
    assert (user.role, user.company) == ("auditor", "Example Co.")
    assert runner.invoke(args=["users", "disable", "s@example.com"]).exit_code == 0
    db.session.expire_all()
    assert db.session.scalar(select(User)).active is False
    assert runner.invoke(args=["users", "enable", "--email", "s@example.com"]).exit_code == 0
    db.session.expire_all()
    assert db.session.scalar(select(User)).active is True
    missing = runner.invoke(args=["users", "disable", "nobody@example.com"])
    assert missing.exit_code == 1 and "no account" in missing.output
    bad_role = runner.invoke(args=["users", "set-role", "s@example.com", "wizard"])
    assert bad_role.exit_code != 0


def test_an_auditor_of_all_courses_needs_no_company(runner, make_user):
    """--all-courses makes an auditor of every course; the role change is in the audit log."""
    from sqlalchemy import select

    from lms.extensions import db
    from lms.models import AuditEntry, User

    made = runner.invoke(args=["users", "create", "--role", "auditor", "--email", "all@example.com", "--name", "Q",
                               "--all-courses"], input="harbour-lights-2027\n")
    assert made.exit_code == 0, made.output
    make_user("student", email="s@example.com")
    moved = runner.invoke(args=["users", "set-role", "s@example.com", "auditor", "--all-courses"])
    assert moved.exit_code == 0, moved.output
    db.session.rollback()
    assert db.session.scalars(select(User.audits_all).where(User.role == "auditor")).all() == [True, True]
    actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)).all()
    assert actions.count("account.role_changed") == 1 and actions.count("account.created") == 2
