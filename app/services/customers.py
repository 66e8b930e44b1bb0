"""Customers: a reseller registers the tenants it serves; the tenant record is shared (R8)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import TypeVar

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, SQLModel, col, select
from sqlmodel.sql.expression import SelectOfScalar

from app.markers import M_, N_
from app.models import Customer, CustomerReseller, Organization, User, utcnow
from app.models.acceptance_input import CustomerInput
from app.models.customer import Cloud
from app.services.audit import record_event
from app.services.errors import PermissionDenied, ValidationFailed

RowT = TypeVar("RowT", bound=SQLModel)


def national_cloud_reason(cloud: str) -> str:
    """Why a customer in a national cloud cannot be confirmed (R14)."""
    return M_(
        "Customers in %(cloud)s cannot be confirmed: Microsoft supports confirming "
        "acceptance of the Microsoft Customer Agreement only in the public cloud.",
        cloud=M_(Cloud(cloud).label),
    )


def get_or_insert(
    session: Session,
    query: SelectOfScalar[RowT],
    make: Callable[[], RowT],
    *,
    look_first: bool = True,
) -> tuple[RowT, bool]:
    """The row `query` finds, or a new one from `make`; safe when another transaction races.

    The insert skips a row whose unique key another transaction holds (`ON CONFLICT DO
    NOTHING`, PostgreSQL and SQLite alike) and then reads that row: no savepoint round trips.
    `look_first=False` inserts straight away (for a row that is most likely new).
    """
    if look_first:
        row = session.exec(query).first()
        if row is not None:
            return row, False
    new = make()
    model = type(new)
    table = model.__table__  # type: ignore[attr-defined]
    values = {
        column.key: getattr(new, column.key)
        for column in table.columns
        if not column.primary_key and getattr(new, column.key, None) is not None
    }
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(model).values(values).on_conflict_do_nothing().returning(model)
    inserted = session.scalars(statement).first()
    if inserted is None:
        # A concurrent transaction inserted the same unique key first: use its row.
        return session.exec(query).one(), False
    return inserted, True


def register_customer(
    session: Session, *, actor: User, data: CustomerInput, default_country: str | None = None
) -> Customer:
    """Find or create the customer and record that the actor's reseller serves it.

    Its country: as entered, else the reseller's own, else `default_country`.
    """
    if actor.is_provider:
        raise PermissionDenied(N_("Only a reseller registers the customers it serves."))
    # The country the enhanced create call needs (R18): as entered, else the reseller's own.
    country = data.country or _reseller_country(session, actor) or default_country
    customer, created = get_or_insert(
        session,
        select(Customer).where(Customer.tenant_id == data.tenant_id),
        lambda: Customer(
            tenant_id=data.tenant_id,
            company_name=data.company_name,
            domain=data.domain,
            cloud=data.cloud.value,
            country=country,
        ),
    )
    if created:
        _audit(session, actor, customer, "customer.created", {"cloud": customer.cloud})
    else:
        # Fill in what an earlier registration left empty; never overwrite what is known.
        changed = False
        if customer.domain is None and data.domain:
            customer.domain = data.domain
            changed = True
        if customer.country is None and country:
            customer.country = country
            changed = True
        if changed:
            customer.updated_at = utcnow()
            session.add(customer)
    link, linked = get_or_insert(
        session,
        select(CustomerReseller)
        .where(CustomerReseller.customer_id == customer.id)
        .where(CustomerReseller.reseller_id == actor.organization_id),
        lambda: CustomerReseller(
            customer_id=customer.id or 0,
            reseller_id=actor.organization_id,
            company_name=data.company_name,
        ),
        look_first=not created,  # a customer created just now has no links yet
    )
    if linked:
        _audit(session, actor, customer, "customer.linked", {})
    elif link.company_name != data.company_name:
        link.company_name = data.company_name
        session.add(link)
    session.flush()
    return customer


def _reseller_country(session: Session, actor: User) -> str | None:
    org = session.get(Organization, actor.organization_id)
    return org.country if org is not None else None


def _audit(
    session: Session, actor: User, customer: Customer, action: str, details: dict[str, str]
) -> None:
    record_event(
        session,
        actor=actor,
        action=action,
        subject_type="customer",
        subject_id=customer.id or 0,
        organization_id=actor.organization_id,
        details={"tenant_id": customer.tenant_id, **details},
    )


def refuse_national_cloud(customer: Customer, requested: Cloud) -> None:
    """Raise a field error when the customer (or the request) is in a national cloud (R14)."""
    cloud = customer.cloud if customer.cloud != Cloud.PUBLIC else requested.value
    if cloud != Cloud.PUBLIC:
        raise ValidationFailed({"customer.cloud": [national_cloud_reason(cloud)]})


def reseller_name_for(session: Session, customer: Customer, reseller_id: int) -> str:
    """The company name as this reseller entered it (falls back to the first one recorded)."""
    link = session.exec(
        select(CustomerReseller)
        .where(CustomerReseller.customer_id == customer.id)
        .where(CustomerReseller.reseller_id == reseller_id)
    ).first()
    return link.company_name if link else customer.company_name


def resellers_of(session: Session, customer: Customer) -> list[tuple[Organization, str]]:
    """The resellers serving a customer, with the name each uses for it (provider view)."""
    rows = session.exec(
        select(Organization, CustomerReseller.company_name)
        .where(CustomerReseller.reseller_id == Organization.id)
        .where(CustomerReseller.customer_id == customer.id)
        .order_by(Organization.name)
    )
    return [(org, name) for org, name in rows]


# --- Batch lookups (bulk CSV import, R15) ---------------------------------------------------------
# Added for the set-based import path (app/services/bulk_import.py): one query per batch instead
# of one per row. `register_customer` above does not use them.


def customers_by_tenant(session: Session, tenant_ids: Collection[str]) -> dict[str, Customer]:
    """The known customers among `tenant_ids` (normalised GUIDs), by tenant id."""
    if not tenant_ids:
        return {}
    found = session.exec(select(Customer).where(col(Customer.tenant_id).in_(set(tenant_ids))))
    return {customer.tenant_id: customer for customer in found}


def reseller_links(
    session: Session, reseller_id: int, customer_ids: Collection[int]
) -> dict[int, CustomerReseller]:
    """The reseller's links to the given customers, by customer id."""
    if not customer_ids:
        return {}
    found = session.exec(
        select(CustomerReseller)
        .where(CustomerReseller.reseller_id == reseller_id)
        .where(col(CustomerReseller.customer_id).in_(set(customer_ids)))
    )
    return {link.customer_id: link for link in found}
