"""Read-side queries for lists (records, the review queue, customers) and the name lookups that
render them, always scoped to the acting user. A record's detail reads are in record_details.py.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Pool, Row, Select, String, cast, func, tuple_
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from app.models import (
    AcceptanceRecord,
    AgreementType,
    Confirmation,
    ConfirmationState,
    Customer,
    CustomerReseller,
    Organization,
    RecordStatus,
    User,
)
from app.security.scoping import customers_query, records_query
from app.services import agreements
from app.services.search import clean_query, customer_match


@dataclass(frozen=True)
class RecordFilter:
    """What a list of records is narrowed to."""

    statuses: tuple[str, ...] = ()
    reseller_id: int | None = None
    customer_id: int | None = None
    tenant_id: str | None = None
    flagged_only: bool = False
    # Submitted (created) at or after `since` and before `until`; the agreement version.
    since: datetime | None = None
    until: datetime | None = None
    template_id: str | None = None


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
    query = records_page_query(
        actor=actor, filters=filters, after=after, limit=limit, oldest_first=oldest_first
    )
    rows = list(session.exec(query))
    next_after = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_after = (last.created_at, last.id or 0)
    return Page(items=rows, next_after=next_after)


def records_page_query(
    *,
    actor: User,
    filters: RecordFilter,
    after: tuple[datetime, int] | None = None,
    limit: int = 50,
    oldest_first: bool = False,
) -> SelectOfScalar[AcceptanceRecord]:
    """The SELECT of one keyset page (one row more than `limit`, to know there is a next).

    Ordered by (created_at, id), which the indexes of migration 0011 serve with or without a
    status, reseller or customer filter.
    """
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
    if filters.since is not None:
        query = query.where(AcceptanceRecord.created_at >= filters.since)
    if filters.until is not None:
        query = query.where(AcceptanceRecord.created_at < filters.until)
    if filters.template_id:
        query = query.where(AcceptanceRecord.template_id == filters.template_id)
    if filters.flagged_only:
        # JSON list stored as text on both databases: a non-empty list is not "[]".
        query = query.where(cast(col(AcceptanceRecord.flags), String) != "[]")
    created, rid = col(AcceptanceRecord.created_at), col(AcceptanceRecord.id)
    if after is not None:
        # The row-value form is an index condition on (created_at, id) whatever the plan (a
        # generic plan turns `a > x OR (a = x AND b > y)` into a filter from the list's start,
        # which grows with the depth); PostgreSQL and SQLite both compare row values.
        key = tuple_(created, rid)
        query = query.where(key > after if oldest_first else key < after)
    order = (created.asc(), rid.asc()) if oldest_first else (created.desc(), rid.desc())
    return query.order_by(*order).limit(limit + 1)


# What a row of the review queue shows: the record's columns it needs, its customer's register
# name and tenant, and its reseller's name (no full records: lists read fifteen columns, not forty).
QUEUE_COLUMNS: tuple[Any, ...] = (
    col(AcceptanceRecord.id),
    col(AcceptanceRecord.public_id),
    col(AcceptanceRecord.customer_id),
    col(AcceptanceRecord.reseller_id),
    col(AcceptanceRecord.status),
    col(AcceptanceRecord.flags),
    col(AcceptanceRecord.date_agreed),
    col(AcceptanceRecord.contact_first_name),
    col(AcceptanceRecord.contact_last_name),
    col(AcceptanceRecord.contact_email),
    col(AcceptanceRecord.created_at),
    col(AcceptanceRecord.submitted_at),
    col(Customer.company_name),
    col(Customer.tenant_id),
    col(Organization.name).label("reseller_name"),
)


@dataclass(frozen=True)
class RowPage:
    """One page of list rows (named columns, see QUEUE_COLUMNS) and the next page's cursor."""

    items: list[Row[Any]]
    next_after: tuple[datetime, int] | None


def queue_page(
    session: Session,
    *,
    actor: User,
    filters: RecordFilter,
    after: tuple[datetime, int] | None = None,
    limit: int = 50,
) -> RowPage:
    """A page of the review queue, oldest first, in one statement: the visible records joined
    with their customer's register name and their reseller's name; keyset pagination."""
    query = queue_page_query(actor=actor, filters=filters, after=after, limit=limit)
    rows = list(session.execute(query))
    next_after = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_after = (rows[-1].created_at, rows[-1].id)
    return RowPage(items=rows, next_after=next_after)


def queue_page_query(
    *,
    actor: User,
    filters: RecordFilter,
    after: tuple[datetime, int] | None = None,
    limit: int = 50,
) -> Select[Any]:
    """The SELECT of one queue page: records_page_query's rows (oldest first) as QUEUE_COLUMNS,
    the customer and the reseller joined by their primary keys."""
    return (
        records_page_query(
            actor=actor, filters=filters, after=after, limit=limit, oldest_first=True
        )
        .with_only_columns(*QUEUE_COLUMNS)
        .join_from(
            AcceptanceRecord, Customer, col(Customer.id) == col(AcceptanceRecord.customer_id)
        )
        .join_from(
            AcceptanceRecord,
            Organization,
            col(Organization.id) == col(AcceptanceRecord.reseller_id),
        )
    )


