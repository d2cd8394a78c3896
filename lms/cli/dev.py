"""``flask dev ...``: commands for a local demo, refused in production."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from ..extensions import db
from ..models import User

# Demo accounts for a local machine only. The mentor e-mails match content/courses/*/course.md.
DEMO_ACCOUNTS = [
    ("student", "student@demo.example.com", "李明 Li Ming", None, "student-demo-2026"),
    ("student", "student2@demo.example.com", "Wang Fang 王芳", None, "student-demo-2026"),
    ("mentor", "chen.jing@mentors.example.com", "陈静 Chen Jing", None, "mentor-demo-2026"),
    ("mentor", "sarah.lin@mentors.example.com", "Sarah Lin 林莎", None, "mentor-demo-2026"),
    ("auditor", "auditor@demo.example.com", "Auditor 审核员", "Egret Circuit Technologies (fictional company, for teaching only)",
     "auditor-demo-2026"),
    ("admin", "admin@demo.example.com", "Administrator 管理员", None, "admin-demo-2026"),
]


@click.group()
def dev() -> None:
    """Local development helpers (refused when LMS_ENV=production)."""


@dev.command("demo-accounts")
@with_appcontext
def demo_accounts() -> None:
    """Create the demo accounts if missing and print how to sign in with them."""
    if current_app.config["LMS_ENV"] == "production":
        raise click.ClickException("demo accounts are never created in production")
    existing = set(db.session.scalars(select(User.email)))
    for role, email, name, company, password in DEMO_ACCOUNTS:
        if email not in existing:
            user = User(email=email, name=name, role=role, company=company)
            user.set_password(password)
            db.session.add(user)
    db.session.commit()
    click.echo("Demo accounts (local demo only):")
    for role, email, _name, _company, password in DEMO_ACCOUNTS:
        click.echo(f"  {role:<8} {email:<34} password: {password}")
