"""Retention: rejected and withdrawn submissions lose their personal data after a while.

Confirmed records and the audit trail are the evidence of acceptance (R3) and are kept. A
rejected or withdrawn submission is never sent anywhere; after RETENTION_DAYS its contact person's
name, email and phone are replaced, keeping the record's skeleton (who submitted, when, status).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from app.models import AcceptanceRecord, RecordStatus
from app.services.audit import record_event

ANONYMISED = "(removed)"
ANONYMISED_EMAIL = "removed@anonymised.invalid"
EXPIRING = (RecordStatus.REJECTED, RecordStatus.WITHDRAWN)


def anonymise_expired(session: Session, *, now: datetime, days: int, batch: int = 500) -> int:
    """Anonymise the expired rejected and withdrawn records; audited once per run."""
    cutoff = now - timedelta(days=days)
    done = 0
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
        done += len(records)
    record_event(
        session,
        actor=None,
        action="retention.anonymised",
        subject_type="retention",
        subject_id=now.date().isoformat(),
        organization_id=None,
        details={"records": done, "cutoff": cutoff.isoformat(), "days": days},
    )
    return done
