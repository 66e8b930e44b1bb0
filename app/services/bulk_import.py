"""One batch of a CSV import (R15), set-based: a few multi-row statements, not 25 per row.

Every row is validated in Python with the functions the web form and the API use
(`parse_submission`, `refuse_national_cloud`, `check_template_version`, `new_record_values`);
the batch's earlier imports, customers and customer links are read with one query each; its new
customers, links, records, row keys and audit events are written with multi-row INSERTs. Each
row gets the outcome `acceptance.submit` would give it, row after row in file order: the
customers' state is carried from row to row in memory, and a row refused by a rule changes
nothing (tests/services/test_import_bulk.py imports the same rows both ways and compares).

When the database refuses the batch (a constraint, or another upload inserting the same customer
or key at the same moment) its savepoint is rolled back and the batch goes row by row through
`acceptance.submit` instead (`bulk_rows.submit_row`), each row in its own savepoint: one bad row
fails alone.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, SQLModel

from app.models import (
    AcceptanceRecord,
    AgreementTemplate,
    Customer,
    CustomerReseller,
    Organization,
    RecordStatus,
    Source,
    User,
    utcnow,
)
from app.models.acceptance_input import AcceptanceSubmission
from app.models.base import new_public_id
from app.models.customer import Cloud
from app.models.imports import ImportedAcceptance, ImportJob, ImportRow, RowStatus
from app.services import acceptance, agreements
from app.services.bulk_audit import EventBatch
from app.services.bulk_insert import insert_rows, update_rows
from app.services.bulk_rows import fail_row, imported_keys, parse_row, row_key, submit_row
from app.services.customers import customers_by_tenant, refuse_national_cloud, reseller_links
from app.services.errors import DomainError, ValidationFailed
from app.services.import_csv import column_key

log = logging.getLogger(__name__)


@dataclass
class _Valid:
    """A row that passed validation, with its key and the current agreement version."""

    row: ImportRow
    data: AcceptanceSubmission
    key: str
    current: AgreementTemplate


@dataclass
class _NewCustomer:
    """A customer the batch creates (the `Customer` fields it sets; no model, no session)."""

    tenant_id: str
    company_name: str
    domain: str | None
    cloud: str
    country: str | None
    id: int | None = None


@dataclass
class _Planned:
    """A row that creates a record, and what it does to its customer."""

    row: ImportRow
    key: str
    customer: Customer | _NewCustomer
    new_customer: bool
    new_link: bool
    values: dict[str, Any]
    public_id: str = field(default_factory=new_public_id)
    record_id: int | None = None


@dataclass
class _State:
    """The batch's customers and links as the rows before the current one left them."""

    reseller: Organization
    known: dict[str, Customer]
    links: dict[int, CustomerReseller]
    new_customers: dict[str, _NewCustomer] = field(default_factory=dict)
    # tenant id -> the reseller's name for it, for links the batch creates
    new_links: dict[str, str] = field(default_factory=dict)


def process_batch(
    session: Session,
    job: ImportJob,
    user: User,
    rows: Sequence[ImportRow],
    *,
    phone_region: str,
    default_country: str | None,
) -> None:
    """Give each of `rows` (pending, in file order) its outcome; the caller commits."""
    # The rows' outcomes are written with one UPDATE at the end, not flushed one by one.
    for row in rows:
        session.expunge(row)
    valid = _validate(session, job, rows, phone_region=phone_region)
    events = EventBatch()
    try:
        with session.begin_nested():
            _write(session, job, user, valid, events, default_country=default_country)
    except SQLAlchemyError as exc:
        # The class only: the error's text holds the rows' values (personal data).
        cause = type(getattr(exc, "orig", None) or exc).__name__
        log.warning("import job %s: batch refused (%s); going row by row", job.id, cause)
        keys = [column_key(c) for c in job.columns]
        for item in valid:
            item.row.status, item.row.record_id, item.row.errors = RowStatus.PENDING.value, None, []
            cells = dict(zip(keys, item.row.values, strict=False))
            submit_row(
                session,
                job,
                user,
                item.row,
                cells,
                phone_region=phone_region,
                default_country=default_country,
            )
    else:
        # After the savepoint: the chain's lock (PostgreSQL) is then held only until the commit.
        events.write(session)
    outcomes = [
        {"id": r.id, "status": r.status, "record_id": r.record_id, "errors": r.errors} for r in rows
    ]
    update_rows(session, _table(ImportRow), outcomes)


