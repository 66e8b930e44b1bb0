"""Customers waiting on an acceptance link, and lapsed links to re-issue (R18, R19).

Read side only, always scoped to the acting user: a reseller sees its own records, the provider
every reseller's (optionally one reseller's).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from app.models import AcceptanceRecord, Attestation, Customer, RecordStatus, User
from app.models.attestation import LIVE
from app.security.scoping import records_query
from app.services import listing
from app.services.customers import reseller_name_for
from app.services.forwarding.attestations import own_live


@dataclass(frozen=True)
class WaitingItem:
    """One record on a to-do list: who, since when, and the link when there is one."""

    record: AcceptanceRecord
    customer: Customer
    customer_name: str
    reseller_name: str
    since: datetime
    acceptance_url: str | None = None
    expires_at: datetime | None = None
    # Expired only: the customer has a live link already (another record re-issued it).
    blocked: bool = False


@dataclass(frozen=True)
class AcceptanceLink:
    """The live link of a record waiting for its customer, as the detail pages show it."""

    url: str
    company_name: str
    issued_at: datetime
    expires_at: datetime | None


def _records(
    session: Session, *, actor: User, status: RecordStatus, reseller_id: int | None, limit: int
) -> list[AcceptanceRecord]:
    query = records_query(actor).where(AcceptanceRecord.status == status.value)
    if reseller_id is not None:
        query = query.where(AcceptanceRecord.reseller_id == reseller_id)
    order = (col(AcceptanceRecord.updated_at), col(AcceptanceRecord.id))
    return list(session.exec(query.order_by(*order).limit(limit)))


def _items(
    session: Session,
    *,
    actor: User,
    records: list[AcceptanceRecord],
    attestations: dict[int, Attestation],
    blocked: set[int],
) -> list[WaitingItem]:
    customer_ids = {r.customer_id for r in records}
    customers = listing.customers_by_id(session, customer_ids)
    names = listing.customer_names(session, actor=actor, customer_ids=customer_ids)
    orgs = listing.organizations_by_id(session, {r.reseller_id for r in records})
    items = []
    for record in records:
        attestation = attestations.get(record.id or 0)
        items.append(
            WaitingItem(
                record=record,
                customer=customers[record.customer_id],
                customer_name=names[record.customer_id],
                reseller_name=orgs[record.reseller_id].name,
                since=attestation.created_at if attestation else record.updated_at,
                acceptance_url=attestation.acceptance_url if attestation else None,
                expires_at=attestation.expires_at if attestation else None,
                blocked=record.customer_id in blocked,
            )
        )
    return sorted(items, key=lambda item: (item.since, item.record.id or 0))


def waiting_customers(
    session: Session, *, actor: User, reseller_id: int | None = None, limit: int = 500
) -> list[WaitingItem]:
    """Records waiting for their customer to accept, oldest link first, with the link."""
    records = _records(
        session,
        actor=actor,
        status=RecordStatus.AWAITING_CUSTOMER,
        reseller_id=reseller_id,
        limit=limit,
    )
    ids = [r.id for r in records]
    attestations: dict[int, Attestation] = {}
    if ids:
        for attestation in session.exec(
            select(Attestation)
            .where(col(Attestation.record_id).in_(ids))
            .where(col(Attestation.status).in_(LIVE))
        ):
            attestations[attestation.record_id] = attestation
    return _items(session, actor=actor, records=records, attestations=attestations, blocked=set())


def lapsed_links(
    session: Session, *, actor: User, reseller_id: int | None = None, limit: int = 500
) -> list[WaitingItem]:
    """Records whose link expired unused, oldest first; each can be re-issued (R19)."""
    records = _records(
        session, actor=actor, status=RecordStatus.EXPIRED, reseller_id=reseller_id, limit=limit
    )
    customer_ids = list({r.customer_id for r in records})
    blocked = (
        set(
            session.exec(
                select(Attestation.customer_id)
                .where(col(Attestation.customer_id).in_(customer_ids))
                .where(col(Attestation.status).in_(LIVE))
            )
        )
        if customer_ids
        else set()
    )
    return _items(session, actor=actor, records=records, attestations={}, blocked=blocked)


def acceptance_link(
    session: Session, record: AcceptanceRecord, customer: Customer
) -> AcceptanceLink | None:
    """The link a record waiting for its customer carries (None in any other state).

    The caller got `record` through the scoped getter; the company name is the one the
    record's own reseller uses for the customer.
    """
    if record.status != RecordStatus.AWAITING_CUSTOMER:
        return None
    attestation = own_live(session, record)
    if attestation is None or not attestation.acceptance_url:
        return None
    return AcceptanceLink(
        url=attestation.acceptance_url,
        company_name=reseller_name_for(session, customer, record.reseller_id),
        issued_at=attestation.created_at,
        expires_at=attestation.expires_at,
    )
