"""``flask users create|set-role|disable|enable|list``: accounts from the command line."""
from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from ..models import ROLES
from ..services import accounts


def _read_password() -> str:
    """From a hidden prompt (asked twice) on a terminal, else one line of standard input."""
    if sys.stdin is not None and sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    line = sys.stdin.readline() if sys.stdin else ""
    return line.rstrip("\r\n")


def _pick(positional: str | None, option: str | None, name: str) -> str:
    value = option or positional
    if not value:
        raise click.UsageError(f"give the {name}")
    return value


def _user(email: str):
    user = accounts.find_user(email)
    if user is None:
        raise click.ClickException(f"no account with the e-mail address {email}")
    return user


@click.group()
def users() -> None:
    """Manage accounts. Passwords are read from a prompt or standard input, never from arguments."""


@users.command("create")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--company", help="The enterprise an auditor belongs to (a case's company).")
@click.option("--all-courses", is_flag=True, help="An auditor of every course, not only those using the company's cases.")
@with_appcontext
def create(role: str, email: str, name: str, company: str | None, all_courses: bool) -> None:
    """Create an account with ROLE; the password comes from a prompt or stdin."""
    password = _read_password()
    try:
        user = accounts.create_user(email=email, name=name, password=password, role=role, company=company,
                                    audits_all=all_courses)
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc.message)) from None
    click.echo(f"Created {user.role} {user.email}" + (f" ({user.company})" if user.company else ""))


@users.command("set-role")
@click.argument("email_arg", metavar="[EMAIL]", required=False)
@click.argument("role_arg", metavar="[ROLE]", required=False)
@click.option("--email")
@click.option("--role", type=click.Choice(ROLES))
@click.option("--company", help="Required when the new role is auditor (unless --all-courses).")
@click.option("--all-courses/--own-company", default=None,
              help="An auditor of every course, or only of those using the company's cases.")
@with_appcontext
def set_role(email_arg, role_arg, email, role, company, all_courses) -> None:
    """Change the role of the account EMAIL to ROLE."""
    role = _pick(role_arg, role, "role")
    if role not in ROLES:
        raise click.BadParameter(f"choose one of {', '.join(ROLES)}", param_hint="ROLE")
    user = _user(_pick(email_arg, email, "e-mail address"))
    try:
        accounts.set_role(user, role, company, audits_all=all_courses)
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc.message)) from None
    click.echo(f"{user.email} is now {user.role}" + (f" ({user.company})" if user.company else ""))


@users.command("disable")
@click.argument("email_arg", metavar="[EMAIL]", required=False)
@click.option("--email")
@with_appcontext
def disable(email_arg, email) -> None:
    """Disable the account EMAIL: it can no longer sign in. Nothing is deleted."""
    user = _user(_pick(email_arg, email, "e-mail address"))
    accounts.set_active(user, False)
    click.echo(f"{user.email} is disabled")


@users.command("enable")
@click.argument("email_arg", metavar="[EMAIL]", required=False)
@click.option("--email")
@with_appcontext
def enable(email_arg, email) -> None:
    """Enable the account EMAIL again."""
    user = _user(_pick(email_arg, email, "e-mail address"))
    accounts.set_active(user, True)
    click.echo(f"{user.email} is enabled")


@users.command("list")
@click.option("--role", type=click.Choice(ROLES))
@with_appcontext
def list_users(role: str | None) -> None:
    """List accounts (newest first, first 500)."""
    for user in accounts.search_users("", role, per_page=500).items:
        state = "" if user.active else "  [disabled]"
        click.echo(f"{user.role:<8} {user.email:<40} {user.name}{state}")
