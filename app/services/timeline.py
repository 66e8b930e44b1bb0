"""A customer's timeline: its records' history, ledger entries, attestations and events.

The provider sees the whole timeline across resellers. A reseller sees its own part only: the
history of its own records (other resellers' staff unnamed, as in a record's history), the
ledger entries and attestations that came from its own records, and the customer events its
own staff caused. Nothing of another reseller's records appears.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from app.models import (
    AcceptanceRecord,
    Attestation,
    AuditEvent,
    Confirmation,
    Customer,
    User,
)
from app.security.scoping import records_query
from app.services.listing import organizations_by_id, users_by_id
from app.services.record_details import OTHER_RESELLER

# A customer has a handful of records; these caps keep a pathological one bounded.
MAX_RECORDS = 500
MAX_ENTRIES = 200


@dataclass(frozen=True)
class TimelineEntry:
    """One thing that happened to the customer, newest first on the page."""

    at: datetime
    kind: str  # "event", "confirmation" or "attestation"
    action: str  # e.g. "acceptance.approved", "confirmation.recorded", "attestation.pending"
    actor_label: str
    record: AcceptanceRecord | None = None
    reseller_id: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


def _visible_records(session: Session, actor: User, customer: Customer) -> list[AcceptanceRecord]:
    return list(
        session.exec(
            records_query(actor)
            .where(AcceptanceRecord.customer_id == customer.id)
            .order_by(col(AcceptanceRecord.created_at).desc(), col(AcceptanceRecord.id).desc())
            .limit(MAX_RECORDS)
        )
    )


def _events(
    session: Session, actor: User, customer: Customer, records: list[AcceptanceRecord]
) -> list[AuditEvent]:
    by_record = [r.public_id for r in records]
    events = (
        list(
            session.exec(
                select(AuditEvent)
                .where(AuditEvent.subject_type == "acceptance")
                .where(col(AuditEvent.subject_id).in_(by_record))
            )
        )
        if by_record
        else []
    )
    about_customer = (
        select(AuditEvent)
        .where(AuditEvent.subject_type == "customer")
        .where(AuditEvent.subject_id == str(customer.id))
    )
    if not actor.is_provider:
        # Customer events are a reseller's own only: another reseller's link or withdrawal and
        # the provider's re-confirmations are not its business (it sees their effect on its
        # own records, in their history).
        about_customer = about_customer.where(AuditEvent.organization_id == actor.organization_id)
    return events + list(session.exec(about_customer))


def actor_labeller(
    session: Session, viewer: User, events: list[AuditEvent]
) -> Callable[[AuditEvent], str]:
    """Who did it, as the viewer may see it: other resellers' staff are unnamed to a reseller."""
    authors = users_by_id(session, {e.actor_user_id for e in events if e.actor_user_id})
    orgs = organizations_by_id(session, {u.organization_id for u in authors.values()})
    provider_ids = {org_id for org_id, org in orgs.items() if org.is_provider}

    def label(event: AuditEvent) -> str:
        author = authors.get(event.actor_user_id or 0)
        if (
            not viewer.is_provider
            and author is not None
            and author.organization_id not in (viewer.organization_id, *provider_ids)
        ):
            return OTHER_RESELLER
        return event.actor_label

    return label


def customer_timeline(
    session: Session, *, actor: User, customer: Customer, limit: int = MAX_ENTRIES
) -> list[TimelineEntry]:
    """The customer's timeline as `actor` may see it, newest first, at most `limit` entries.

    The caller got `customer` through the scoped getter.
    """
    records = _visible_records(session, actor, customer)
    by_id = {r.id: r for r in records}
    by_public = {r.public_id: r for r in records}
    events = _events(session, actor, customer, records)
    label = actor_labeller(session, actor, events)
    entries = [
        TimelineEntry(
            at=event.occurred_at,
            kind="event",
            action=event.action,
            actor_label=label(event),
            record=by_public.get(event.subject_id) if event.subject_type == "acceptance" else None,
            reseller_id=(
                by_public[event.subject_id].reseller_id
                if event.subject_type == "acceptance" and event.subject_id in by_public
                else None
            ),
            details={k: v for k, v in event.details.items() if k in ("reason", "from", "to")},
        )
        for event in events
    ]

    confirmations = session.exec(
        select(Confirmation).where(Confirmation.customer_id == customer.id)
    ).all()
    for entry in confirmations:
        record = by_id.get(entry.record_id)
        if not actor.is_provider and record is None:
            continue  # from another reseller's record, or found upstream for one
        details: dict[str, Any] = {
            "source": entry.source,
            "template_id": entry.template_id,
            "state": entry.state,
        }
        entries.append(
            TimelineEntry(
                at=entry.created_at,
                kind="confirmation",
                action="confirmation.recorded",
                actor_label="system",
                record=record,
                reseller_id=record.reseller_id if record else None,
                details=details,
            )
        )
        if entry.state_changed_at is not None:
            entries.append(
                TimelineEntry(
                    at=entry.state_changed_at,
                    kind="confirmation",
                    action=f"confirmation.{entry.state}",
                    actor_label="—",
                    record=record,
                    reseller_id=record.reseller_id if record else None,
                    details={"template_id": entry.template_id, "reason": entry.state_reason},
                )
            )

    attestations = session.exec(
        select(Attestation).where(Attestation.customer_id == customer.id)
    ).all()
    for attestation in attestations:
        record = by_id.get(attestation.record_id)
        if record is None:
            continue  # another reseller's record (the provider sees every record)
        entries.append(
            TimelineEntry(
                at=attestation.created_at,
                kind="attestation",
                action=f"attestation.{attestation.status}",
                actor_label="system",
                record=record,
                reseller_id=record.reseller_id,
                details={"expires_at": attestation.expires_at},
            )
        )
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:limit]
