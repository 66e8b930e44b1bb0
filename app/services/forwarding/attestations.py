"""The enhanced flow's customer step (R18-R20): attestations, as the forwarding steps see them.

An attestation row is written before anything is asked of Partner Center, with the request id
the create call will carry: a crash at any point leaves a row whose retry replays that same
request, and the database refuses a second live attestation for the customer.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.markers import N_
from app.models import (
    AcceptanceRecord,
    Attestation,
    AttestationStatus,
    Customer,
    Organization,
    RecordStatus,
)
from app.models.acceptance_input import default_language
from app.models.attestation import LIVE
from app.partner_center.gateway import AttestationFields, PendingAttestation, Step
from app.services.customers import reseller_name_for
from app.services.forwarding.state import (
    Claim,
    RecordResult,
    audit_record,
    locked_record,
    settle,
)


def own_live(session: Session, record: AcceptanceRecord) -> Attestation | None:
    """The record's own live attestation, if any."""
    return session.exec(
        select(Attestation)
        .where(Attestation.record_id == record.id)
        .where(col(Attestation.status).in_(LIVE))
    ).first()


def customer_live(session: Session, customer_id: int) -> Attestation | None:
    """The customer's live attestation (at most one: a unique index says so)."""
    return session.exec(
        select(Attestation)
        .where(Attestation.customer_id == customer_id)
        .where(col(Attestation.status).in_(LIVE))
    ).first()


def begin(session: Session, record: AcceptanceRecord, now: datetime) -> Attestation | None:
    """Write the attestation row before the create call; None if the customer has one already."""
    attestation = Attestation(
        customer_id=record.customer_id,
        record_id=record.id or 0,
        request_id=str(uuid.uuid4()),
        created_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(attestation)
    except IntegrityError:
        return None
    return attestation


def pending_view(attestation: Attestation | None) -> PendingAttestation | None:
    """What the gateway needs to know of a stored attestation."""
    if attestation is None:
        return None
    return PendingAttestation(
        request_id=attestation.request_id,
        attestation_id=attestation.attestation_id,
        status=attestation.status,
    )


def fields_for(
    session: Session, record: AcceptanceRecord, customer: Customer, default_country: str
) -> AttestationFields:
    """Country, language and company name for the create call."""
    reseller = session.get(Organization, record.reseller_id)
    country = customer.country or (reseller.country if reseller else None) or default_country
    return AttestationFields(
        country=country,
        language=record.language or default_language(country),
        company_name=reseller_name_for(session, customer, record.reseller_id),
    )


def close_live(
    session: Session, record: AcceptanceRecord, status: AttestationStatus, now: datetime
) -> None:
    """End the record's live attestation (finalized, expired, cancelled or failed)."""
    attestation = own_live(session, record)
    if attestation is None:
        return
    attestation.status = status.value
    attestation.finished_at = now
    attestation.updated_at = now
    session.add(attestation)
    session.flush()


def poll_delay(polls: int, *, base: float, cap: float) -> timedelta:
    """R20: look again after growing intervals (base, 2 base, 4 base ... up to cap)."""
    return timedelta(seconds=min(cap, base * 2 ** min(polls, 30)))


def _held(session: Session, claim_: Claim) -> tuple[AcceptanceRecord, Attestation] | None:
    found = locked_record(session, claim_.record_id)
    if found is None:
        return None
    record, _customer = found
    if record.lease_owner != claim_.lease_owner:
        return None  # another worker took over after our lease lapsed
    attestation = own_live(session, record)
    return (record, attestation) if attestation is not None else None


def record_started(
    session: Session, *, claim_: Claim, step: Step, now: datetime, first_poll: timedelta
) -> RecordResult:
    """The attestation exists: the reseller brings its link to the customer."""
    held = _held(session, claim_)
    if held is None:
        return RecordResult(status="lost")
    record, attestation = held
    attestation.attestation_id = step.attestation_id
    attestation.acceptance_url = step.acceptance_url
    attestation.expires_at = step.expires_at
    attestation.status = AttestationStatus.PENDING.value
    attestation.updated_at = now
    session.add(attestation)
    previous = record.status
    record.status = RecordStatus.AWAITING_CUSTOMER.value
    record.status_reason = step.detail or N_("Waiting for the customer to accept the agreement.")
    record.pending_request_id = None  # the create call was answered
    record.lease_owner = None
    record.lease_expires_at = None
    record.next_attempt_at = now + first_poll
    record.updated_at = now
    session.add(record)
    session.flush()
    audit_record(
        session,
        record,
        "forwarding.awaiting_customer",
        {"from": previous, "to": record.status, "attestation_id": step.attestation_id},
    )
    return RecordResult(status=record.status, retry_at=record.next_attempt_at)


def record_waiting(
    session: Session, *, claim_: Claim, now: datetime, base: float, cap: float
) -> RecordResult:
    """Not accepted yet: look again later, ever less often (R20)."""
    held = _held(session, claim_)
    if held is None:
        return RecordResult(status="lost")
    record, attestation = held
    attestation.polls += 1
    attestation.updated_at = now
    session.add(attestation)
    record.next_attempt_at = now + poll_delay(attestation.polls, base=base, cap=cap)
    record.lease_owner = None
    record.lease_expires_at = None
    session.add(record)
    session.flush()
    return RecordResult(status=record.status, retry_at=record.next_attempt_at)


def record_lapsed(session: Session, *, claim_: Claim, detail: str, now: datetime) -> RecordResult:
    """The link expired unused: `expired`; the customer's next approved record takes over."""
    from app.services.forwarding.outcome import release_waiting

    held = _held(session, claim_)
    if held is None:
        return RecordResult(status="lost")
    record, attestation = held
    attestation.status = AttestationStatus.EXPIRED.value
    attestation.finished_at = now
    session.add(attestation)
    settle(
        session,
        record,
        status=RecordStatus.EXPIRED,
        reason=detail or N_("The customer did not accept before the link expired; re-issue it."),
        now=now,
    )
    return RecordResult(status=record.status, wake=release_waiting(session, record, now))
