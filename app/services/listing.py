"""Read-side queries for lists and detail pages, always scoped to the acting user."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, cast, func, or_
from sqlmodel import Session, col, select

from app.models import (
    AcceptanceRecord,
    Confirmation,
    Customer,
    CustomerReseller,
    Organization,
    RecordStatus,
    User,
)
from app.security.scoping import customers_query, records_query
from app.services.audit import events_for


@dataclass(frozen=True)
class RecordFilter:
    """What a list of records is narrowed to."""

    statuses: tuple[str, ...] = ()
    reseller_id: int | None = None
    customer_id: int | None = None
    tenant_id: str | None = None
    flagged_only: bool = False


@dataclass(frozen=True)
class Page:
    """One page of records and the keyset cursor of the next one."""

    items: list[AcceptanceRecord]
    next_after: tuple[datetime, int] | None


def list_records(
    session: Session,
    *,
    actor: User,
    filters: RecordFilter,
    after: tuple[datetime, int] | None = None,
    limit: int = 50,
    oldest_first: bool = False,
) -> Page:
    """A page of visible records, by submission time; keyset pagination, no COUNT(*)."""
    query = records_query(actor)
    if filters.statuses:
        query = query.where(col(AcceptanceRecord.status).in_(filters.statuses))
    if filters.reseller_id is not None:
        query = query.where(AcceptanceRecord.reseller_id == filters.reseller_id)
    if filters.customer_id is not None:
        query = query.where(AcceptanceRecord.customer_id == filters.customer_id)
    if filters.tenant_id:
        query = query.where(
            AcceptanceRecord.customer_id
            == select(Customer.id).where(Customer.tenant_id == filters.tenant_id).scalar_subquery()
        )
    if filters.flagged_only:
        # JSON list stored as text on both databases: a non-empty list is not "[]".
        query = query.where(cast(col(AcceptanceRecord.flags), String) != "[]")
    created, rid = col(AcceptanceRecord.created_at), col(AcceptanceRecord.id)
    if after is not None:
        at, after_id = after
        if oldest_first:
            query = query.where(or_(created > at, and_(created == at, rid > after_id)))
        else:
            query = query.where(or_(created < at, and_(created == at, rid < after_id)))
    order = (created.asc(), rid.asc()) if oldest_first else (created.desc(), rid.desc())
    rows = list(session.exec(query.order_by(*order).limit(limit + 1)))
    next_after = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_after = (last.created_at, last.id or 0)
    return Page(items=rows, next_after=next_after)


def status_counts(session: Session, *, actor: User) -> dict[str, int]:
    """How many visible records are in each status."""
    query = select(AcceptanceRecord.status, func.count()).group_by(AcceptanceRecord.status)
    if not actor.is_provider:
        query = query.where(AcceptanceRecord.reseller_id == actor.organization_id)
    counts: Counter[str] = Counter(dict.fromkeys(RecordStatus, 0))
    for status, count in session.exec(query):
        counts[status] = count
    return dict(counts)


def customers_by_id(session: Session, ids: set[int]) -> dict[int, Customer]:
    """Customers by id, for rendering lists without one query per row."""
    if not ids:
        return {}
    rows = session.exec(select(Customer).where(col(Customer.id).in_(ids)))
    return {c.id or 0: c for c in rows}


def organizations_by_id(session: Session, ids: set[int]) -> dict[int, Organization]:
    """Organizations by id."""
    if not ids:
        return {}
    rows = session.exec(select(Organization).where(col(Organization.id).in_(ids)))
    return {o.id or 0: o for o in rows}


def users_by_id(session: Session, ids: set[int]) -> dict[int, User]:
    """Users by id."""
    if not ids:
        return {}
    rows = session.exec(select(User).where(col(User.id).in_(ids)))
    return {u.id or 0: u for u in rows}


def resellers(session: Session) -> list[Organization]:
    """All reseller organizations (provider filters)."""
    return list(
        session.exec(
            select(Organization).where(Organization.kind == "reseller").order_by(Organization.name)
        )
    )


def customer_names(session: Session, *, actor: User, customer_ids: set[int]) -> dict[int, str]:
    """How each customer is named for the actor: its own link's name for a reseller."""
    customers = customers_by_id(session, customer_ids)
    names = {cid: c.company_name for cid, c in customers.items()}
    if not actor.is_provider and customer_ids:
        for cid, name in session.exec(
            select(CustomerReseller.customer_id, CustomerReseller.company_name)
            .where(col(CustomerReseller.customer_id).in_(customer_ids))
            .where(CustomerReseller.reseller_id == actor.organization_id)
        ):
            names[cid] = name
    return names


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


def visible_customers(session: Session, *, actor: User, limit: int = 500) -> list[Customer]:
    """The customers the actor may see, by name."""
    return list(session.exec(customers_query(actor).order_by(Customer.company_name).limit(limit)))