def _validate(
    session: Session, job: ImportJob, rows: Sequence[ImportRow], *, phone_region: str
) -> list[_Valid]:
    keys = [column_key(c) for c in job.columns]
    currents: dict[str, AgreementTemplate] = {}
    valid = []
    for row in rows:
        try:
            data = parse_row(dict(zip(keys, row.values, strict=False)), phone_region=phone_region)
        except ValidationFailed as exc:
            fail_row(row, exc)
            continue
        kind = data.agreement_type.value
        if kind not in currents:
            currents[kind] = agreements.current_template(session, kind)
        current = currents[kind]
        valid.append(
            _Valid(row, data, row_key(job.reseller_id, data, current.template_id), current)
        )
    return valid


def _write(
    session: Session,
    job: ImportJob,
    user: User,
    valid: list[_Valid],
    events: EventBatch,
    *,
    default_country: str | None,
) -> None:
    earlier = imported_keys(session, job.reseller_id, {v.key for v in valid})
    fresh = [v for v in valid if v.key not in earlier]
    known = customers_by_tenant(session, {v.data.customer.tenant_id for v in fresh})
    state = _State(
        reseller=session.get_one(Organization, user.organization_id),
        known=known,
        links=reseller_links(session, user.organization_id, [c.id or 0 for c in known.values()]),
    )
    made: dict[str, _Planned] = {}
    repeats: list[tuple[ImportRow, str]] = []
    for item in valid:
        if item.key in earlier:
            item.row.status = RowStatus.DUPLICATE.value
            item.row.record_id = earlier[item.key]
        elif item.key in made:  # the same row twice in the batch: the first one's record
            repeats.append((item.row, item.key))
        else:
            try:
                made[item.key] = _plan(session, state, item, default_country=default_country)
            except DomainError as exc:
                fail_row(item.row, exc)
    planned = list(made.values())
    if planned:
        _insert(session, job, user, state, planned)
    for p in planned:
        p.row.status, p.row.record_id = RowStatus.CREATED.value, p.record_id
        _audit(events, user, p)
    for row, key in repeats:
        row.status, row.record_id = RowStatus.DUPLICATE.value, made[key].record_id


def _plan(
    session: Session, state: _State, item: _Valid, *, default_country: str | None
) -> _Planned:
    """What `acceptance.submit` would do for the row, given the rows before it; rules first."""
    data, wanted = item.data, item.data.customer
    tenant_id = wanted.tenant_id
    # The refusals come before any change, so a refused row leaves the customer as it was
    # (as the single path's rolled-back savepoint does).
    known = state.known.get(tenant_id)
    if known is not None:
        refuse_national_cloud(known, wanted.cloud)
    elif wanted.cloud != Cloud.PUBLIC:
        # A new customer has the requested cloud (one the batch created is public).
        probe = Customer(tenant_id=tenant_id, company_name="", cloud=wanted.cloud.value)
        refuse_national_cloud(probe, wanted.cloud)
    template_id = acceptance.check_template_version(
        session,
        agreement_type=data.agreement_type.value,
        template_id=data.template_id,
        current=item.current,
    )
    # register_customer: create, or fill in what an earlier registration left empty.
    country = wanted.country or state.reseller.country or default_country
    customer: Customer | _NewCustomer | None = known or state.new_customers.get(tenant_id)
    new_customer = customer is None
    if customer is None:
        customer = state.new_customers[tenant_id] = _NewCustomer(
            tenant_id, wanted.company_name, wanted.domain, wanted.cloud.value, country
        )
    elif known is not None:
        changed = False
        if known.domain is None and wanted.domain:
            known.domain, changed = wanted.domain, True
        if known.country is None and country:
            known.country, changed = country, True
        if changed:
            known.updated_at = utcnow()
    elif customer.domain is None and wanted.domain:  # created earlier in the batch
        customer.domain = wanted.domain
    link = state.links.get(known.id or 0) if known is not None else None
    new_link = link is None and tenant_id not in state.new_links
    if link is None:
        state.new_links[tenant_id] = wanted.company_name
    elif link.company_name != wanted.company_name:
        link.company_name = wanted.company_name
    # _resolve: the record's country, also kept on the customer.
    country = wanted.country or customer.country or state.reseller.country or default_country
    if country and customer.country != country:
        customer.country = country
    values = acceptance.new_record_values(
        data, reseller=state.reseller, template_id=template_id, country=country
    )
    return _Planned(item.row, item.key, customer, new_customer, new_link, values)


