"""The `intake` command: database, demo data, users, tokens, the fake Partner Center."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from alembic import command
from alembic.config import Config
from flask.cli import FlaskGroup, with_appcontext
from sqlmodel import Session, select

from app import create_app
from app.cli_ops import audit, retention
from app.cli_partner_center import partner_center
from app.config import PROJECT_ROOT
from app.context import current_settings
from app.db import get_engine, session_scope
from app.models import Organization, OrgKind, Role, User
from app.services import agreements, monitor
from app.services.errors import DomainError, ValidationFailed
from app.services.users import create_api_token, create_user

DEMO_PASSWORD_DEFAULT = "intake-demo-2026"  # noqa: S105 (printed demo password, refused in production)


@click.group(cls=FlaskGroup, create_app=create_app, add_version_option=False)
def cli() -> None:
    """The intake portal's command line."""


cli.add_command(audit)
cli.add_command(retention)
cli.add_command(partner_center)


def alembic_config(url: str) -> Config:
    """Alembic's configuration for the portal's migrations and a database URL."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@cli.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Migrate the database to the latest schema (run once per deploy)."""
    settings = current_settings()
    if settings.is_sqlite:
        Path(settings.database_url.split("///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(settings.database_url), revision)
    click.echo(f"database at {revision}")


def _org(
    session_: Session, *, kind: OrgKind, name: str, domains: list[str], country: str | None = None
) -> Organization:
    org = session_.exec(
        select(Organization).where(Organization.kind == kind).where(Organization.name == name)
    ).first()
    if org is None:
        org = Organization(kind=kind.value, name=name, email_domains=domains, country=country)
        session_.add(org)
        session_.flush()
    return org


DEMO_USERS = (
    ("provider", "admin@provider.example", "Ada Admin", Role.PROVIDER_ADMIN),
    ("provider", "reviewer@provider.example", "Rae Reviewer", Role.PROVIDER_REVIEWER),
    ("a", "submitter@reseller-a.example", "Sam Submitter (A)", Role.RESELLER_SUBMITTER),
    ("b", "submitter@reseller-b.example", "Sue Submitter (B)", Role.RESELLER_SUBMITTER),
)


@cli.command("seed-demo")
@click.option("--force", is_flag=True, help="Allow it in production.")
@with_appcontext
def seed_demo(force: bool) -> None:
    """Create the demo provider, resellers A and B, their users and a few customers."""
    settings = current_settings()
    if settings.env == "production" and not force:
        raise click.ClickException("seed-demo makes demo accounts; refusing in production")
    password = os.environ.get("DEMO_PASSWORD", DEMO_PASSWORD_DEFAULT)
    from app.services.demo import seed_customers

    with session_scope(get_engine()) as session:
        orgs = {
            "provider": _org(
                session,
                kind=OrgKind.PROVIDER,
                name="Demo Distribution",
                domains=["provider.example"],
            ),
            "a": _org(
                session,
                kind=OrgKind.RESELLER,
                name="Reseller A",
                domains=["reseller-a.example"],
                country="KR",
            ),
            "b": _org(
                session,
                kind=OrgKind.RESELLER,
                name="Reseller B",
                domains=["reseller-b.example"],
                country="KR",
            ),
        }
        for org_key, email, name, role in DEMO_USERS:
            if session.exec(select(User).where(User.email == email)).first() is None:
                create_user(
                    session,
                    actor=None,
                    organization=orgs[org_key],
                    email=email,
                    name=name,
                    role=role,
                    password=password,
                )
        agreements.ensure_default_template(session)
        seed_customers(session, orgs["a"], orgs["b"])
    click.echo(f"Demo logins (password for all: {password}):")
    for _org_key, email, _name, role in DEMO_USERS:
        click.echo(f"  {email:32} {role.value}")


@cli.group()
def users() -> None:
    """User accounts."""


@users.command("create")
@click.option("--email", required=True)
@click.option("--name", default="")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--organization", "org_name", required=True, help="Organization name.")
@click.option("--create-organization", is_flag=True, help="Create the organization if missing.")
@click.password_option()
@with_appcontext
def users_create(
    email: str, name: str, role: str, org_name: str, create_organization: bool, password: str
) -> None:
    """Create a user in an organization."""
    role_ = Role(role)
    kind = OrgKind.PROVIDER if role_.is_provider else OrgKind.RESELLER
    with session_scope(get_engine()) as session:
        org = session.exec(select(Organization).where(Organization.name == org_name)).first()
        if org is None:
            if not create_organization:
                raise click.ClickException(
                    f"no organization named {org_name!r}; add --create-organization"
                )
            org = _org(session, kind=kind, name=org_name, domains=[])
        try:
            user = create_user(
                session,
                actor=None,
                organization=org,
                email=email,
                name=name,
                role=role_,
                password=password,
            )
        except ValidationFailed as exc:
            raise click.ClickException(
                "; ".join(m for ms in exc.errors.values() for m in ms)
            ) from None
        click.echo(f"created {user.email} ({user.role}) in {org.name}")


@cli.group()
def tokens() -> None:
    """API tokens."""


@tokens.command("create")
@click.option("--email", required=True)
@click.option("--label", default="command line")
@with_appcontext
def tokens_create(email: str, label: str) -> None:
    """Create an API token for a user and print only the token."""
    with session_scope(get_engine()) as session:
        user = session.exec(select(User).where(User.email == email.strip().lower())).first()
        if user is None:
            raise click.ClickException(f"no user {email}")
        try:
            _token, secret = create_api_token(session, actor=None, user=user, label=label)
        except DomainError as exc:
            raise click.ClickException(exc.message) from None
    click.echo(secret)


@cli.group()
def forwarding() -> None:
    """The forwarding pipeline to Partner Center."""


@forwarding.command("backlog")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts and monitoring).")
@with_appcontext
def forwarding_backlog(as_json: bool) -> None:
    """Records per status, what is due, leases of lost workers and any throttling pause."""
    with session_scope(get_engine()) as session:
        # limit=0: only the counts and times are printed, not the records the web monitor lists.
        snap = monitor.snapshot(session, limit=0)
    data = backlog_data(snap)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    width = max(len(status) for status in snap.counts_by_status)
    click.echo(f"Forwarding backlog at {_when(snap.taken_at)}")
    click.echo("")
    click.echo(f"  {'status':<{width}}  {'records':>7}")
    for status, count in snap.counts_by_status.items():
        click.echo(f"  {status:<{width}}  {count:>7}")
    click.echo(f"  {'total':<{width}}  {sum(snap.counts_by_status.values()):>7}")
    click.echo("")
    click.echo(f"Due now:           {snap.due_now} approved record(s)")
    if snap.oldest_due is None:
        click.echo("Oldest due:        none")
    else:
        ago = _duration(data["oldest_due_age_seconds"])
        click.echo(f"Oldest due:        {_when(snap.oldest_due)} ({ago} ago)")
    click.echo(
        f"Expired leases:    {snap.expired_leases} (workers lost mid-flight; "
        "the sweeper re-enqueues them)"
    )
    if snap.paused_until is None:
        click.echo("Throttling pause:  none")
    else:
        left = _duration(data["paused_for_seconds"])
        click.echo(f"Throttling pause:  until {_when(snap.paused_until)} ({left} left)")


def backlog_data(snap: monitor.Snapshot) -> dict[str, Any]:
    """The backlog as JSON-ready data (the shape `intake forwarding backlog --json` prints)."""

    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    def seconds(start: datetime | None, end: datetime | None) -> float | None:
        if start is None or end is None:
            return None
        return round(max(0.0, (end - start).total_seconds()), 3)

    return {
        "taken_at": iso(snap.taken_at),
        "counts_by_status": dict(snap.counts_by_status),
        "total": sum(snap.counts_by_status.values()),
        "due_now": snap.due_now,
        "oldest_due": iso(snap.oldest_due),
        "oldest_due_age_seconds": seconds(snap.oldest_due, snap.taken_at),
        "expired_leases": snap.expired_leases,
        "paused_until": iso(snap.paused_until),
        "paused_for_seconds": seconds(snap.taken_at, snap.paused_until),
    }


def _when(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S %Z")


def _duration(seconds: float | None) -> str:
    """`3725` -> `1 h 2 min`: the two largest units are enough to read a backlog."""
    total = int(seconds or 0)
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if total >= size or (unit == "s" and not parts):
            parts.append(f"{total // size} {unit}")
            total %= size
    return " ".join(parts[:2])


@cli.command("fake-partner-center")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5050, show_default=True)
@click.option("--latency-ms", type=int, default=None)
@click.option("--error-5xx-rate", type=float, default=None)
@click.option("--throttle-rate", type=float, default=None)
@click.option("--retry-after-seconds", type=int, default=None)
@click.option("--timeout-rate", type=float, default=None)
@click.option("--hang-after-commit-rate", type=float, default=None)
@click.option("--hang-seconds", type=float, default=None)
@click.option("--duplicate-status", type=int, default=None, help="HTTP status for 600061.")
@click.option("--seed", type=int, default=None, help="Seed of the fault randomness.")
@click.option(
    "--attestation-lapse-seconds", type=float, default=None, help="Enhanced flow: link lifetime."
)
def fake_partner_center(host: str, port: int, **faults: float | None) -> None:
    """Run the fake Partner Center (development and tests)."""
    from app.partner_center.fake import serve

    names = {
        "latency_ms": "latencyMs",
        "error_5xx_rate": "error5xxRate",
        "throttle_rate": "throttleRate",
        "retry_after_seconds": "retryAfterSeconds",
        "timeout_rate": "timeoutRate",
        "hang_after_commit_rate": "hangAfterCommitRate",
        "hang_seconds": "hangSeconds",
        "duplicate_status": "duplicateStatus",
        "seed": "seed",
        "attestation_lapse_seconds": "attestationLapseSeconds",
    }
    chosen = {names[k]: v for k, v in faults.items() if v is not None}
    click.echo(f"fake Partner Center on http://{host}:{port}")
    serve(host=host, port=port, faults=chosen or None)
