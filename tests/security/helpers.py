"""Shared pieces of the security suites: actors, signed-in clients, objects, database snapshots."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import select

from app.db import READ_ONLY_OPTION, get_session
from app.models import (
    Attestation,
    AttestationStatus,
    Confirmation,
    Customer,
    Organization,
    RecordStatus,
    User,
)
from app.services import review
from app.services.users import create_api_token, set_active
from tests.conftest import login
from tests.support import load_users, new_tenant, submit

ACTORS = (
    "anonymous",
    "disabled",
    "reseller_submitter_a",
    "reseller_admin_a",
    "reseller_submitter_b",
    "provider_reviewer",
    "provider_admin",
)
EMAILS = {
    "disabled": "disabled@a.test",
    "reseller_submitter_a": "submitter@a.test",
    "reseller_admin_a": "admin@a.test",
    "reseller_submitter_b": "submitter@b.test",
    "provider_reviewer": "reviewer@provider.test",
    "provider_admin": "admin@provider.test",
}
PROVIDER_ACTORS = frozenset({"provider_reviewer", "provider_admin"})
# The reseller whose objects are an actor's "own" (the provider has none: Reseller A's stand in).
OWN_RESELLER = {actor: "b" if actor == "reseller_submitter_b" else "a" for actor in ACTORS}
RESELLER_NAMES = {"a": "Reseller A", "b": "Reseller B"}
SUBMITTERS = {"a": "submitter@a.test", "b": "submitter@b.test"}

MISSING_PUBLIC_ID = "0123456789abcdef0123456789abcdef"
MISSING_ID = 999_999
MISSING_TENANT_ID = "00000000-0000-4000-8000-000000000000"
TEMPLATE_ID = "117a77b0-9360-443b-8795-c6dedc750cf9"
NEW_PASSWORD = "a fresh passphrase for the matrix"

# Sign-in bookkeeping that a (failed) sign-in may change: not "state" for the access checks.
LOGIN_COLUMNS = frozenset({"failed_logins", "locked_until", "last_login_at"})
CSRF_VALUE = re.compile(rb'(name="csrf_token"[^>]*value=")[^"]*(")')
# The header's language switch returns to the page it is on: the one part that names the URL.
NEXT_VALUE = re.compile(rb'(name="next" value=")[^"]*(")')


def other_reseller(key: str) -> str:
    """The other reseller's key."""
    return "b" if key == "a" else "a"


# --- reading the database from outside the app -----------------------------------------------


def engine_of(app: Flask) -> sa.Engine:
    """The app's engine, on connections that never take SQLite's write lock."""
    engine: sa.Engine = app.extensions["db_engine"]
    return engine.execution_options(**{READ_ONLY_OPTION: True})


def scalar(app: Flask, sql: str, **params: Any) -> Any:
    """One value read on a connection of its own (what is committed now)."""
    with engine_of(app).connect() as conn:
        return conn.execute(sa.text(sql), params).scalar()


Snapshot = dict[str, list[tuple[Any, ...]]]


def snapshot(app: Flask, *, strict: bool = True) -> Snapshot:
    """Every row of every table (the audit trail as a count). Without `strict`, API token use
    and sign-in bookkeeping (failed-attempt counter, last sign-in) are left out."""
    rows: Snapshot = {}
    with engine_of(app).connect() as conn:
        for table in sorted(sa.inspect(conn).get_table_names()):
            if table == "alembic_version" or (table == "api_token" and not strict):
                continue
            if table == "audit_event":
                count = conn.execute(sa.text("SELECT count(*) FROM audit_event")).scalar()
                rows[table] = [(count,)]
                continue
            result = conn.execute(sa.text(f'SELECT * FROM "{table}"'))  # noqa: S608 (table names)
            keys = list(result.keys())
            keep = [i for i, k in enumerate(keys) if strict or k not in LOGIN_COLUMNS]
            rows[table] = sorted(
                (tuple(row[i] for i in keep) for row in result), key=lambda r: repr(r)
            )
    return rows


def changed_tables(before: Snapshot, after: Snapshot) -> list[str]:
    """The tables whose rows differ."""
    return sorted(t for t in before.keys() | after.keys() if before.get(t) != after.get(t))


def normalized(body: bytes) -> bytes:
    """A page with its per-request CSRF token blanked out."""
    return NEXT_VALUE.sub(rb"\1\2", CSRF_VALUE.sub(rb"\1\2", body))


# --- objects -----------------------------------------------------------------------------------


@dataclass
class Made:
    """A record made for a test."""

    id: int
    public_id: str
    customer_id: int
    tenant_id: str
    contact: dict[str, str] = field(default_factory=dict)
    confirmation_id: int | None = None


