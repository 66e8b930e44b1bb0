"""One search box: records and customers by id, tenant, company, domain or contact.

Scoped like every read: the provider searches every reseller's records and customers, a reseller
only its own records and the customers it serves, and a reseller's customer names are matched
against its own name for each customer (never the name another reseller gave it).

Portable SQL on SQLite and PostgreSQL: `lower(column) LIKE lower(pattern) ESCAPE '\\'`, with the
user's `%`, `_` and `\\` escaped so they match themselves.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, false, func, or_
from sqlmodel import Session, col, select

from app.models import AcceptanceRecord, Customer, CustomerReseller, User
from app.security.scoping import customers_query, records_query

MAX_QUERY_LENGTH = 200
# Partial matches need this many characters; exact ids match at any length.
MIN_PARTIAL_LENGTH = 2
LIKE_ESCAPE = "\\"
_GUID = re.compile(r"[0-9a-f]{8}-?(?:[0-9a-f]{4}-?){3}[0-9a-f]{12}")
_HEX = re.compile(r"[0-9a-f]{4,32}")


def clean_query(text: str | None) -> str:
    """The query as searched: trimmed, inner whitespace collapsed, at most 200 characters."""
    return " ".join((text or "").split())[:MAX_QUERY_LENGTH]


def escape_like(text: str) -> str:
    """`text` with LIKE's wildcards and the escape character escaped."""
    return (
        text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )


def contains(column: Any, text: str) -> ColumnElement[bool]:
    """Case-insensitive "column contains text", wildcards in `text` taken literally."""
    pattern = f"%{escape_like(text.lower())}%"
    return func.lower(column).like(pattern, escape=LIKE_ESCAPE)


def starts_with(column: Any, text: str) -> ColumnElement[bool]:
    """Case-insensitive "column starts with text", wildcards in `text` taken literally."""
    pattern = f"{escape_like(text.lower())}%"
    return func.lower(column).like(pattern, escape=LIKE_ESCAPE)


def as_tenant_id(text: str) -> str | None:
    """The tenant id `text` names in any usual spelling (case, braces, urn, no hyphens)."""
    compact = text.strip().lower().removeprefix("urn:uuid:").strip("{}()").strip()
    if not _GUID.fullmatch(compact):
        return None
    return str(uuid.UUID(compact))


def as_public_id(text: str) -> str | None:
    """The (start of a) record's public id `text` may be: 4 to 32 hex digits, hyphens ignored."""
    compact = text.strip().lower().replace("-", "")
    return compact if _HEX.fullmatch(compact) else None


def customer_match(*, actor: User, text: str) -> ColumnElement[bool]:
    """Which customers `text` names: tenant id, company name or domain (partial).

    A reseller's company names are its own (CustomerReseller.company_name); the provider's are
    the customer's recorded name and every reseller's name for it.
    """
    conditions: list[ColumnElement[bool]] = []
    tenant = as_tenant_id(text)
    if tenant is not None:
        conditions.append(col(Customer.tenant_id) == tenant)
    if len(text) >= MIN_PARTIAL_LENGTH:
        conditions.append(contains(Customer.domain, text))
        names = select(CustomerReseller.customer_id).where(
            contains(CustomerReseller.company_name, text)
        )
        if actor.is_provider:
            conditions.append(contains(Customer.company_name, text))
        else:
            names = names.where(CustomerReseller.reseller_id == actor.organization_id)
        conditions.append(col(Customer.id).in_(names))
    return or_(*conditions) if conditions else false()


def record_match(*, actor: User, text: str) -> ColumnElement[bool]:
    """Which records `text` names: public id (or its start), contact name or email, or one of
    the customers `customer_match` finds."""
    conditions: list[ColumnElement[bool]] = []
    public = as_public_id(text)
    if public is not None:
        if len(public) == 32:
            conditions.append(col(AcceptanceRecord.public_id) == public)
        else:
            conditions.append(starts_with(AcceptanceRecord.public_id, public))
    if len(text) >= MIN_PARTIAL_LENGTH:
        full_name = (
            col(AcceptanceRecord.contact_first_name) + " " + col(AcceptanceRecord.contact_last_name)
        )
        conditions += [
            contains(AcceptanceRecord.contact_email, text),
            contains(full_name, text),
            # Korean and some other names are written family name first.
            contains(
                col(AcceptanceRecord.contact_last_name)
                + " "
                + col(AcceptanceRecord.contact_first_name),
                text,
            ),
        ]
    customers = customers_query(actor).where(customer_match(actor=actor, text=text))
    conditions.append(
        col(AcceptanceRecord.customer_id).in_(customers.with_only_columns(col(Customer.id)))
    )
    return or_(*conditions)


@dataclass(frozen=True)
class SearchResults:
    """What one query found, each list capped at the limit (`more_*` says there were more)."""

    query: str
    records: list[AcceptanceRecord]
    customers: list[Customer]
    more_records: bool = False
    more_customers: bool = False

    @property
    def empty(self) -> bool:
        """True when nothing matched."""
        return not self.records and not self.customers


def search(session: Session, *, actor: User, query: str | None, limit: int = 50) -> SearchResults:
    """Records (newest first) and customers (by name) matching the query, as `actor` may see.

    An empty query finds nothing; a one-character query matches only ids.
    """
    text = clean_query(query)
    if not text:
        return SearchResults(query="", records=[], customers=[])
    records = list(
        session.exec(
            records_query(actor)
            .where(record_match(actor=actor, text=text))
            .order_by(col(AcceptanceRecord.created_at).desc(), col(AcceptanceRecord.id).desc())
            .limit(limit + 1)
        )
    )
    customers = list(
        session.exec(
            customers_query(actor)
            .where(customer_match(actor=actor, text=text))
            .order_by(col(Customer.company_name), col(Customer.id))
            .limit(limit + 1)
        )
    )
    return SearchResults(
        query=text,
        records=records[:limit],
        customers=customers[:limit],
        more_records=len(records) > limit,
        more_customers=len(customers) > limit,
    )
