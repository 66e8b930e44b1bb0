"""The reseller's side of an acceptance record: submit, correct and resubmit, withdraw."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

from app.markers import M_, N_
from app.models import (
    AcceptanceRecord,
    AgreementTemplate,
    Customer,
    Flag,
    Organization,
    RecordStatus,
    Source,
    User,
    utcnow,
)
from app.models.acceptance_input import AcceptanceSubmission, default_language
from app.services import agreements
from app.services.audit import record_event
from app.services.customers import refuse_national_cloud, register_customer
from app.services.errors import InvalidTransition, PermissionDenied, ValidationFailed

EDITABLE_FIELDS = (
    "language",
    "customer_id",
    "agreement_type",
    "template_id",
    "date_agreed",
    "contact_first_name",
    "contact_last_name",
    "contact_email",
    "contact_phone",
)


def _require_reseller(actor: User) -> None:
    if actor.is_provider:
        raise PermissionDenied(N_("Only resellers submit acceptances; the provider reviews them."))


def contact_flags(reseller: Organization, email: str) -> list[str]:
    """R6: flag a contact whose email is at one of the reseller's own domains."""
    domain = email.rsplit("@", 1)[-1].lower()
    for own in reseller.email_domains:
        own = own.lower().lstrip("@")
        if domain == own or domain.endswith("." + own):
            return [Flag.CONTACT_AT_RESELLER_DOMAIN.value]
    return []


def _resolve(
    session: Session, *, actor: User, data: AcceptanceSubmission, default_country: str | None
) -> tuple[Customer, dict[str, Any]]:
    """Apply the rules that need the database; return the customer and the record's values."""
    # Held here so the identity map keeps it: register_customer and the flags read it too.
    reseller = session.get_one(Organization, actor.organization_id)
    customer = register_customer(
        session, actor=actor, data=data.customer, default_country=default_country
    )
    refuse_national_cloud(customer, data.customer.cloud)
    template_id = check_template_version(
        session,
        agreement_type=data.agreement_type.value,
        template_id=data.template_id,
        current=agreements.current_template(session, data.agreement_type.value),
    )
    country = data.customer.country or customer.country or reseller.country or default_country
    if country and customer.country != country:
        customer.country = country
        session.add(customer)
    values = {
        "customer_id": customer.id,
        **new_record_values(data, reseller=reseller, template_id=template_id, country=country),
    }
    return customer, values


def submit(
    session: Session,
    *,
    actor: User,
    data: AcceptanceSubmission,
    source: Source = Source.WEB,
    default_country: str | None = None,
) -> AcceptanceRecord:
    """Record a reseller's new acceptance as `submitted`, waiting for the provider's review.

    The customer's country comes from the submission, the customer, the reseller's
    organization, or else `default_country` (the deployment's region).
    """
    _require_reseller(actor)
    customer, values = _resolve(session, actor=actor, data=data, default_country=default_country)
    now = utcnow()
    record = AcceptanceRecord(
        reseller_id=actor.organization_id,
        submitted_by_id=actor.id or 0,
        source=source.value,
        created_at=now,
        updated_at=now,
        submitted_at=now,
        **values,
    )
    session.add(record)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="acceptance.submitted",
        subject_type="acceptance",
        subject_id=record.public_id,
        organization_id=record.reseller_id,
        details=submitted_details(
            source=source,
            tenant_id=customer.tenant_id,
            template_id=record.template_id,
            flags=record.flags,
        ),
    )
    return record


def resubmit(
    session: Session,
    *,
    actor: User,
    record: AcceptanceRecord,
    data: AcceptanceSubmission,
    default_country: str | None = None,
) -> AcceptanceRecord:
    """Correct a returned record and send it back for review."""
    _require_reseller(actor)
    if record.status != RecordStatus.RETURNED:
        raise InvalidTransition(
            M_(
                "Only a record returned for correction can be edited; this one is %(status)s.",
                status=M_(record.status_enum.label).lower(),
            )
        )
    _customer, values = _resolve(session, actor=actor, data=data, default_country=default_country)
    changed = [name for name in EDITABLE_FIELDS if getattr(record, name) != values[name]]
    for name, value in values.items():
        setattr(record, name, value)
    now = utcnow()
    record.status = RecordStatus.SUBMITTED.value
    record.status_reason = None
    record.updated_at = now
    record.submitted_at = now
    session.add(record)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="acceptance.resubmitted",
        subject_type="acceptance",
        subject_id=record.public_id,
        organization_id=record.reseller_id,
        details={
            "from": RecordStatus.RETURNED.value,
            "to": record.status,
            "changed": changed,
            "flags": record.flags,
        },
    )
    return record


