"""Step 1 of forwarding: claim a record (DESIGN.md, "Forwarding").

Runs inside one short transaction that the caller commits; no upstream call happens here.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlmodel import Session, select

from app.models import (
    AcceptanceRecord,
    RecordStatus,
)
from app.models.customer import Cloud
from app.partner_center.client import Contact
from app.partner_center.gateway import ConfirmationRequest
from app.services.acceptance import forwarding_day
from app.services.customers import national_cloud_reason
from app.services.forwarding.state import (
    Claim,
    ClaimKind,
    ClaimResult,
    active_confirmation,
    audit_record,
    covered_reason,
    defer,
    locked_record,
    settle,
    upstream_paused_until,
)

LAPSED_RECHECK_SECONDS = 2.0


def claim(
    session: Session, *, record_id: int, now: datetime, owner: str, lease_seconds: float
) -> ClaimResult:
    """Step 1: decide whether this worker may send the record now, and take a lease if so."""
    found = locked_record(session, record_id)
    if found is None:
        return ClaimResult(ClaimKind.SKIPPED)
    record, customer = found
    due = record.next_attempt_at is None or record.next_attempt_at <= now
    lease_lapsed = record.lease_expires_at is None or record.lease_expires_at <= now
    if not (
        (record.status == RecordStatus.APPROVED and due)
        or (record.status == RecordStatus.FORWARDING and lease_lapsed)
    ):
        return ClaimResult(ClaimKind.SKIPPED, status=record.status, retry_at=record.next_attempt_at)
    if customer.cloud != Cloud.PUBLIC:
        settle(
            session,
            record,
            status=RecordStatus.FAILED,
            reason=national_cloud_reason(customer.cloud),
            now=now,
            code="national_cloud",
        )
        return ClaimResult(ClaimKind.SETTLED, status=record.status)

    entry = active_confirmation(
        session,
        customer_id=customer.id or 0,
        agreement_type=record.agreement_type,
        template_id=record.template_id,
    )
    if entry is not None:
        ours = entry.record_id == record.id
        settle(
            session,
            record,
            status=RecordStatus.CONFIRMED if ours else RecordStatus.DUPLICATE,
            reason=covered_reason(entry, ours=ours),
            now=now,
            confirmation=entry,
        )
        return ClaimResult(ClaimKind.SETTLED, status=record.status)

    for wait_until in (upstream_paused_until(session, now), _not_before(record, now)):
        if wait_until is not None:
            defer(record, session, wait_until, now)
            return ClaimResult(ClaimKind.DEFERRED, retry_at=wait_until)

    in_flight = session.exec(
        select(AcceptanceRecord.id, AcceptanceRecord.lease_expires_at)
        .where(AcceptanceRecord.customer_id == record.customer_id)
        .where(AcceptanceRecord.id != record.id)
        .where(AcceptanceRecord.status == RecordStatus.FORWARDING)
    ).all()
    if in_flight:
        # One request at a time per customer. Even a lapsed one may have landed upstream (its
        # worker died after sending): it goes first, with its own request id, so that what it
        # sent is recorded as its own; this record waits for that outcome.
        lapsed = [rid for rid, until in in_flight if until is None or until <= now]
        live = [until for _rid, until in in_flight if until is not None and until > now]
        wait_until = max(live) if live else now + timedelta(seconds=LAPSED_RECHECK_SECONDS)
        defer(record, session, wait_until, now)
        return ClaimResult(
            ClaimKind.DEFERRED, retry_at=wait_until, wake=[r for r in lapsed if r is not None]
        )

    previous = record.status
    record.status = RecordStatus.FORWARDING.value
    record.lease_owner = owner
    record.lease_expires_at = now + timedelta(seconds=lease_seconds)
    record.pending_request_id = record.pending_request_id or str(uuid.uuid4())
    record.attempts += 1
    record.updated_at = now
    session.add(record)
    session.flush()
    audit_record(
        session,
        record,
        "forwarding.claimed",
        {
            "from": previous,
            "to": record.status,
            "attempt": record.attempts,
            "request_id": record.pending_request_id,
        },
    )
    request = ConfirmationRequest(
        customer_tenant_id=customer.tenant_id,
        agreement_type=record.agreement_type,
        template_id=record.template_id,
        date_agreed=record.date_agreed,
        contact=Contact(
            first_name=record.contact_first_name,
            last_name=record.contact_last_name,
            email=record.contact_email,
            phone_number=record.contact_phone,
        ),
        request_id=record.pending_request_id,
    )
    return ClaimResult(
        ClaimKind.CLAIMED,
        claim=Claim(
            record_id=record_id, lease_owner=owner, attempt=record.attempts, request=request
        ),
    )


def _not_before(record: AcceptanceRecord, now: datetime) -> datetime | None:
    # Accepted "today" in a time zone ahead of UTC: Partner Center would call it the future.
    day = forwarding_day(record)
    return day if day > now else None
