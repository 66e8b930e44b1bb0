"""Tenant-scoped getters: every read of tenant-owned data goes through here.

A reseller sees its own records and the customers it serves; the provider sees everything.
Another reseller's row answers exactly like a missing one (NotFound), never a 403.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from app.markers import N_
from app.models import AcceptanceRecord, Customer, CustomerReseller, User
from app.services.errors import NotFound


def records_query(actor: User) -> SelectOfScalar[AcceptanceRecord]:
    """A select of the records `actor` may see."""
    query = select(AcceptanceRecord)
    if not actor.is_provider:
        query = query.where(AcceptanceRecord.reseller_id == actor.organization_id)
    return query


def get_record(
    session: Session, actor: User, public_id: str, *, for_update: bool = False
) -> AcceptanceRecord:
    """The record with `public_id` if `actor` may see it; NotFound otherwise."""
    if not public_id.isascii() or not public_id.isalnum():
        # Public ids are hex: anything else (a NUL byte, which PostgreSQL refuses in text, above
        # all) cannot name a record, so no query is run.
        raise NotFound(N_("No such acceptance record."))
    query = records_query(actor).where(AcceptanceRecord.public_id == public_id)
    if for_update:
        query = query.with_for_update()
    record = session.exec(query).first()
    if record is None:
        raise NotFound(N_("No such acceptance record."))
    return record


def customers_query(actor: User) -> SelectOfScalar[Customer]:
    """A select of the customers `actor` may see."""
    query = select(Customer)
    if not actor.is_provider:
        query = query.where(
            col(Customer.id).in_(
                select(CustomerReseller.customer_id).where(
                    CustomerReseller.reseller_id == actor.organization_id
                )
            )
        )
    return query


def get_customer(session: Session, actor: User, customer_id: int) -> Customer:
    """The customer if `actor` may see it; NotFound otherwise."""
    customer = session.exec(customers_query(actor).where(Customer.id == customer_id)).first()
    if customer is None:
        raise NotFound(N_("No such customer."))
    return customer


def get_customer_by_tenant(session: Session, actor: User, tenant_id: str) -> Customer:
    """The customer with a tenant id if `actor` may see it; NotFound otherwise."""
    customer = session.exec(customers_query(actor).where(Customer.tenant_id == tenant_id)).first()
    if customer is None:
        raise NotFound(N_("No such customer."))
    return customer


def reseller_link(session: Session, customer_id: int, reseller_id: int) -> CustomerReseller | None:
    """The link saying a reseller serves a customer, if any."""
    return session.exec(
        select(CustomerReseller)
        .where(CustomerReseller.customer_id == customer_id)
        .where(CustomerReseller.reseller_id == reseller_id)
    ).first()


def scoped_filter(query: Any, actor: User) -> Any:
    """Restrict any record query to what `actor` may see (for joins and counts)."""
    if actor.is_provider:
        return query
    return query.where(AcceptanceRecord.reseller_id == actor.organization_id)
