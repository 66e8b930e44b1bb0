"""Verifying the hash chain, the provider's audit viewer and its CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlmodel import Session

from app.cli import cli
from app.db import get_session
from app.services.audit import record_event
from app.services.audit_log import AuditFilter, export_csv, safe_cell, search, verify_chain
from app.services.errors import PermissionDenied
from tests.conftest import AppFactory, login
from tests.support import Users, load_users, submit


@pytest.fixture
def session_on(make_app: AppFactory, database_url: str) -> Iterator[tuple[Flask, Session]]:
    app = make_app(database_url)
    with app.app_context():
        yield app, get_session()
        get_session().rollback()


def _tamper(session: Session, event_id: int) -> None:
    """Edit an event behind the triggers' back, as someone with database access could."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(sa.text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only"))
    else:
        session.execute(sa.text("DROP TRIGGER audit_event_no_update"))
    session.execute(
        sa.text('UPDATE audit_event SET details = \'{"reason": "rewritten"}\' WHERE id = :id'),
        {"id": event_id},
    )
    session.commit()


def test_verify_reports_the_first_tampered_event(session_on: tuple[Flask, Session]) -> None:
    app, session = session_on
    users = load_users(session)
    for _ in range(3):
        submit(session, users.a_submitter)
    report = verify_chain(session)
    assert report.ok
    assert report.events >= 9
    _tamper(session, 4)
    broken = verify_chain(session)
    assert (broken.ok, broken.first_broken_id) == (False, 4)
    assert "content" in (broken.reason or "")

    result = app.test_cli_runner().invoke(cli, ["audit", "verify"])
    assert result.exit_code == 1
    assert "BROKEN at event 4" in result.output


def test_verify_command_says_intact(app: Flask, db: Session, users: Users) -> None:
    submit(db, users.a_submitter)
    result = app.test_cli_runner().invoke(cli, ["audit", "verify"])
    assert result.exit_code == 0
    assert "audit trail intact" in result.output


def test_search_filters_and_pages_newest_first(db: Session, users: Users) -> None:
    records = [submit(db, users.a_submitter), submit(db, users.b_submitter)]
    submitted = AuditFilter(action="acceptance.submitted")
    rows, more = search(db, actor=users.reviewer, filters=submitted, before_id=None, limit=1)
    assert [r.subject_id for r in rows] == [records[1].public_id]
    assert more is not None
    rows, more = search(db, actor=users.reviewer, filters=submitted, before_id=more, limit=1)
    assert [r.subject_id for r in rows] == [records[0].public_id]
    assert more is None
    by_actor = AuditFilter(actor="SUBMITTER@b.test")
    rows, _ = search(db, actor=users.reviewer, filters=by_actor, before_id=None)
    assert {r.actor_label for r in rows} == {"submitter@b.test"}
    by_org = AuditFilter(organization_id=users.a_submitter.organization_id)
    rows, _ = search(db, actor=users.reviewer, filters=by_org, before_id=None)
    assert rows
    assert {r.organization_id for r in rows} == {users.a_submitter.organization_id}
    with pytest.raises(PermissionDenied):
        search(db, actor=users.a_admin, filters=AuditFilter(), before_id=None)


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_export_neutralises_formulas(start: str) -> None:
    assert safe_cell(f'{start}HYPERLINK("http://evil")').startswith("'")
    assert safe_cell("plain text") == "plain text"


def test_csv_export_holds_every_event_and_no_live_formula(db: Session, users: Users) -> None:
    submit(db, users.a_submitter)
    record_event(
        db,
        actor=users.reviewer,
        action="acceptance.rejected",
        subject_type="acceptance",
        subject_id="x",
        organization_id=None,
        details={"reason": '=HYPERLINK("http://evil.example","click")'},
    )
    db.commit()
    text = "".join(export_csv(db, actor=users.reviewer, filters=AuditFilter()))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:3] == ["id", "occurred_at", "actor"]
    assert (
        len(rows) - 1
        == db.exec(sa.select(sa.func.count()).select_from(sa.table("audit_event"))).one()[0]
    )
    assert not any(cell.startswith(("=", "+", "@")) for row in rows for cell in row)


def test_viewer_and_export_pages_for_the_provider(app: Flask, db: Session, users: Users) -> None:
    record = submit(db, users.a_submitter)
    client = app.test_client()
    login(client, users.reviewer.email)
    page = client.get(f"/admin/audit?subject={record.public_id}")
    assert page.status_code == 200
    assert b"acceptance.submitted" in page.data
    export = client.get("/admin/audit.csv?action=acceptance.")
    assert export.status_code == 200
    assert export.mimetype == "text/csv"
    assert record.public_id.encode() in export.data
    reseller = app.test_client()
    login(reseller, users.a_admin.email)
    assert reseller.get("/admin/audit").status_code == 403
    assert reseller.get("/admin/audit.csv").status_code == 403
