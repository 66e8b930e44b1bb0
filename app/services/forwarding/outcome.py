"""Step 3 of forwarding: record what Partner Center answered, in one short transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.models import (
    AcceptanceRecord,
    AttestationStatus,
    Confirmation,
    ConfirmationSource,
    RecordStatus,
)
from app.partner_center.gateway import ConfirmationOutcome, OutcomeKind
from app.services.forwarding.attestations import close_live
from app.services.forwarding.state import (
    Claim,
    RecordResult,
    active_confirmation,
    audit_record,
    covered_reason,
    defer,
    locked_record,
    pause_upstream,
    settle,
)
from app.services.requests import close_requests_for_customer


def _owns(record: AcceptanceRecord, claim_: Claim) -> bool:
    in_hand = record.status in (RecordStatus.FORWARDING, RecordStatus.AWAITING_CUSTOMER)
    return in_hand and record.lease_owner == claim_.lease_owner


def record_outcome(
    session: Session, *, claim_: Claim, outcome: ConfirmationOutcome, now: datetime
) -> RecordResult:
    """Step 3 after an answer: write the ledger entry and the record's final status."""
    found = locked_record(session, claim_.record_id)
    if found is None:
        return RecordResult(status="missing")
    record, customer = found
    source = {
        OutcomeKind.SENT: ConfirmationSource.SENT,
        OutcomeKind.ALREADY_OURS: ConfirmationSource.SENT,
        OutcomeKind.UPSTREAM: ConfirmationSource.UPSTREAM,
        OutcomeKind.DIRECT: ConfirmationSource.DIRECT,
    }[outcome.kind]
    entry = active_confirmation(
        session,
        customer_id=record.customer_id,
        agreement_type=record.agreement_type,
        template_id=record.template_id,
    )
    if entry is None:
        entry = _insert_confirmation(session, record, claim_, outcome, source, now)
    if record.status in (RecordStatus.CONFIRMED, RecordStatus.DUPLICATE):
        return RecordResult(status=record.status)  # a twin delivery already finished it
    ours = entry.record_id == record.id
    if not ours and source == ConfirmationSource.SENT:
        # Only possible if the claim's guarantees were bypassed; keep the evidence visible.
        audit_record(
            session, record, "forwarding.double_send_detected", {"confirmation_id": entry.id}
        )
    status = RecordStatus.CONFIRMED if ours else RecordStatus.DUPLICATE
    if customer.withdrawn_at is not None and entry.created_at >= customer.withdrawn_at:
        # A new confirmation after a withdrawal (R13): the customer accepts again.
        customer.withdrawn_at = None
        customer.withdrawal_reason = None
        session.add(customer)
    reason = covered_reason(entry, ours=ours) if not ours else outcome.detail
    close_live(session, record, AttestationStatus.FINALIZED, now)
    # Answered: no request is pending any more (written by the same UPDATE as the status).
    record.pending_request_id = None
    settle(session, record, status=status, reason=reason, now=now, confirmation=entry)
    # The provider's requests for a new acceptance of this customer are answered.
    close_requests_for_customer(
        session, customer_id=record.customer_id, template_id=entry.template_id, now=now
    )
    return RecordResult(status=status.value, wake=release_waiting(session, record, now))


def _insert_confirmation(
    session: Session,
    record: AcceptanceRecord,
    claim_: Claim,
    outcome: ConfirmationOutcome,
    source: ConfirmationSource,
    now: datetime,
) -> Confirmation:
    contact = outcome.contact or claim_.request.contact
    entry = Confirmation(
        customer_id=record.customer_id,
        agreement_type=record.agreement_type,
        template_id=record.template_id,
        date_agreed=outcome.date_agreed or (record.date_agreed if source == "sent" else None),
        contact_first_name=contact.first_name,
        contact_last_name=contact.last_name,
        contact_email=contact.email,
        contact_phone=contact.phone_number,
        source=source.value,
        record_id=record.id if source == ConfirmationSource.SENT else None,
        approved_by_id=record.approved_by_id if source == ConfirmationSource.SENT else None,
        upstream_request_id=claim_.request.request_id,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(entry)
    except IntegrityError:
        # The unique key is the last guard: a racing twin recorded it first.
        existing = active_confirmation(
            session,
            customer_id=record.customer_id,
            agreement_type=record.agreement_type,
            template_id=record.template_id,
        )
        if existing is None:
            raise
        return existing
    return entry


def record_retry(
    session: Session,
    *,
    claim_: Claim,
    code: str,
    message: str,
    write_answered: bool,
    retry_at: datetime,
    max_attempts: int,
    now: datetime,
    pause_until: datetime | None = None,
) -> RecordResult:
    """Step 3 after a transient failure: back to `approved` for a later attempt, or give up."""
    found = locked_record(session, claim_.record_id)
    if found is None:
        return RecordResult(status="missing")
    record, _customer = found
    if pause_until is not None:
        pause_upstream(session, until=pause_until, reason=f"Partner Center throttled ({code})")
    if not _owns(record, claim_):
        return RecordResult(status=record.status)  # another worker took over after our lease
    record.upstream_code = code
    record.upstream_message = message
    if write_answered:
        record.pending_request_id = None  # the write was answered: the next one is a new request
    else:
        # The write got no answer (or never went): it may have landed, so the next attempt
        # replays the same MS-RequestId.
        record.pending_request_id = claim_.request.request_id
    if record.attempts >= max_attempts:
        settle(
            session,
            record,
            status=RecordStatus.FAILED,
            reason=f"Partner Center did not accept it after {record.attempts} attempts: {message}",
            now=now,
            code=code,
        )
        return RecordResult(status=record.status)
    defer(
        record,
        session,
        retry_at,
        now,
        action="forwarding.retry_scheduled",
        details={"code": code, "attempt": record.attempts},
    )
    return RecordResult(status=record.status, retry_at=retry_at)


def record_rejection(
    session: Session, *, claim_: Claim, code: str, message: str, now: datetime
) -> RecordResult:
    """Step 3 after Partner Center refused the record: `failed`, with its code and message."""
    found = locked_record(session, claim_.record_id)
    if found is None:
        return RecordResult(status="missing")
    record, _customer = found
    if not _owns(record, claim_):
        return RecordResult(status=record.status)
    record.pending_request_id = None
    close_live(session, record, AttestationStatus.FAILED, now)
    settle(
        session,
        record,
        status=RecordStatus.FAILED,
        reason=f"Partner Center refused it: {message} (code {code}).",
        now=now,
        code=code,
    )
    record.upstream_message = message
    session.add(record)
    return RecordResult(status=record.status, wake=release_waiting(session, record, now))


def release_waiting(session: Session, record: AcceptanceRecord, now: datetime) -> list[int]:
    """Make the customer's other approved records due now: they waited for this one's answer.

    With the ledger decided they settle at once (as duplicates); after a refusal the next one
    may be sent.
    """
    waiting = [
        rid
        for rid in session.exec(
            select(AcceptanceRecord.id)
            .where(AcceptanceRecord.customer_id == record.customer_id)
            .where(AcceptanceRecord.id != record.id)
            .where(AcceptanceRecord.status == RecordStatus.APPROVED)
        ).all()
        if rid is not None
    ]
    if waiting:
        session.execute(
            update(AcceptanceRecord)
            .where(col(AcceptanceRecord.id).in_(waiting))
            .values(next_attempt_at=now, version=col(AcceptanceRecord.version) + 1)
        )
    return waiting
