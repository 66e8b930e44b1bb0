"""`intake audit …` and `intake retention …`: operators' commands on the audit trail and data."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.context import current_settings
from app.db import get_engine, new_session, session_scope
from app.models import utcnow
from app.services.audit_log import verify_chain
from app.services.retention import anonymise_expired


@click.group("audit")
def audit() -> None:
    """The audit trail."""


@audit.command("verify")
@with_appcontext
def audit_verify() -> None:
    """Check every link of the hash chain; exit 1 at the first broken one."""
    with new_session(get_engine(), read_only=True) as session:
        report = verify_chain(session)
    if report.ok:
        click.echo(f"audit trail intact: {report.events} events, every link verified")
        return
    click.echo(
        f"audit trail BROKEN at event {report.first_broken_id} "
        f"(event number {report.events} in order): {report.reason}",
        err=True,
    )
    raise SystemExit(1)


@click.group("retention")
def retention() -> None:
    """Personal data retention."""


@retention.command("run")
@click.option("--days", type=int, default=None, help="Override RETENTION_DAYS for this run.")
@with_appcontext
def retention_run(days: int | None) -> None:
    """Anonymise rejected and withdrawn submissions older than the retention period now."""
    period = days if days is not None else current_settings().retention_days
    with session_scope(get_engine()) as session:
        done = anonymise_expired(session, now=utcnow(), days=period)
    click.echo(f"anonymised {done} record(s) older than {period} days")
