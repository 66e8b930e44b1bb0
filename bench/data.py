"""The benchmarks' data: a database per size, a queue of N records, tokens and a session.

One record is submitted through the portal's own service; the other N - 1 are copied from it in
one SQL statement (a new customer each, linked to the reseller, submission times 10 ms apart,
oldest first), so 100,000 records take seconds, not the minutes a request each would take.
Copying every column of the template keeps the rows right whatever columns other migrations add.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.db import make_engine
from app.models import AcceptanceRecord, RecordStatus, User
from app.services import review
from app.services.users import create_api_token
from bench.common import SECRET_KEY, USER_AGENT, Env, create_database, progress
from tests.support import PASSWORD, load_users, submit

# Columns given new values in each copy; every other column is copied from the template.
_RECORD = {
    "id": None,
    "public_id": "replace(src.u::text, '-', '')",
    "customer_id": "c.id",
    "created_at": "src.ts",
    "updated_at": "src.ts",
    "submitted_at": "src.ts",
    "contact_email": "'person' || src.g || '@customer' || src.g || '.example'",
    "version": "1",
}
_CUSTOMER = {
    "id": None,
    "tenant_id": "src.u::text",
    "company_name": "'Bench Customer ' || src.g",
    "domain": "'customer' || src.g || '.example'",
}
_LINK = {"id": None, "customer_id": "c.id", "company_name": "c.company_name"}


@dataclass
class SizeData:
    """One size's database and the credentials the load uses."""

    size: int
    database_url: str
    submitter_token: str
    reviewer_token: str


def _copy(table: str, columns: list[str], overrides: dict[str, str | None], alias: str) -> str:
    names, values = [], []
    for name in columns:
        if name in overrides and overrides[name] is None:
            continue
        names.append(f'"{name}"')
        values.append(overrides.get(name) or f'{alias}."{name}"')
    return f"INSERT INTO {table} ({', '.join(names)}) SELECT {', '.join(values)}"


def populate(engine: sa.Engine, copies: int, template_id: int) -> None:
    """Copy record `template_id` `copies` times, each for a new customer, 10 ms apart."""
    if copies <= 0:
        return
    inspector = sa.inspect(engine)
    cols = {
        t: [c["name"] for c in inspector.get_columns(t)]
        for t in ("acceptance_record", "customer", "customer_reseller")
    }
    # Table and column names come from the database's own catalogue, values are bound.
    sql = f"""
    WITH src AS (
        SELECT g, gen_random_uuid() AS u,
               t.created_at - interval '1 day' + g * interval '10 milliseconds' AS ts
        FROM generate_series(1, :n) AS g, acceptance_record t WHERE t.id = :tid
    ), c AS (
        {_copy("customer", cols["customer"], _CUSTOMER, "tc")}
        FROM src, customer tc
        WHERE tc.id = (SELECT customer_id FROM acceptance_record WHERE id = :tid)
        RETURNING id, tenant_id, company_name
    ), l AS (
        {_copy("customer_reseller", cols["customer_reseller"], _LINK, "tl")}
        FROM c, customer_reseller tl
        WHERE tl.customer_id = (SELECT customer_id FROM acceptance_record WHERE id = :tid)
    )
    {_copy("acceptance_record", cols["acceptance_record"], _RECORD, "t")}
    FROM c JOIN src ON src.u::text = c.tenant_id, acceptance_record t WHERE t.id = :tid
    """  # noqa: S608
    with engine.begin() as conn:
        conn.execute(sa.text(sql), {"n": copies, "tid": template_id})
        conn.execute(sa.text("ANALYZE"))


