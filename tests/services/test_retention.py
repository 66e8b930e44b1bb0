"""Retention: old rejected and withdrawn submissions lose their contact's data; audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Flask
from sqlmodel import Session, select

from app.cli import cli
from app.models import AcceptanceRecord, AuditEvent, RecordStatus
from app.services import acceptance as submissions
from app.services import review
from app.services.retention import ANONYMISED_EMAIL, anonymise_expired
from tests.support import Users, approved, submit


def _age(session: Session, record: AcceptanceRecord, days: int) -> None:
    record.finished_at = datetime.now(UTC) - timedelta(days=days)
    session.add(record)
    session.commit()


def test_old_rejected_and_withdrawn_are_anonymised_and_others_kept(
    db: Session, users: Users
) -> None:
    rejected = submit(db, users.a_submitter)
    review.reject(db, actor=users.reviewer, record=rejected, reason="Not the customer's person")
    withdrawn = submit(db, users.b_submitter)
    submissions.withdraw(db, actor=users.b_submitter, record=withdrawn)
    recent = submit(db, users.a_submitter)
    review.reject(db, actor=users.reviewer, record=recent, reason="No")
    kept = approved(db, users.a_submitter, users.reviewer)
    db.commit()
    for record in (rejected, withdrawn):
        _age(db, record, 400)
    _age(db, recent, 10)
    _age(db, kept, 400)

    assert anonymise_expired(db, now=datetime.now(UTC), days=365) == 2
    db.commit()
    for record in (rejected, withdrawn):
        db.refresh(record)
        assert record.contact_email == ANONYMISED_EMAIL
        assert record.contact_phone is None
        assert "Minji" not in record.contact_first_name
        assert record.anonymised_at is not None
        assert record.status in (RecordStatus.REJECTED, RecordStatus.WITHDRAWN)
    for record in (recent, kept):
        db.refresh(record)
        assert record.contact_email == "minji.kim@contoso.example"
    events = db.exec(select(AuditEvent).where(AuditEvent.action == "retention.anonymised")).all()
    assert [e.details["records"] for e in events] == [2]
    assert anonymise_expired(db, now=datetime.now(UTC), days=365) == 0


def test_retention_command(app: Flask, db: Session, users: Users) -> None:
    record = submit(db, users.a_submitter)
    review.reject(db, actor=users.reviewer, record=record, reason="No")
    db.commit()
    _age(db, record, 40)
    result = app.test_cli_runner().invoke(cli, ["retention", "run", "--days", "30"])
    assert result.exit_code == 0, result.output
    assert "anonymised 1 record" in result.output
