"""Shared pieces of the forwarding steps: types, locks, the ledger lookup, settling."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import update
from sqlmodel import Session, col, select

from app.markers import N_
from app.models import (
    AcceptanceRecord,
    Confirmation,
    ConfirmationSource,
    ConfirmationState,
    Customer,
    RecordStatus,
    UpstreamPause,
)
from app.partner_center.gateway import AttestationFields, ConfirmationRequest, PendingAttestation
from app.services.audit import record_event


class ClaimKind(StrEnum):
    """What the claim step decided."""

    CLAIMED = "claimed"  # go ahead: ask Partner Center, then send
    SKIPPED = "skipped"  # not due, not approved, or gone: nothing to do
    DEFERRED = "deferred"  # try again at `retry_at`
    SETTLED = "settled"  # the ledger already decided it (duplicate), or it cannot be sent


@dataclass(frozen=True)
class Claim:
    """A record this worker holds a lease on, with everything the upstream call needs."""

    record_id: int
    lease_owner: str
    attempt: int
    request: ConfirmationRequest
    # Enhanced flow: the record's attestation and what creating one needs.
    pending: PendingAttestation | None = None
    fields: AttestationFields | None = None


@dataclass(frozen=True)
class ClaimResult:
    """The claim step's decision."""

    kind: ClaimKind
    claim: Claim | None = None
    retry_at: datetime | None = None
    status: str | None = None
    wake: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class RecordResult:
    """The record step's result: the final status and other records to wake now."""

    status: str
    wake: list[int] = field(default_factory=list)
    retry_at: datetime | None = None


def lock_customer(session: Session, customer_id: int) -> Customer:
    """Serialise forwarding per customer for the rest of the transaction.

    PostgreSQL: a row lock on the customer. SQLite: every writing transaction already holds the
    database's write lock (BEGIN IMMEDIATE).
    """
    return session.exec(select(Customer).where(Customer.id == customer_id).with_for_update()).one()


def locked_record(session: Session, record_id: int) -> tuple[AcceptanceRecord, Customer] | None:
    """The record and its customer, read after taking the customer's lock; None if gone."""
    # The lock comes first, found through the record (a record never changes customer); the
    # record is read only once it is held: another worker may have moved it until then.
    owner = select(AcceptanceRecord.customer_id).where(AcceptanceRecord.id == record_id)
    customer = session.exec(
        select(Customer).where(Customer.id == owner.scalar_subquery()).with_for_update()
    ).first()
    if customer is None:
        return None
    record = session.get(AcceptanceRecord, record_id, populate_existing=True)
    if record is None:
        return None
    return record, customer


def active_confirmation(
    session: Session, *, customer_id: int, agreement_type: str, template_id: str
) -> Confirmation | None:
    """The ledger's active entry for a customer, agreement type and version."""
    return session.exec(
        select(Confirmation)
        .where(Confirmation.customer_id == customer_id)
        .where(Confirmation.agreement_type == agreement_type)
        .where(Confirmation.template_id == template_id)
        .where(Confirmation.state == ConfirmationState.ACTIVE)
    ).first()


def upstream_paused_until(session: Session, now: datetime) -> datetime | None:
    """When Partner Center's throttling pause ends, if one is running."""
    pause = session.get(UpstreamPause, 1)
    if pause is not None and pause.paused_until > now:
        return pause.paused_until
    return None


def pause_upstream(session: Session, *, until: datetime, reason: str) -> None:
    """Make every worker wait until `until` (a 429 from Partner Center)."""
    pause = session.get(UpstreamPause, 1)
    if pause is None:
        session.add(UpstreamPause(id=1, paused_until=until, reason=reason))
    elif pause.paused_until < until:
        pause.paused_until = until
        pause.reason = reason
        session.add(pause)
    session.flush()


def audit_record(
    session: Session, record: AcceptanceRecord, action: str, details: dict[str, object]
) -> None:
    """An audit event of the worker (the system) about a record."""
    record_event(
        session,
        actor=None,
        action=action,
        subject_type="acceptance",
        subject_id=record.public_id,
        organization_id=record.reseller_id,
        details=details,
    )


