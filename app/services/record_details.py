"""Read-side queries behind a record's detail (its page and its API answer), scoped to the
acting user: the record's history as the viewer may see it, and its customer's other
submissions and ledger entries (the customer pages show those entries too).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from app.models import AcceptanceRecord, Confirmation, User
from app.security.scoping import records_query
from app.services.audit import events_for
from app.services.listing import organizations_by_id, users_by_id


def other_submissions(
    session: Session, *, actor: User, record: AcceptanceRecord
) -> list[AcceptanceRecord]:
    """The customer's other records that the actor may see, newest first."""
    query = (
        records_query(actor)
        .where(AcceptanceRecord.customer_id == record.customer_id)
        .where(AcceptanceRecord.id != record.id)
        .order_by(col(AcceptanceRecord.created_at).desc())
        .limit(50)
    )
    return list(session.exec(query))


def confirmations_for(session: Session, customer_id: int) -> list[Confirmation]:
    """The ledger entries of a customer, newest first."""
    return list(
        session.exec(
            select(Confirmation)
            .where(Confirmation.customer_id == customer_id)
            .order_by(col(Confirmation.created_at).desc())
        )
    )


@dataclass(frozen=True)
class HistoryItem:
    """One event of a record's history as a viewer may see it."""

    occurred_at: datetime
    action: str
    actor_label: str
    details: dict[str, Any]


OTHER_RESELLER = "another reseller"


def history(session: Session, record: AcceptanceRecord, *, viewer: User) -> list[HistoryItem]:
    """A record's audit events, oldest first; a reseller sees other resellers' staff unnamed.

    (A customer's withdrawal recorded by one reseller revokes every reseller's record.)
    """
    events = events_for(session, subject_type="acceptance", subject_id=record.public_id)
    actors = users_by_id(session, {e.actor_user_id for e in events if e.actor_user_id})
    provider_ids = {
        org.id
        for org in organizations_by_id(
            session, {u.organization_id for u in actors.values()}
        ).values()
        if org.is_provider
    }
    items = []
    for event in events:
        label = event.actor_label
        author = actors.get(event.actor_user_id or 0)
        if (
            not viewer.is_provider
            and author is not None
            and author.organization_id not in (viewer.organization_id, *provider_ids)
        ):
            label = OTHER_RESELLER
        items.append(HistoryItem(event.occurred_at, event.action, label, dict(event.details)))
    return items