def _insert(
    session: Session, job: ImportJob, user: User, state: _State, planned: list[_Planned]
) -> None:
    """The batch's new customers, links, records and keys: one statement each."""
    now = utcnow()
    if state.new_customers:
        rows = [
            {**c.__dict__, "created_at": now, "updated_at": now}
            for c in state.new_customers.values()
        ]
        for row in rows:
            del row["id"]
        returned = insert_rows(session, _table(Customer), rows, returning=("id", "tenant_id"))
        for customer_id, tenant_id in returned:
            state.new_customers[tenant_id].id = customer_id
    if state.new_links:
        customer_ids = {t: c.id for t, c in state.new_customers.items()}
        customer_ids.update((t, c.id) for t, c in state.known.items())
        links = [
            {
                "customer_id": customer_ids[tenant_id],
                "reseller_id": job.reseller_id,
                "company_name": name,
                "created_at": now,
            }
            for tenant_id, name in state.new_links.items()
        ]
        insert_rows(session, _table(CustomerReseller), links)
    records = [
        {
            **p.values,
            "customer_id": p.customer.id,
            "public_id": p.public_id,
            "reseller_id": job.reseller_id,
            "submitted_by_id": user.id or 0,
            "source": Source.CSV.value,
            "status": RecordStatus.SUBMITTED.value,
            "attempts": 0,
            "version": 1,
            "created_at": now,
            "updated_at": now,
            "submitted_at": now,
        }
        for p in planned
    ]
    returned = insert_rows(
        session, _table(AcceptanceRecord), records, returning=("id", "public_id")
    )
    ids = {public_id: record_id for record_id, public_id in returned}
    keys = []
    for p in planned:
        p.record_id = ids[p.public_id]
        keys.append(
            {
                "reseller_id": job.reseller_id,
                "row_key": p.key,
                "record_id": p.record_id,
                "job_id": job.id,
                "created_at": now,
            }
        )
    insert_rows(session, _table(ImportedAcceptance), keys)


def _table(model: type[SQLModel]) -> Table:
    # Core INSERTs of the model's table: the ORM's bulk INSERT costs about as much per row
    # again (it collects each row's parameters through the mapper).
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


def _audit(events: EventBatch, user: User, p: _Planned) -> None:
    """The row's events, in the order `acceptance.submit` records them."""
    customer = p.customer
    customer_events: list[tuple[str, dict[str, Any]]] = []
    if p.new_customer:
        customer_events.append(("customer.created", {"cloud": customer.cloud}))
    if p.new_link:
        customer_events.append(("customer.linked", {}))
    for action, details in customer_events:
        events.add(
            actor=user,
            action=action,
            subject_type="customer",
            subject_id=customer.id or 0,
            organization_id=user.organization_id,
            details={"tenant_id": customer.tenant_id, **details},
        )
    events.add(
        actor=user,
        action="acceptance.submitted",
        subject_type="acceptance",
        subject_id=p.public_id,
        organization_id=user.organization_id,
        details=acceptance.submitted_details(
            source=Source.CSV,
            tenant_id=customer.tenant_id,
            template_id=p.values["template_id"],
            flags=p.values["flags"],
        ),
    )
