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


def test_retention_discards_the_evidence_of_anonymised_records(db: Session, users: Users) -> None:
    """The signed acceptance is personal data: its bytes go with the contact; name and hash stay."""
    from app.models.evidence import EvidenceFile
    from app.services import evidence

    pdf = b"%PDF-1.4\n% signed by the customer\n%%EOF\n"
    old = submit(db, users.a_submitter)
    evidence.attach(db, actor=users.a_submitter, record=old, filename="signed.pdf", content=pdf)
    review.reject(db, actor=users.reviewer, record=old, reason="Wrong customer")
    young = submit(db, users.a_submitter)
    evidence.attach(db, actor=users.a_submitter, record=young, filename="keep.pdf", content=pdf)
    review.reject(db, actor=users.reviewer, record=young, reason="Wrong customer")
    db.commit()
    _age(db, old, 400)
    _age(db, young, 10)

    assert anonymise_expired(db, now=datetime.now(UTC), days=365) == 1
    db.commit()

    files = {f.record_id: f for f in db.exec(select(EvidenceFile))}
    assert files[old.id].removed_at is not None
    assert files[old.id].content in (b"", None)
    assert files[old.id].filename == "signed.pdf"
    assert files[young.id].removed_at is None
    assert files[young.id].content == pdf
    [event] = db.exec(select(AuditEvent).where(AuditEvent.action == "retention.anonymised")).all()
    assert event.details["evidenceFiles"] == 1


def test_retention_clears_old_uploaded_rows(db: Session, users: Users) -> None:
    """Uploaded CSV cells are personal data: cleared once the import is older than the period."""
    from app.models.imports import ImportJob, ImportRow

    def job(days_ago: int) -> ImportJob:
        made = ImportJob(
            reseller_id=users.a_submitter.organization_id,
            user_id=users.a_submitter.id or 0,
            filename="customers.csv",
            status="finished",
            finished_at=datetime.now(UTC) - timedelta(days=days_ago),
        )
        db.add(made)
        db.flush()
        db.add(ImportRow(job_id=made.id or 0, line=2, values=["Minji", "minji@contoso.example"]))
        return made

    old, recent = job(400), job(10)
    db.commit()

    anonymise_expired(db, now=datetime.now(UTC), days=365)
    db.commit()

    cells = {r.job_id: r.values for r in db.exec(select(ImportRow))}
    assert cells[old.id] == []
    assert cells[recent.id] == ["Minji", "minji@contoso.example"]
    [event] = db.exec(select(AuditEvent).where(AuditEvent.action == "retention.anonymised")).all()
    assert event.details["importRowsCleared"] == 1