class World:
    """Builds each test's objects through the services, committed, outside any request."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        with app.app_context():
            session = get_session()
            self.org_ids = {o.name: o.id or 0 for o in session.exec(select(Organization))}
            self.user_ids = {u.email: u.id or 0 for u in session.exec(select(User))}
        self._counter = 0

    def org_id(self, key: str) -> int:
        """The id of Reseller A ("a"), Reseller B ("b") or the provider ("provider")."""
        return self.org_ids["Provider" if key == "provider" else RESELLER_NAMES[key]]

    def record(
        self,
        reseller: str,
        status: str = RecordStatus.SUBMITTED,
        *,
        tenant: str | None = None,
        company: str | None = None,
        first: str | None = None,
        last: str | None = None,
        email: str | None = None,
    ) -> Made:
        """A record of Reseller `reseller` ("a" or "b"), brought to `status`."""
        self._counter += 1
        n = self._counter
        overrides = {
            "customer.tenantId": tenant or new_tenant(),
            "customer.companyName": company or f"Company {reseller.upper()}{n}",
            "contact.firstName": first or f"First{reseller.upper()}{n}",
            "contact.lastName": last or f"Last{reseller.upper()}{n}",
            "contact.email": email or f"contact{n}@customer-{reseller}.example",
        }
        with self.app.app_context():
            session = get_session()
            users = load_users(session)
            submitter = users.a_submitter if reseller == "a" else users.b_submitter
            record = submit(session, submitter, **overrides)
            if status == RecordStatus.RETURNED:
                review.return_for_correction(
                    session, actor=users.reviewer, record=record, reason="Check the contact"
                )
            elif status == RecordStatus.CONFIRMED:
                review.approve(session, actor=users.reviewer, record=record)
                entry = Confirmation(
                    customer_id=record.customer_id,
                    agreement_type=record.agreement_type,
                    template_id=record.template_id,
                    date_agreed=record.date_agreed,
                    contact_email=record.contact_email,
                    source="sent",
                    record_id=record.id,
                    approved_by_id=users.reviewer.id,
                )
                session.add(entry)
                session.flush()
                record.status = RecordStatus.CONFIRMED.value
                record.confirmation_id = entry.id
                session.add(record)
            elif status in (RecordStatus.REJECTED, RecordStatus.APPROVED, RecordStatus.FAILED):
                if status == RecordStatus.REJECTED:
                    review.reject(session, actor=users.reviewer, record=record, reason="No")
                else:
                    review.approve(session, actor=users.reviewer, record=record)
                if status == RecordStatus.FAILED:
                    record.status = RecordStatus.FAILED.value
                    record.upstream_code = "invalid_contact"
                    record.upstream_message = "Partner Center refused the contact."
                    session.add(record)
            elif status in (RecordStatus.EXPIRED, RecordStatus.AWAITING_CUSTOMER):
                # The rows the enhanced flow's worker writes (its steps are tested elsewhere).
                review.approve(session, actor=users.reviewer, record=record)
                live = status == RecordStatus.AWAITING_CUSTOMER
                session.add(
                    Attestation(
                        customer_id=record.customer_id,
                        record_id=record.id or 0,
                        request_id=str(uuid.uuid4()),
                        attestation_id=f"att-{record.public_id}",
                        status=(
                            AttestationStatus.PENDING if live else AttestationStatus.EXPIRED
                        ).value,
                        acceptance_url=f"https://mca.example/?attestationid={record.public_id}",
                    )
                )
                record.status = status
                session.add(record)
            elif status != RecordStatus.SUBMITTED:
                raise ValueError(f"no recipe for a {status} record")
            session.commit()
            tenant_id = session.get_one(Customer, record.customer_id).tenant_id
            return Made(
                confirmation_id=record.confirmation_id,
                id=record.id or 0,
                public_id=record.public_id,
                customer_id=record.customer_id,
                tenant_id=tenant_id,
                contact={
                    "first": overrides["contact.firstName"],
                    "last": overrides["contact.lastName"],
                    "email": overrides["contact.email"],
                },
            )

    def user(self, reseller: str, *, active: bool = True) -> int:
        """A submitter of Reseller `reseller` for admins to manage (its hash copied, not made)."""
        self._counter += 1
        with self.app.app_context():
            session = get_session()
            template = session.get_one(User, self.user_ids[SUBMITTERS[reseller]])
            user = User(
                organization_id=self.org_id(reseller),
                email=f"managed{self._counter}@{reseller}.test",
                name=f"Managed {self._counter}",
                role=template.role,
                password_hash=template.password_hash,
                active=active,
            )
            session.add(user)
            session.commit()
            return user.id or 0

    def set_user_active(self, email: str, active: bool) -> None:
        """Enable or disable a seeded user the way an admin does (disabling ends sessions)."""
        with self.app.app_context():
            session = get_session()
            users = load_users(session)
            user = session.get_one(User, self.user_ids[email])
            if active:
                user.active = True
                session.add(user)
            else:
                set_active(session, actor=users.provider_admin, user=user, active=False)
            session.commit()

    def token(self, email: str) -> str:
        """A new API token of a user."""
        with self.app.app_context():
            session = get_session()
            user = session.get_one(User, self.user_ids[email])
            _row, secret = create_api_token(session, actor=None, user=user, label="security")
            session.commit()
            return secret

    def record_status(self, record_id: int) -> str:
        """A record's status as committed now."""
        return str(
            scalar(self.app, "SELECT status FROM acceptance_record WHERE id = :id", id=record_id)
        )


# --- signed-in clients -------------------------------------------------------------------------


class SignIns:
    """Session cookies of signed-in actors, kept for the whole run.

    Each actor signs in once through the login form; later tests on a fresh copy of the same
    seeded database (the same users with the same session tokens, the same secret key) reuse
    the cookie instead of paying argon2 again. A cookie only works while its user is active
    and its session token unchanged, which the disabled actor's tests rely on.
    """

    def __init__(self) -> None:
        self._cookies: dict[tuple[str, str], str] = {}

    def client(self, app: Flask, email: str) -> FlaskClient:
        """A browser signed in as `email` (the user must be active)."""
        name = app.config["SESSION_COOKIE_NAME"]
        key = (str(app.config["SECRET_KEY"]), email)
        client = app.test_client()
        cached = self._cookies.get(key)
        if cached is None:
            login(client, email)
            cookie = client.get_cookie(name)
            assert cookie is not None
            self._cookies[key] = cookie.value
        else:
            client.set_cookie(name, cached)
        return client
