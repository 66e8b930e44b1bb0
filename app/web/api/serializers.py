"""Records as the API shows them (camelCase JSON)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from app.models import AcceptanceRecord, Confirmation, Customer, RecordStatus, User
from app.services import record_details
from app.services.audit import pending_events
from app.services.customers import reseller_name_for
from app.services.forwarding.attestations import own_live
from app.services.transact import TransactStatus


def _time(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def record_json(
    session: Session,
    record: AcceptanceRecord,
    *,
    actor: User,
    customer: Customer,
    history: bool = True,
    company: str | None = None,
) -> dict[str, Any]:
    """The API representation of a record, as `actor` may see it (`company`: the customer's
    name as the actor knows it, when the caller has it at hand)."""
    if company is None:
        company = (
            customer.company_name
            if actor.is_provider
            else reseller_name_for(session, customer, actor.organization_id)
        )
    body: dict[str, Any] = {
        "id": record.public_id,
        "status": record.status,
        "statusReason": record.status_reason,
        "customer": {
            "tenantId": customer.tenant_id,
            "companyName": company,
            "domain": customer.domain,
            "cloud": customer.cloud,
            "country": customer.country,
        },
        "language": record.language,
        "agreementType": record.agreement_type,
        "templateId": record.template_id,
        "dateAgreed": record.date_agreed.isoformat(),
        "contact": {
            "firstName": record.contact_first_name,
            "lastName": record.contact_last_name,
            "email": record.contact_email,
            "phoneNumber": record.contact_phone,
        },
        "flags": list(record.flags),
        "source": record.source,
        "upstream": {
            "code": record.upstream_code,
            "message": record.upstream_message,
            "attempts": record.attempts,
            "nextAttemptAt": _time(record.next_attempt_at),
            "confirmation": _confirmation_json(session, record),
        },
        "submittedAt": _time(record.submitted_at),
        "updatedAt": _time(record.updated_at),
        "approvedAt": _time(record.approved_at),
    }
    if record.status == RecordStatus.AWAITING_CUSTOMER:
        # DESIGN.md: a record waiting for its customer carries the link the reseller brings.
        attestation = own_live(session, record)
        body["acceptanceUrl"] = attestation.acceptance_url if attestation else None
    if history:
        body["history"] = [
            {"at": _time(event.occurred_at), "actor": event.actor_label, "action": event.action}
            for event in record_details.history(session, record, viewer=actor)
        ]
    return body


def submitted_json(
    session: Session, record: AcceptanceRecord, *, actor: User, customer: Customer, company: str
) -> dict[str, Any]:
    """The answer to a new submission: nothing to read back, the record and its whole history
    (the events recorded in this transaction) are in hand."""
    body = record_json(
        session, record, actor=actor, customer=customer, history=False, company=company
    )
    body["history"] = [
        {"at": _time(event.occurred_at), "actor": event.actor_label, "action": event.action}
        for event in pending_events(session, subject_type="acceptance", subject_id=record.public_id)
    ]
    return body


def _confirmation_json(session: Session, record: AcceptanceRecord) -> dict[str, Any] | None:
    if record.confirmation_id is None:
        return None
    entry = session.get(Confirmation, record.confirmation_id)
    if entry is None:
        return None
    # Only what the covering confirmation says about the customer, never another reseller's
    # contact person.
    return {
        "source": entry.source,
        "dateAgreed": entry.date_agreed.isoformat() if entry.date_agreed else None,
        "recordedAt": _time(entry.created_at),
        "ownRecord": entry.record_id == record.id,
    }


def transact_json(status: TransactStatus) -> dict[str, Any]:
    """`GET /customers/<tenantId>/transact-status`: may the customer buy or change seats now."""
    agreement = status.agreement
    pending = status.pending
    return {
        "mayTransact": status.may_transact,
        "reason": status.reason,
        "agreement": (
            {
                "type": agreement.agreement_type,
                "templateId": agreement.template_id,
                "dateAgreed": agreement.date_agreed.isoformat() if agreement.date_agreed else None,
                "source": agreement.source,
            }
            if agreement is not None
            else None
        ),
        "pending": (
            {
                "status": pending.status,
                "since": _time(pending.since),
                "acceptanceUrl": pending.acceptance_url,
            }
            if pending is not None
            else None
        ),
    }
