"""``flask audit verify|head``: check the audit log's hash chain and publish its head."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from ..services import audit as audit_svc


@click.group()
def audit() -> None:
    """The tamper-evident audit log."""


@audit.command("verify")
@click.option("--expect", metavar="N:HASH", help="A head published earlier: entry N must still carry HASH.")
@with_appcontext
def verify(expect: str | None) -> None:
    """Re-compute the whole hash chain; exit 1 naming the first broken entry."""
    verdict = audit_svc.verify()
    if verdict.ok and expect:
        seq, _sep, digest = expect.partition(":")
        if not seq.isdigit() or audit_svc.hash_of(int(seq)) != digest.strip().lower():
            click.echo(f"BROKEN: entry {seq} does not carry the published hash {digest}", err=True)
            raise SystemExit(1)
    if verdict.ok:
        click.echo(f"OK: {verdict.checked} entries, head {verdict.head_seq} {verdict.head_hash}")
        return
    click.echo(f"BROKEN at entry {verdict.bad_seq}: {verdict.reason} ({verdict.checked} entries checked before it)",
               err=True)
    raise SystemExit(1)


@audit.command("head")
@with_appcontext
def head() -> None:
    """Print the newest entry's number and hash, to publish or hand to an enterprise."""
    seq, digest = audit_svc.head()
    click.echo(f"{seq} {digest}")
