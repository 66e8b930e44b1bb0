"""Step 1 of forwarding: claim a record (DESIGN.md, "Forwarding").

Runs inside one short transaction that the caller commits; no upstream call happens here.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from app.models import (
    AcceptanceRecord,
    AttestationStatus,
    Confirmation,
    ConfirmationState,
    RecordStatus,
)
from app.models.customer import Cloud
from app.partner_center.client import Contact
from app.partner_center.gateway import ConfirmationRequest
from app.services import agreements
from app.services.acceptance import forwarding_day
from app.services.customers import national_cloud_reason
from app.services.forwarding import attestations
from app.services.forwarding.state import (
    Claim,
    ClaimKind,
    ClaimResult,
    audit_record,
    covered_reason,
    defer,
    locked_record,
    settle,
    upstream_paused_until,
)

LAPSED_RECHECK_SECONDS = 2.0
# A record behind another record's live attestation looks again this often (it is also woken
# as soon as that attestation ends).
LIVE_ATTESTATION_RECHECK_SECONDS = 300.0


def claim(
    session: Session,
    *,
    record_id: int,
    now: datetime,
    owner: str,
    lease_seconds: float,
    uses_attestations: bool = False,
    default_country: str = "KR",
) -> ClaimResult:
    """Step 1: decide whether this worker may send the record now, and take a lease if so.

    With `uses_attestations` (the enhanced flow) a record first gets an attestation row, and a
    record `awaiting_customer` is claimed to look at its attestation again (its status stays).
    """
    found = locked_record(session, record_id)
    if found is None:
        return ClaimResult(ClaimKind.SKIPPED)
    record, customer = found
    due = record.next_attempt_at is None or record.next_attempt_at <= now
    lease_lapsed = record.lease_expires_at is None or record.lease_expires_at <= now
    awaiting = record.status == RecordStatus.AWAITING_CUSTOMER
    if not (
        (record.status == RecordStatus.APPROVED and due)
        or (record.status == RecordStatus.FORWARDING and lease_lapsed)
        or (awaiting and due and lease_lapsed)
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

    current = agreements.current_template(session, record.agreement_type)
    if record.template_id != current.template_id and not awaiting:
        settle(
            session,
            record,
            status=RecordStatus.FAILED,
            reason=(
                "Microsoft replaced this agreement version before it was sent: the customer "
                f"must accept the current one ({current.template_id}). Return it to the "
                "reseller to submit again on the current version."
            ),
            now=now,
            code="template_replaced",
        )
        return ClaimResult(ClaimKind.SETTLED, status=record.status)

    # One read of the version's ledger entries answers both "covered already?" and "is this a
    # re-confirmation?" (an entry superseded or revoked before).
    entries = _ledger_entries(session, record)
    entry = next((e for e in entries if e.state == ConfirmationState.ACTIVE), None)
    if entry is not None:
        ours = entry.record_id == record.id
        attestations.close_live(session, record, AttestationStatus.CANCELLED, now)
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

    waiting_for = None if awaiting else _unanswered_siblings(session, record, now)
    if waiting_for is not None:
        wait_until, wake = waiting_for
        defer(record, session, wait_until, now)
        return ClaimResult(ClaimKind.DEFERRED, retry_at=wait_until, wake=wake)

    attestation = attestations.own_live(session, record) if uses_attestations else None
    if uses_attestations and attestation is None:
        attestation = attestations.begin(session, record, now)
        if attestation is None:
            # Another record's attestation is live: the customer answers that one first (R19);
            # this record settles as a duplicate, or takes over if the link lapses.
            wait_until = now + timedelta(seconds=LIVE_ATTESTATION_RECHECK_SECONDS)
            defer(record, session, wait_until, now)
            return ClaimResult(ClaimKind.DEFERRED, retry_at=wait_until)

    previous = record.status
    if not awaiting:
        record.status = RecordStatus.FORWARDING.value
        record.attempts += 1
    record.lease_owner = owner
    record.lease_expires_at = now + timedelta(seconds=lease_seconds)
    record.pending_request_id = record.pending_request_id or str(uuid.uuid4())
    record.updated_at = now
    session.add(record)
    session.flush()
    if not awaiting:
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
        reconfirm=any(e.state != ConfirmationState.ACTIVE for e in entries),
    )
    return ClaimResult(
        ClaimKind.CLAIMED,
        claim=Claim(
            record_id=record_id,
            lease_owner=owner,
            attempt=record.attempts,
            request=request,
            pending=attestations.pending_view(attestation),
            fields=(
                attestations.fields_for(session, record, customer, default_country)
                if uses_attestations
                else None
            ),
        ),
    )


def _not_before(record: AcceptanceRecord, now: datetime) -> datetime | None:
    # Accepted "today" in a time zone ahead of UTC: Partner Center would call it the future.
    day = forwarding_day(record)
    return day if day > now else None


def _unanswered_siblings(
    session: Session, record: AcceptanceRecord, now: datetime
) -> tuple[datetime, list[int]] | None:
    """Whether another record of the customer must go first, and until when to wait.

    One request at a time per customer. A sibling in flight, or one whose last request got no
    answer (a timeout, or its worker died after sending), may already be confirmed upstream:
    it asks again first, with its own request id, so that what it sent is recorded as its own.
    A lapsed or waiting sibling is woken now; this record looks again shortly after.
    """
    siblings = session.exec(
        select(
            AcceptanceRecord.id,
            AcceptanceRecord.status,
            AcceptanceRecord.lease_expires_at,
            AcceptanceRecord.next_attempt_at,
        )
        .where(AcceptanceRecord.customer_id == record.customer_id)
        .where(AcceptanceRecord.id != record.id)
        .where(col(AcceptanceRecord.pending_request_id).is_not(None))
        .where(col(AcceptanceRecord.status).in_((RecordStatus.FORWARDING, RecordStatus.APPROVED)))
    ).all()
    live = [
        lease
        for _id, status, lease, _next in siblings
        if status == RecordStatus.FORWARDING and lease is not None and lease > now
    ]
    if live:
        return max(live), []
    if record.pending_request_id is not None or not siblings:
        # This record's own unanswered request is as old a claim as theirs: it may ask now.
        return None
    wake = [rid for rid, _status, _lease, _next in siblings if rid is not None]
    overdue = [
        rid
        for rid, status, _lease, next_at in siblings
        if status == RecordStatus.APPROVED and next_at is not None and next_at > now
    ]
    if overdue:
        session.execute(
            update(AcceptanceRecord)
            .where(col(AcceptanceRecord.id).in_(overdue))
            .values(next_attempt_at=now, version=col(AcceptanceRecord.version) + 1)
        )
    return now + timedelta(seconds=LAPSED_RECHECK_SECONDS), wake


def _ledger_entries(session: Session, record: AcceptanceRecord) -> list[Confirmation]:
    """The ledger's entries for the record's customer, agreement type and version, any state.

    At most one is active (a unique index says so); a superseded or revoked one means the
    version was confirmed before, and Partner Center still lists that old confirmation: it
    must not count as "already covered" (a re-confirmation).
    """
    return list(
        session.exec(
            select(Confirmation)
            .where(Confirmation.customer_id == record.customer_id)
            .where(Confirmation.agreement_type == record.agreement_type)
            .where(Confirmation.template_id == record.template_id)
        )
    )
