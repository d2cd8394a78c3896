"""``flask dev ...``: commands for a local demo, refused in production."""
from __future__ import annotations

import json
from pathlib import Path

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


@dev.command("seed")
@click.option("--scale", type=float, default=1.0, show_default=True,
              help="Multiple of the park's yearly intake: 1 = 5,000 students, 100,000 attempts; "
                   "10 = the performance target; fractions (0.01) for small databases.")
@click.option("--seed", "rng_seed", type=int, default=None, help="Random seed: the same seed gives the same data "
              "[default: 2026].")
@click.option("--content-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write the generated content tree (empty, or written by an earlier seed) "
                   "[default: seed-content/ in the instance folder].")
@click.option("--password", default=None, help="Password of every seeded account [default: seed-Pa55word-2026].")
@click.option("--force", is_flag=True, help="Seed even though the database already holds accounts or work.")
@click.option("--summary", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write what was made, the timings and the sign-ins to this JSON file.")
@with_appcontext
def seed_command(scale: float, rng_seed: int | None, content_dir: Path | None, password: str | None, force: bool,
                 summary: Path | None) -> None:
    """Fill an empty database with realistic, reproducible data at a given scale (bulk inserts).

    Writes a generated content tree and imports it with the real sync, then adds accounts,
    enrollments, lesson progress, attempts with small stored files, grades, regrade requests,
    extensions, sign-offs and a valid audit chain. Refused in production.
    """
    from ..services import seed as seeding

    if current_app.config["LMS_ENV"] == "production":
        raise click.ClickException("seeding is never done in production")
    content_dir = content_dir or Path(current_app.instance_path) / "seed-content"
    try:
        plan = seeding.Plan.for_scale(scale)
    except seeding.SeedError as exc:
        raise click.BadParameter(str(exc), param_hint="--scale") from None
    click.echo(f"Seeding at scale {scale:g}: {plan.students:,} students, {plan.mentors} mentors, {plan.courses} "
               f"courses of {plan.lessons_per_course} lessons and {plan.assignments_per_course} assignments, "
               f"{plan.attempts:,} attempts, {plan.audit_entries:,} audit entries")
    try:
        report = seeding.seed(plan, content_dir, seed=seeding.DEFAULT_SEED if rng_seed is None else rng_seed,
                              password=password or seeding.DEFAULT_PASSWORD, force=force, echo=click.echo)
    except seeding.SeedError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Created in {report.seconds:.1f} s (content in {report.content_dir}):")
    for name, count in report.counts.items():
        click.echo(f"  {name:<20} {count:>12,}")
    click.echo(f"Sign in with the password {report.password!r} (local use only):")
    for role, email in report.logins.items():
        click.echo(f"  {role:<8} {email}")
    if summary:
        summary.write_text(json.dumps(report.as_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