def settle(
    session: Session,
    record: AcceptanceRecord,
    *,
    status: RecordStatus,
    reason: str,
    now: datetime,
    confirmation: Confirmation | None = None,
    code: str | None = None,
) -> None:
    """Put a record in a status the worker decided, with the reason, and audit it."""
    previous = record.status
    record.status = status.value
    record.status_reason = reason
    record.confirmation_id = confirmation.id if confirmation else record.confirmation_id
    record.lease_owner = None
    record.lease_expires_at = None
    record.next_attempt_at = None
    record.updated_at = now
    if status != RecordStatus.FAILED:
        record.finished_at = now
    if code is not None:
        record.upstream_code = code
        record.upstream_message = reason
    session.add(record)
    session.flush()
    details: dict[str, object] = {"from": previous, "to": record.status, "reason": reason}
    if confirmation is not None:
        details["confirmation_id"] = confirmation.id
    audit_record(session, record, f"forwarding.{status.value}", details)


def defer(
    record: AcceptanceRecord,
    session: Session,
    until: datetime,
    now: datetime,
    *,
    action: str = "forwarding.lease_lapsed",
    details: dict[str, object] | None = None,
) -> None:
    """Try the record again at `until`; one whose lease lapsed goes back to `approved`.

    Its pending request id stays: the lapsed attempt may have reached Partner Center.
    """
    previous = record.status
    if record.status != RecordStatus.AWAITING_CUSTOMER:
        # (A record waiting for its customer keeps waiting; only its next look moves.)
        record.status = RecordStatus.APPROVED.value
    record.next_attempt_at = until
    record.lease_owner = None
    record.lease_expires_at = None
    record.updated_at = now
    session.add(record)
    session.flush()
    if previous != record.status:
        audit_record(
            session,
            record,
            action,
            {
                "from": previous,
                "to": record.status,
                "next_attempt_at": until.isoformat(),
                **(details or {}),
            },
        )


def due_record_ids(
    session: Session, *, now: datetime, requeue_after: timedelta = timedelta(0), limit: int = 500
) -> list[int]:
    """Records to enqueue again, and mark them swept: the sweeper's outbox query.

    Approved (or waiting for the customer) and due for longer than `requeue_after`, or
    forwarding with an expired lease; each at most once per `requeue_after`, so a slow queue is
    not flooded with copies of the same record while its first message waits its turn.
    """
    since = now - requeue_after
    fresh = col(AcceptanceRecord.swept_at).is_(None) | (col(AcceptanceRecord.swept_at) <= since)
    due = session.exec(
        select(AcceptanceRecord.id)
        .where(
            col(AcceptanceRecord.status).in_(
                (RecordStatus.APPROVED, RecordStatus.AWAITING_CUSTOMER)
            )
        )
        .where(
            col(AcceptanceRecord.next_attempt_at).is_(None)
            | (col(AcceptanceRecord.next_attempt_at) <= since)
        )
        .where(fresh)
        .order_by(col(AcceptanceRecord.next_attempt_at))
        .limit(limit)
    ).all()
    lapsed = session.exec(
        select(AcceptanceRecord.id)
        .where(AcceptanceRecord.status == RecordStatus.FORWARDING)
        .where(col(AcceptanceRecord.lease_expires_at) <= now)
        .where(fresh)
        .limit(limit)
    ).all()
    ids = [rid for rid in (*lapsed, *due) if rid is not None]
    if ids:
        # Not a change of the record's state: no version bump, no audit event.
        session.execute(
            update(AcceptanceRecord)
            .where(col(AcceptanceRecord.id).in_(ids))
            .values(swept_at=now)
            .execution_options(synchronize_session=False)
        )
    return ids


def covered_reason(entry: Confirmation, *, ours: bool) -> str:
    """Why a record is settled by a ledger entry, in words for people."""
    if ours:
        return N_("Confirmed in Partner Center.")
    when = f" (accepted {entry.date_agreed.isoformat()})" if entry.date_agreed else ""
    if entry.source == ConfirmationSource.DIRECT:
        return N_("The customer accepted the agreement directly in the Microsoft 365 admin center.")
    if entry.source == ConfirmationSource.UPSTREAM:
        return f"Partner Center already holds a confirmation of this agreement version{when}."
    return f"This customer's acceptance of this agreement version was already confirmed{when}."