@dataclass(frozen=True)
class FilterChoices:
    """The choices of a list's reseller and agreement version filters."""

    resellers: tuple[tuple[int, str], ...]  # (id, name), by name
    versions: tuple[tuple[str, bool], ...]  # (template id, current), as agreements.all_templates


# Filter choices change when an administrator adds a reseller or an agreement version: rarely.
# Each process keeps them this long rather than reading them on every page of every list.
CHOICES_TTL_SECONDS = 30.0
# Keyed by the connection pool: a page's session is bound to a per-request view of the engine
# (execution options), which shares its engine's pool; each app (and test) has its own.
_choices: WeakKeyDictionary[Pool, tuple[float, FilterChoices]] = WeakKeyDictionary()
_choices_lock = threading.Lock()


def filter_choices(session: Session, *, now: float | None = None) -> FilterChoices:
    """The resellers and agreement versions to filter by, read at most every
    CHOICES_TTL_SECONDS per process and database (a new one shows up within that time)."""
    pool = session.get_bind().engine.pool
    moment = time.monotonic() if now is None else now
    with _choices_lock:
        cached = _choices.get(pool)
    if cached is not None and moment - cached[0] < CHOICES_TTL_SECONDS:
        return cached[1]
    choices = FilterChoices(
        resellers=tuple((org.id or 0, org.name) for org in resellers(session)),
        versions=tuple((t.template_id, t.current) for t in agreements.all_templates(session)),
    )
    with _choices_lock:
        _choices[pool] = (moment, choices)
    return choices


def status_counts(session: Session, *, actor: User) -> dict[str, int]:
    """How many visible records are in each status (a count over the actor's whole share of the
    table: for dashboards, not for every page of a list)."""
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


def visible_customers(session: Session, *, actor: User, limit: int = 500) -> list[Customer]:
    """The customers the actor may see, by name."""
    return list(session.exec(customers_query(actor).order_by(Customer.company_name).limit(limit)))


@dataclass(frozen=True)
class CustomerFilter:
    """What a customer list is narrowed to."""

    text: str | None = None  # tenant id, company name or domain (see search.customer_match)
    outdated_only: bool = False  # confirmed only on an older agreement version (R12)
    withdrawn_only: bool = False  # the customer withdrew its acceptance (R13)


@dataclass(frozen=True)
class CustomerPage:
    """One page of customers, the name the actor knows each by, and the next page's key."""

    items: list[Customer]
    names: dict[int, str]
    next_after: tuple[str, int] | None


def outdated_customer_ids(session: Session) -> Any:
    """A select of the customers confirmed only on an older Customer Agreement version (R12).

    The same rule as agreements.customers_needing_reconfirmation, as a subquery for lists.
    """
    agreement_type = AgreementType.MICROSOFT_CUSTOMER_AGREEMENT.value
    current = agreements.current_template(session, agreement_type).template_id
    active = (
        Confirmation.agreement_type == agreement_type,
        Confirmation.state == ConfirmationState.ACTIVE,
    )
    on_current = select(Confirmation.customer_id).where(
        *active, Confirmation.template_id == current
    )
    return (
        select(Confirmation.customer_id)
        .where(*active, Confirmation.template_id != current)
        .where(col(Confirmation.customer_id).not_in(on_current))
    )


def outdated_among(session: Session, customer_ids: set[int]) -> set[int]:
    """Which of these customers need a new acceptance of the current version (R12)."""
    if not customer_ids:
        return set()
    query = outdated_customer_ids(session).where(col(Confirmation.customer_id).in_(customer_ids))
    return set(session.exec(query))


def list_customers(
    session: Session,
    *,
    actor: User,
    filters: CustomerFilter,
    after: tuple[str, int] | None = None,
    limit: int = 50,
) -> CustomerPage:
    """A page of the customers the actor may see, by name; keyset pagination on (name, id).

    A reseller's list is ordered and named by its own name for each customer.
    """
    if actor.is_provider:
        name, key = col(Customer.company_name), col(Customer.id)
        query = select(Customer, name)
    else:
        name, key = col(CustomerReseller.company_name), col(CustomerReseller.customer_id)
        query = (
            select(Customer, name)
            .join(CustomerReseller, col(CustomerReseller.customer_id) == col(Customer.id))
            .where(CustomerReseller.reseller_id == actor.organization_id)
        )
    text = clean_query(filters.text)
    if text:
        query = query.where(customer_match(actor=actor, text=text))
    if filters.outdated_only:
        query = query.where(col(Customer.id).in_(outdated_customer_ids(session)))
    if filters.withdrawn_only:
        query = query.where(col(Customer.withdrawn_at).is_not(None))
    if after is not None:
        # A row value, as for records: always an index condition on (name, id).
        query = query.where(tuple_(name, key) > after)
    rows = list(session.exec(query.order_by(name, key).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    items = [customer for customer, _name in rows]
    names = {customer.id or 0: shown for customer, shown in rows}
    next_after = (rows[-1][1], rows[-1][0].id or 0) if more and rows else None
    return CustomerPage(items=items, names=names, next_after=next_after)
