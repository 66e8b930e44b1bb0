"""Retention: rejected and withdrawn submissions lose their personal data after a while.

Confirmed records and the audit trail are the evidence of acceptance (R3) and are kept. A
rejected or withdrawn submission is never sent anywhere; after RETENTION_DAYS its contact person's
name, email and phone are replaced, keeping the record's skeleton (who submitted, when, status).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.models import AcceptanceRecord, RecordStatus
from app.models.imports import ImportedAcceptance, ImportJob, ImportRow
from app.services.audit import record_event
from app.services.evidence import discard_for_records

ANONYMISED = "(removed)"
ANONYMISED_EMAIL = "removed@anonymised.invalid"
EXPIRING = (RecordStatus.REJECTED, RecordStatus.WITHDRAWN)


def anonymise_expired(session: Session, *, now: datetime, days: int, batch: int = 500) -> int:
    """Anonymise the expired rejected and withdrawn records; audited once per run."""
    cutoff = now - timedelta(days=days)
    done = files = 0
    while True:
        records = list(
            session.exec(
                select(AcceptanceRecord)
                .where(col(AcceptanceRecord.status).in_(EXPIRING))
                .where(col(AcceptanceRecord.finished_at) < cutoff)
                .where(col(AcceptanceRecord.anonymised_at).is_(None))
                .limit(batch)
            )
        )
        if not records:
            break
        for record in records:
            record.contact_first_name = ANONYMISED
            record.contact_last_name = ANONYMISED
            record.contact_email = ANONYMISED_EMAIL
            record.contact_phone = None
            record.status_reason = ANONYMISED if record.status_reason else None
            record.anonymised_at = now
            session.add(record)
        session.flush()
        # The customer's signed acceptance is personal data too (R3 evidence): its bytes go.
        ids = [r.id for r in records if r.id is not None]
        files += discard_for_records(session, record_ids=ids, now=now)
        # The import key hashes the contact's email, and the uploaded row holds it in clear.
        session.execute(
            sa.delete(ImportedAcceptance).where(col(ImportedAcceptance.record_id).in_(ids))
        )
        session.execute(
            sa.update(ImportRow).where(col(ImportRow.record_id).in_(ids)).values(values=[])
        )
        done += len(records)
    uploads = _forget_old_uploads(session, cutoff)
    record_event(
        session,
        actor=None,
        action="retention.anonymised",
        subject_type="retention",
        subject_id=now.date().isoformat(),
        organization_id=None,
        details={
            "records": done,
            "evidenceFiles": files,
            "importRowsCleared": uploads,
            "cutoff": cutoff.isoformat(),
            "days": days,
        },
    )
    return done


def _forget_old_uploads(session: Session, cutoff: datetime) -> int:
    """Clear the cells of rows uploaded in imports that finished before `cutoff`; how many.

    Once processed, a row lives on in its record (or was refused); keeping the uploaded cells
    longer than the retention period would keep contacts' data that nothing needs.
    """
    old_jobs = select(ImportJob.id).where(col(ImportJob.finished_at) < cutoff)
    result = session.execute(
        sa.update(ImportRow)
        .where(col(ImportRow.job_id).in_(old_jobs))
        .where(sa.func.length(sa.cast(ImportRow.values, sa.Text)) > 2)
        .values(values=[])
    )
    return int(getattr(result, "rowcount", 0) or 0)
