"""May this customer transact? (R10, R12, R13, R14)

New purchases and seat changes need a confirmation of the CURRENT Customer Agreement version;
automatic renewals do not (R10), and every answer says so. A read only: it never writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, col, select

from app.markers import M_, N_, Message
from app.models import (
    AcceptanceRecord,
    AgreementTemplate,
    AgreementType,
    Confirmation,
    ConfirmationState,
    Customer,
    RecordStatus,
    User,
)
from app.models.agreement import WELL_KNOWN_MCA_TEMPLATE_ID
from app.models.customer import Cloud
from app.services.customers import national_cloud_reason
from app.services.forwarding.attestations import customer_live

MCA = AgreementType.MICROSOFT_CUSTOMER_AGREEMENT.value
RENEWALS = N_("Automatic renewals are not affected.")
# Records on their way to a confirmation: approved, being sent, or waiting for the customer.
UNDER_WAY = (RecordStatus.APPROVED, RecordStatus.FORWARDING, RecordStatus.AWAITING_CUSTOMER)


@dataclass(frozen=True)
class AgreementHeld:
    """The confirmation the answer rests on."""

    agreement_type: str
    template_id: str
    date_agreed: date | None
    source: str


@dataclass(frozen=True)
class Pending:
    """An acceptance under way for the customer."""

    status: str  # the record's status (approved, forwarding, awaiting_customer)
    since: datetime
    acceptance_url: str | None  # only for the record's own reseller and the provider


@dataclass(frozen=True)
class TransactStatus:
    """The answer to "may this customer buy or change seats now?"."""

    may_transact: bool
    reason: str
    agreement: AgreementHeld | None
    pending: Pending | None


def current_template_id(session: Session) -> str:
    """The current Customer Agreement version, read without writing anything."""
    found = session.exec(
        select(AgreementTemplate.template_id)
        .where(AgreementTemplate.agreement_type == MCA)
        .where(col(AgreementTemplate.current).is_(True))
    ).first()
    return found or WELL_KNOWN_MCA_TEMPLATE_ID


def _held(session: Session, customer_id: int, current: str) -> Confirmation | None:
    """The active confirmation of the current version, else the newest active older one."""
    entries = list(
        session.exec(
            select(Confirmation)
            .where(Confirmation.customer_id == customer_id)
            .where(Confirmation.agreement_type == MCA)
            .where(Confirmation.state == ConfirmationState.ACTIVE)
            .order_by(col(Confirmation.created_at).desc(), col(Confirmation.id).desc())
        )
    )
    on_current = [e for e in entries if e.template_id == current]
    chosen = on_current or entries
    return chosen[0] if chosen else None


def _pending(session: Session, *, actor: User, customer_id: int) -> Pending | None:
    attestation = customer_live(session, customer_id)
    record: AcceptanceRecord | None = None
    if attestation is not None:
        record = session.get(AcceptanceRecord, attestation.record_id)
    if record is None:
        record = session.exec(
            select(AcceptanceRecord)
            .where(AcceptanceRecord.customer_id == customer_id)
            .where(col(AcceptanceRecord.status).in_(UNDER_WAY))
            .order_by(col(AcceptanceRecord.updated_at), col(AcceptanceRecord.id))
        ).first()
    if record is None:
        return None
    # The link is the customer's, but it came from one reseller's record: another reseller
    # serving the same customer learns that an acceptance is under way, not the link itself.
    own = actor.is_provider or record.reseller_id == actor.organization_id
    url = attestation.acceptance_url if attestation is not None and own else None
    since = (
        attestation.created_at
        if attestation is not None
        else record.approved_at or record.updated_at
    )
    return Pending(status=record.status, since=since, acceptance_url=url)


def transact_status(session: Session, *, actor: User, customer: Customer) -> TransactStatus:
    """Whether the customer may make a new purchase or change seats now, and why.

    `customer` comes from the scoped getter (a reseller asks only about its own customers).
    True only with an active confirmation of the current Customer Agreement version (any
    source: sent, found upstream, or the customer's direct acceptance) and no withdrawal.
    """
    if customer.cloud != Cloud.PUBLIC:
        return TransactStatus(False, national_cloud_reason(customer.cloud), None, None)
    pending = _pending(session, actor=actor, customer_id=customer.id or 0)
    if customer.withdrawn_at is not None:
        reason: Message = M_(
            "The customer withdrew its acceptance on %(date)s: its subscriptions must be "
            "cancelled (R13). New purchases and seat changes need a new acceptance of the "
            "current agreement version. %(renewals)s",
            date=f"{customer.withdrawn_at:%Y-%m-%d}",
            renewals=M_(RENEWALS),
        )
        return TransactStatus(False, reason, None, pending)
    current = current_template_id(session)
    entry = _held(session, customer.id or 0, current)
    held = (
        AgreementHeld(entry.agreement_type, entry.template_id, entry.date_agreed, entry.source)
        if entry is not None
        else None
    )
    if entry is not None and entry.template_id == current:
        reason = M_(
            "Confirmed on the current version of the Microsoft Customer Agreement: new "
            "purchases and seat changes may go ahead. %(renewals)s",
            renewals=M_(RENEWALS),
        )
        return TransactStatus(True, reason, held, pending)
    if entry is not None:
        reason = M_(
            "Confirmed only on an older version of the Microsoft Customer Agreement "
            "(%(held)s). New purchases and seat changes need a confirmation on the "
            "current version (%(current)s). %(renewals)s",
            held=entry.template_id,
            current=current,
            renewals=M_(RENEWALS),
        )
    else:
        reason = M_(
            "No confirmation of the Microsoft Customer Agreement is recorded for this customer. "
            "New purchases and seat changes need a confirmation on the current version "
            "(%(current)s). %(renewals)s",
            current=current,
            renewals=M_(RENEWALS),
        )
    if pending is not None:
        reason = M_("%(reason)s An acceptance is under way.", reason=reason)
    return TransactStatus(False, reason, held, pending)
