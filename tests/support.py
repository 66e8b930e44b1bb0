"""Test data shared by the suites: the seeded organizations and users, and record builders."""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from app.models import AcceptanceRecord, Organization, OrgKind, Role, User
from app.models.acceptance_input import parse_submission
from app.security.passwords import hash_password
from app.services import acceptance as submissions
from app.services import review

PASSWORD = "correct horse battery staple"

# name, kind, staff email domains
ORGS = (
    ("Provider", OrgKind.PROVIDER, ["provider.test"]),
    ("Reseller A", OrgKind.RESELLER, ["a.test"]),
    ("Reseller B", OrgKind.RESELLER, ["b.test"]),
)
# key, email, organization name, role, active
USERS = (
    ("provider_admin", "admin@provider.test", "Provider", Role.PROVIDER_ADMIN, True),
    ("reviewer", "reviewer@provider.test", "Provider", Role.PROVIDER_REVIEWER, True),
    ("a_submitter", "submitter@a.test", "Reseller A", Role.RESELLER_SUBMITTER, True),
    ("a_admin", "admin@a.test", "Reseller A", Role.RESELLER_ADMIN, True),
    ("b_submitter", "submitter@b.test", "Reseller B", Role.RESELLER_SUBMITTER, True),
    ("b_admin", "admin@b.test", "Reseller B", Role.RESELLER_ADMIN, True),
    ("disabled", "disabled@a.test", "Reseller A", Role.RESELLER_SUBMITTER, False),
)
SEED_EMAILS = tuple(u[1] for u in USERS)
SEED_ORGS = tuple(o[0] for o in ORGS)


def migrate_and_seed(url: str) -> None:
    """An empty database to the latest schema, with the seeded users."""
    from alembic import command

    from app.cli import alembic_config
    from app.db import make_engine

    command.upgrade(alembic_config(url), "head")
    engine = make_engine(url)
    try:
        seed(engine)
    finally:
        engine.dispose()


def seed(engine: sa.Engine) -> None:
    """Organizations and users every test starts with (one hash: argon2 is slow on purpose)."""
    password_hash = hash_password(PASSWORD)
    with Session(engine) as session:
        orgs = {}
        for name, kind, domains in ORGS:
            org = Organization(name=name, kind=kind.value, email_domains=domains)
            session.add(org)
            session.flush()
            orgs[name] = org
        for _key, email, org_name, role, active in USERS:
            session.add(
                User(
                    organization_id=orgs[org_name].id or 0,
                    email=email,
                    name=email.split("@")[0].title(),
                    role=role.value,
                    password_hash=password_hash,
                    active=active,
                )
            )
        session.commit()


@dataclass
class Users:
    """The seeded users, loaded in the test's session."""

    provider_admin: User
    reviewer: User
    a_submitter: User
    a_admin: User
    b_submitter: User
    b_admin: User
    disabled: User


def load_users(session: Session) -> Users:
    """The seeded users by key."""
    by_email = {u.email: u for u in session.exec(select(User))}
    return Users(**{key: by_email[email] for key, email, *_ in USERS})


def new_tenant() -> str:
    """A fresh customer tenant id."""
    return str(uuid.uuid4())


def submission(**overrides: Any) -> dict[str, Any]:
    """An API-shaped submission; `overrides` use dotted paths, e.g. {"contact.email": "x"}."""
    body: dict[str, Any] = {
        "customer": {
            "tenantId": new_tenant(),
            "companyName": "Contoso Korea",
            "domain": "contoso.example",
            "cloud": "public",
        },
        "dateAgreed": date(2026, 3, 2).isoformat(),
        "contact": {
            "firstName": "Minji",
            "lastName": "Kim",
            "email": "minji.kim@contoso.example",
            "phoneNumber": "+82 2 1234 5678",
        },
    }
    for path, value in overrides.items():
        target = body
        *parents, leaf = path.split(".")
        for part in parents:
            target = target.setdefault(part, {})
        if value is None:
            target.pop(leaf, None)
        else:
            target[leaf] = value
    return body


def submit(session: Session, actor: User, **overrides: Any) -> AcceptanceRecord:
    """Submit through the service and commit."""
    data = parse_submission(submission(**overrides), phone_region="KR")
    record = submissions.submit(session, actor=actor, data=data)
    session.commit()
    return record


def approved(
    session: Session, submitter: User, reviewer: User, **overrides: Any
) -> AcceptanceRecord:
    """Submit, approve and commit; returns the approved record."""
    record = submit(session, submitter, **overrides)
    review.approve(session, actor=reviewer, record=record)
    session.commit()
    return record


def in_ci() -> bool:
    """Under CI a missing service fails the run instead of skipping."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def reread(session: Session, model: type[Any], row_id: Any) -> Any:
    """A row as the database holds it now; ends the read so that other sessions can write.

    (On SQLite every writing transaction holds the database's write lock until it ends.)
    """
    row = session.get_one(model, row_id)
    session.refresh(row)
    session.commit()
    return row


def pages_touched(plan: str) -> int:
    """Shared buffers (hit + read) of an EXPLAIN (ANALYZE, BUFFERS) plan's top node, which counts
    its children's too: a deterministic measure of a query's work, unlike its time."""
    found = re.search(r"Buffers: shared((?: \w+=\d+)+)", plan)
    assert found, plan
    counts = dict(part.split("=") for part in found.group(1).split())
    return int(counts.get("hit", 0)) + int(counts.get("read", 0))
