"""Records brought to the enhanced flow's states by writing the rows the worker would write.

The worker's own steps are tested in tests/services; the pages only read these rows.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlmodel import Session

from app.models import (
    AcceptanceRecord,
    Attestation,
    AttestationStatus,
    Confirmation,
    RecordStatus,
    utcnow,
)

ACCEPTANCE_URL = "https://partner.microsoft.example/mca/?attestationid=att-{n}"


def awaiting(
    db: Session,
    record: AcceptanceRecord,
    *,
    issued: timedelta = timedelta(hours=1),
    url: str | None = None,
    now: datetime | None = None,
) -> Attestation:
    """`record` (approved) waits for its customer with a pending attestation issued `issued` ago."""
    at = (now or utcnow()) - issued
    attestation = Attestation(
        customer_id=record.customer_id,
        record_id=record.id or 0,
        request_id=str(uuid.uuid4()),
        attestation_id=f"att-{record.id}",
        status=AttestationStatus.PENDING.value,
        acceptance_url=url or ACCEPTANCE_URL.format(n=record.id),
        expires_at=at + timedelta(days=30),
        created_at=at,
        updated_at=at,
    )
    db.add(attestation)
    record.status = RecordStatus.AWAITING_CUSTOMER.value
    record.status_reason = "Waiting for the customer to accept the agreement."
    record.updated_at = at
    db.add(record)
    db.commit()
    return attestation


def expired(
    db: Session, record: AcceptanceRecord, *, lapsed: timedelta = timedelta(days=1)
) -> Attestation:
    """`record` (approved) whose link lapsed `lapsed` ago."""
    at = utcnow() - lapsed
    attestation = Attestation(
        customer_id=record.customer_id,
        record_id=record.id or 0,
        request_id=str(uuid.uuid4()),
        attestation_id=f"att-old-{record.id}",
        status=AttestationStatus.EXPIRED.value,
        acceptance_url=ACCEPTANCE_URL.format(n=f"old-{record.id}"),
        created_at=at - timedelta(days=30),
        updated_at=at,
        finished_at=at,
    )
    db.add(attestation)
    record.status = RecordStatus.EXPIRED.value
    record.status_reason = "The customer did not accept before the link expired; re-issue it."
    record.updated_at = at
    record.finished_at = at
    db.add(record)
    db.commit()
    return attestation


def confirmed(
    db: Session,
    record: AcceptanceRecord,
    *,
    template_id: str | None = None,
    source: str = "sent",
) -> Confirmation:
    """`record` confirmed upstream on `template_id` (its own version by default)."""
    entry = Confirmation(
        customer_id=record.customer_id,
        agreement_type=record.agreement_type,
        template_id=template_id or record.template_id,
        date_agreed=record.date_agreed,
        contact_email=record.contact_email,
        source=source,
        record_id=record.id,
    )
    db.add(entry)
    db.flush()
    record.status = RecordStatus.CONFIRMED.value
    record.confirmation_id = entry.id
    db.add(record)
    db.commit()
    return entry
