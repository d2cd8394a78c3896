"""``flask content check|sync [PATH]``."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from ..services.content import check_tree, sync_tree
from ..services.content.status import write_status


def _display(root: Path, rel: str) -> str:
    """A path the user can open: relative to the working directory when inside it."""
    full = root / rel if not os.path.isabs(rel) else Path(rel)
    try:
        return os.path.relpath(full)
    except ValueError:
        return str(full)


def _report(root: Path, result, elapsed: float) -> None:
    for warning in result.warnings:
        click.echo(f"{_display(root, warning.path)}:{warning.line}: warning: {warning.message}", err=True)
    for error in result.errors:
        click.echo(f"{_display(root, error.path)}:{error.line}: {error.message}", err=True)
    if result.errors:
        click.echo(f"{len(result.errors)} error(s) in {root}; nothing was imported.", err=True)


def _root(path: str | None) -> Path:
    return Path(path or current_app.config["LMS_CONTENT_DIR"]).resolve()


@click.group()
def content() -> None:
    """Validate and import course content (see docs/content.md)."""


@content.command("check")
@click.argument("path", required=False, type=click.Path(file_okay=False))
@with_appcontext
def check_command(path: str | None) -> None:
    """Validate PATH (default: LMS_CONTENT_DIR) without writing anything."""
    root = _root(path)
    started = time.perf_counter()
    result = check_tree(root, max_asset_mb=current_app.config["LMS_MAX_ASSET_MB"])
    _report(root, result, time.perf_counter() - started)
    if result.errors:
        sys.exit(1)
    counts = ", ".join(f"{n} {kind}(s)" for kind, n in sorted(result.counts.items())) or "no files"
    click.echo(f"OK: {counts} in {root}")


@content.command("sync")
@click.argument("path", required=False, type=click.Path(file_okay=False))
@with_appcontext
def sync_command(path: str | None) -> None:
    """Validate PATH (default: LMS_CONTENT_DIR) and import it; on any error nothing changes."""
    root = _root(path)
    started = time.perf_counter()
    result = sync_tree(root, max_asset_mb=current_app.config["LMS_MAX_ASSET_MB"])
    elapsed = time.perf_counter() - started
    _report(root, result, elapsed)
    summary = {"created": len(result.created), "updated": len(result.updated), "retired": len(result.retired),
               "rendered": result.rendered, "seconds": round(elapsed, 3)}
    write_status(current_app.instance_path, root, result.ok, summary, result.errors)
    if result.errors:
        sys.exit(1)
    if not result.changed:
        click.echo(f"Up to date: nothing changed in {root} ({elapsed:.2f}s).")
        return
    for label, paths in (("created", result.created), ("updated", result.updated), ("retired", result.retired)):
        for item in paths:
            click.echo(f"  {label}: {item}")
    commit = f" at commit {result.commit_id[:12]}" if result.commit_id else ""
    click.echo(f"Synced {root}{commit}: {summary['created']} created, {summary['updated']} updated, "
               f"{summary['retired']} retired, {result.rendered} rendered ({elapsed:.2f}s).")