def prepare(env: Env, size: int) -> SizeData:
    """A database holding a queue of `size` submitted records, and API tokens."""
    url = create_database(env, str(size))
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            users = load_users(session)
            template = submit(session, users.a_submitter)
            _t, submitter_token = create_api_token(
                session, actor=None, user=users.a_submitter, label="bench"
            )
            _r, reviewer_token = create_api_token(
                session, actor=None, user=users.reviewer, label="bench"
            )
            session.commit()
            template_id = template.id or 0
        populate(engine, size - 1, template_id)
        progress(f"{size:,} submitted records in the queue")
        with engine.begin() as conn:
            conn.execute(sa.text(_baseline_table()))
    finally:
        engine.dispose()
    return SizeData(size, url, submitter_token, reviewer_token)


def _baseline_table() -> str:
    from bench.baseline_app import CREATE_TABLE

    return CREATE_TABLE


def keyset_position(database_url: str, depth: int) -> tuple[datetime, int] | None:
    """(created_at, id) of the last record before page `depth` of the submitted queue."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                sa.text(
                    "SELECT created_at, id FROM acceptance_record WHERE status = 'submitted' "
                    "ORDER BY created_at, id OFFSET :skip LIMIT 1"
                ),
                {"skip": (depth - 1) * 50 - 1},
            ).first()
    finally:
        engine.dispose()
    return (row[0], row[1]) if row else None


def approve_newest(database_url: str, count: int) -> list[int]:
    """Approve the `count` newest submitted records through the review service; their ids."""
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            reviewer = session.exec(
                select(User).where(User.email == "reviewer@provider.test")
            ).one()
            rows = session.exec(
                select(AcceptanceRecord.public_id, AcceptanceRecord.id)
                .where(AcceptanceRecord.status == RecordStatus.SUBMITTED.value)
                .order_by(col(AcceptanceRecord.id).desc())
                .limit(count)
            ).all()
            ids: list[int] = []
            progress(f"approving {len(rows):,} records")
            for start in range(0, len(rows), 500):
                batch = rows[start : start + 500]
                review.bulk_approve(session, actor=reviewer, public_ids=[r[0] for r in batch])
                session.commit()
                ids += [r[1] or 0 for r in batch]
            return ids
    finally:
        engine.dispose()


_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@dataclass
class SignedIn:
    """A signed-in user's session cookie (made by the portal itself) and a CSRF token."""

    cookie_name: str
    cookie_value: str
    csrf_token: str

    @property
    def headers(self) -> dict[str, str]:
        """The request headers that carry the session."""
        return {"Cookie": f"{self.cookie_name}={self.cookie_value}", "User-Agent": USER_AGENT}


def sign_in(database_url: str, broker_url: str, email: str, page: str) -> SignedIn:
    """Sign `email` in through the login form, then read `page`'s CSRF token.

    The portal in this process has the servers' SECRET_KEY, so its cookie is valid there; the
    same User-Agent and address are sent, as Flask-Login's strong session protection wants.
    """
    from app import create_app

    app = create_app(
        {
            "database_url": database_url,
            "celery_broker_url": broker_url,
            "secret_key": SECRET_KEY,
            "env": "production",
            "trusted_hosts": "127.0.0.1,localhost",
        }
    )
    client = app.test_client()
    headers = {"User-Agent": USER_AGENT}
    try:
        token = _token(client.get("/login", headers=headers).get_data(as_text=True))
        response = client.post(
            "/login",
            data={"email": email, "password": PASSWORD, "csrf_token": token},
            headers=headers,
        )
        if response.status_code != 302:
            raise RuntimeError(f"could not sign {email} in: {response.status_code}")
        token = _token(client.get(page, headers=headers).get_data(as_text=True))
        name = app.config["SESSION_COOKIE_NAME"]
        cookie = client.get_cookie(name)
        if cookie is None:
            raise RuntimeError("no session cookie after sign-in")
        return SignedIn(name, cookie.value, token)
    finally:
        app.extensions["db_engine"].dispose()


def _token(html: str) -> str:
    found = _CSRF.search(html)
    if found is None:
        raise RuntimeError("no CSRF token on the page")
    return found.group(1)