def withdraw(
    session: Session, *, actor: User, record: AcceptanceRecord, reason: str | None = None
) -> AcceptanceRecord:
    """The reseller takes back a record that the provider has not reviewed yet."""
    _require_reseller(actor)
    if record.status not in (RecordStatus.SUBMITTED, RecordStatus.RETURNED):
        raise InvalidTransition(
            M_(
                "Only a record waiting for review can be withdrawn; this one is %(status)s.",
                status=M_(record.status_enum.label).lower(),
            )
        )
    previous = record.status
    record.status = RecordStatus.WITHDRAWN.value
    record.status_reason = (reason or "").strip()[:1000] or N_("Withdrawn by the reseller.")
    record.updated_at = record.finished_at = utcnow()
    session.add(record)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="acceptance.withdrawn",
        subject_type="acceptance",
        subject_id=record.public_id,
        organization_id=record.reseller_id,
        details={"from": previous, "to": record.status, "reason": record.status_reason},
    )
    return record


def forwarding_day(record: AcceptanceRecord) -> datetime:
    """Midnight UTC of the acceptance date: Partner Center refuses dates after its own today."""
    return datetime(
        record.date_agreed.year, record.date_agreed.month, record.date_agreed.day, tzinfo=UTC
    )


def reissue(session: Session, *, actor: User, record: AcceptanceRecord) -> AcceptanceRecord:
    """R19: a lapsed acceptance link is issued again (a new attestation, by the worker).

    The reseller (through the scoped getter) or the provider may; never while the customer has
    another live link.
    """
    from app.services.forwarding.attestations import customer_live

    if record.status != RecordStatus.EXPIRED:
        raise InvalidTransition(
            M_(
                "Only an expired acceptance link can be issued again; this record is %(status)s.",
                status=M_(record.status_enum.label).lower(),
            )
        )
    if customer_live(session, record.customer_id) is not None:
        raise InvalidTransition(N_("The customer already has a live acceptance link."))
    now = utcnow()
    record.status = RecordStatus.APPROVED.value
    record.status_reason = N_("A new acceptance link was requested.")
    record.next_attempt_at = now
    record.pending_request_id = None
    record.finished_at = None
    record.updated_at = now
    session.add(record)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="acceptance.reissued",
        subject_type="acceptance",
        subject_id=record.public_id,
        organization_id=record.reseller_id,
        details={"from": RecordStatus.EXPIRED.value, "to": record.status},
    )
    return record


# --- The rules single and batch submission share (`_resolve`, `submit`, bulk_import.py) ----------


def check_template_version(
    session: Session, *, agreement_type: str, template_id: str | None, current: AgreementTemplate
) -> str:
    """The agreement version a new acceptance is for: the current one (R12).

    Raises ValidationFailed ("templateId") for a replaced or unknown version, as `submit` does.
    """
    chosen = template_id or current.template_id
    if chosen == current.template_id:
        return chosen
    known = agreements.find_template(session, agreement_type, chosen)
    reason = (
        N_("This agreement version has been replaced") if known else N_("Unknown agreement version")
    )
    raise ValidationFailed(
        {
            "templateId": [
                M_(
                    "%(reason)s: new acceptances must be for the current version "
                    "(%(current)s). Leave it empty to use the current one.",
                    reason=M_(reason),
                    current=current.template_id,
                )
            ]
        }
    )


def new_record_values(
    data: AcceptanceSubmission, *, reseller: Organization, template_id: str, country: str | None
) -> dict[str, Any]:
    """A new record's values from a validated submission, as `submit` stores them.

    All but `customer_id`; `country` is the one `_resolve` settles on for the customer.
    """
    return {
        "agreement_type": data.agreement_type.value,
        "template_id": template_id,
        "date_agreed": data.date_agreed,
        "contact_first_name": data.contact.first_name,
        "contact_last_name": data.contact.last_name,
        "contact_email": data.contact.email,
        "contact_phone": data.contact.phone_number,
        "language": data.language or (default_language(country) if country else None),
        "flags": contact_flags(reseller, data.contact.email),
    }


def submitted_details(
    *, source: Source, tenant_id: str, template_id: str, flags: list[str]
) -> dict[str, Any]:
    """The details of a new record's `acceptance.submitted` audit event."""
    return {
        "to": RecordStatus.SUBMITTED.value,
        "source": source.value,
        "customer_tenant_id": tenant_id,
        "template_id": template_id,
        "flags": flags,
    }
