"""``flask storage verify|gc``: check the stored upload files and remove unreferenced ones."""
from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from ..extensions import db
from ..models import AttemptFile
from ..services import storage as store


@click.group()
def storage() -> None:
    """Check and clean the files students uploaded (LMS_UPLOAD_DIR)."""


@storage.command("verify")
@with_appcontext
def verify() -> None:
    """Re-hash every file a submission refers to; exit 1 if any is missing or corrupted."""
    referenced = db.session.execute(select(AttemptFile.content_hash, AttemptFile.size).distinct()).all()
    problems = store.verify(store.get_storage(), ((h, size) for h, size in referenced))
    for problem in problems:
        if problem.state == "missing":
            click.echo(f"missing {problem.content_hash} ({problem.size} bytes)")
        else:
            click.echo(f"corrupt {problem.content_hash}")
    click.echo(f"{len(referenced)} files checked, {len(problems)} problems")
    if problems:
        click.get_current_context().exit(1)


@storage.command("gc")
@click.option("--dry-run", is_flag=True, help="Only list what would be removed.")
@click.option("--grace-hours", type=float, default=1.0, show_default=True,
              help="Keep files changed more recently than this (uploads whose row is not committed yet).")
@with_appcontext
def gc(dry_run: bool, grace_hours: float) -> None:
    """Remove stored files that no submission refers to, and stale temporary uploads."""
    referenced = set(db.session.scalars(select(AttemptFile.content_hash).distinct()))
    removed = store.gc(store.get_storage(), referenced, grace_seconds=grace_hours * 3600, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    for content_hash in removed:
        click.echo(f"{verb} {content_hash}")
    click.echo(f"{verb.capitalize()} {len(removed)} unreferenced files")
