"""The ledger's exceptions to "once": a provider admin's re-confirmation, a withdrawal (R13)."""

from __future__ import annotations

from sqlmodel import Session, col, select

from app.markers import N_
from app.models import (
    AcceptanceRecord,
    Confirmation,
    ConfirmationState,
    Customer,
    RecordStatus,
    Role,
    User,
    utcnow,
)
from app.services.audit import record_event
from app.services.errors import InvalidTransition, PermissionDenied
from app.services.review import clean_reason

COVERED = (RecordStatus.CONFIRMED, RecordStatus.DUPLICATE)


def supersede(
    session: Session, *, actor: User, confirmation: Confirmation, reason: str | None
) -> Confirmation:
    """Retire the active confirmation so the customer's next approved record is sent again.

    For a new contact person on the same agreement version; only a provider admin may, and the
    reason is kept (RELIABILITY-SECURITY.md, "Decisions taken").
    """
    if actor.role != Role.PROVIDER_ADMIN:
        raise PermissionDenied(N_("Only a provider admin can ask for a new confirmation."))
    if confirmation.state != ConfirmationState.ACTIVE:
        raise InvalidTransition(N_("This confirmation is no longer active."))
    why = clean_reason(reason)
    confirmation.state = ConfirmationState.SUPERSEDED.value
    confirmation.state_reason = why
    confirmation.state_changed_at = utcnow()
    session.add(confirmation)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="confirmation.superseded",
        subject_type="customer",
        subject_id=confirmation.customer_id,
        organization_id=None,
        details={
            "confirmation_id": confirmation.id,
            "template_id": confirmation.template_id,
            "reason": why,
        },
    )
    return confirmation


def record_withdrawal(
    session: Session, *, actor: User, customer: Customer, reason: str | None
) -> list[AcceptanceRecord]:
    """R13: the customer no longer accepts the agreement.

    Its active confirmations are revoked, its confirmed and duplicate records become `revoked`,
    and the customer is flagged until a new confirmation arrives. Partner Center has no call
    to withdraw a confirmation: the provider must cancel the customer's subscriptions.
    The caller got `customer` through the scoped getter (a reseller serves it).
    """
    why = clean_reason(reason)
    now = utcnow()
    for entry in session.exec(
        select(Confirmation)
        .where(Confirmation.customer_id == customer.id)
        .where(Confirmation.state == ConfirmationState.ACTIVE)
    ):
        entry.state = ConfirmationState.REVOKED.value
        entry.state_reason = why
        entry.state_changed_at = now
        session.add(entry)
    revoked = list(
        session.exec(
            select(AcceptanceRecord)
            .where(AcceptanceRecord.customer_id == customer.id)
            .where(col(AcceptanceRecord.status).in_(COVERED))
        )
    )
    for record in revoked:
        previous = record.status
        record.status = RecordStatus.REVOKED.value
        record.status_reason = f"The customer withdrew its acceptance: {why}"
        record.updated_at = now
        session.add(record)
        session.flush()
        record_event(
            session,
            actor=actor,
            action="acceptance.revoked",
            subject_type="acceptance",
            subject_id=record.public_id,
            organization_id=record.reseller_id,
            details={"from": previous, "to": record.status, "reason": why},
        )
    customer.withdrawn_at = now
    customer.withdrawal_reason = why
    customer.updated_at = now
    session.add(customer)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="customer.withdrawn",
        subject_type="customer",
        subject_id=customer.id or 0,
        organization_id=None if actor.is_provider else actor.organization_id,
        details={"tenant_id": customer.tenant_id, "reason": why, "records": len(revoked)},
    )
    return revoked
