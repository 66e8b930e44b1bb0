"""The set-based import batch against the single submission, row for row (R15, issue 7 target 5).

The same rows are imported twice in one database: once by `bulk_import.process_batch`, once row
by row through `acceptance.submit` (what the import did before), each on its own copy of the
customers (other tenant ids, set up alike). Records, customers, links, row outcomes and audit
events must come out the same. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import Session, col, select

from app.db import get_engine
from app.models import (
    AcceptanceRecord,
    AgreementTemplate,
    AuditEvent,
    Customer,
    CustomerReseller,
    Organization,
    User,
)
from app.models.acceptance_input import CustomerInput
from app.models.imports import ImportJob, ImportRow
from app.services import agreements, imports
from app.services.audit_log import verify_chain
from app.services.bulk_rows import submit_row
from app.services.customers import register_customer
from app.services.import_csv import column_key
from tests.services.test_imports import World, csv_bytes, row
from tests.services.test_imports import world as world  # the fixture

REPLACED_TEMPLATE = "11111111-2222-3333-4444-555555555555"
UNKNOWN_TEMPLATE = "99999999-8888-7777-6666-555555555555"
NAMES = ("new1", "new2", "new3", "new4", "new5", "new6", "other", "linked", "usgov")


def _setup(w: World, tenants: dict[str, str]) -> None:
    """Customers that exist before the import: another reseller's, our own, a national one."""
    b, a = w.users.b_submitter, w.users.a_submitter
    register_customer(
        w.db, actor=b, data=CustomerInput(tenant_id=tenants["other"], company_name="Other")
    )
    register_customer(
        w.db,
        actor=a,
        data=CustomerInput(tenant_id=tenants["linked"], company_name="Old name", country="JP"),
    )
    register_customer(
        w.db,
        actor=b,
        data=CustomerInput(tenant_id=tenants["usgov"], company_name="Gov", cloud="usgov"),
    )
    w.db.commit()


def _rows(tenants: dict[str, str], own_domain: str) -> list[dict[str, str]]:
    t = tenants
    first = row(tenant_id=t["new1"], company_name="New One", domain="", country="")
    return [
        first,
        # The same customer again: another name for it, a domain now, another contact.
        row(tenant_id=t["new1"], company_name="New One Ltd", email="b@new1.example"),
        # Another reseller's customer: no domain yet, the row's country replaces its own.
        row(tenant_id=t["other"], company_name="Other Co", country="JP", domain="other.example"),
        row(tenant_id=t["linked"], company_name="Linked New Name", country=""),
        row(tenant_id=t["usgov"], cloud="public"),  # a national-cloud customer: refused
        row(tenant_id=t["new2"], cloud="usgov"),  # refused, creates nothing
        row(tenant_id=t["new2"], company_name="Second", language="en-us"),
        row(tenant_id=t["new3"], template_id=REPLACED_TEMPLATE),
        row(tenant_id=t["new3"], template_id=UNKNOWN_TEMPLATE),
        row(tenant_id=t["new4"], email=f"someone@{own_domain}"),  # flagged (R6)
        {**first, "email": first["email"].upper()},  # the first row again
        row(tenant_id=t["new5"], email="not-an-email"),
        row(tenant_id=t["new5"], country="", language="", phone_number=""),
        row(tenant_id=t["new6"], country="US", language=""),
    ]


def _one_by_one(
    session: Session,
    job: ImportJob,
    user: User,
    rows: Sequence[ImportRow],
    *,
    phone_region: str,
    default_country: str | None,
) -> None:
    """What the import did before: each row through `acceptance.submit`."""
    keys = [column_key(c) for c in job.columns]
    for item in rows:
        cells = dict(zip(keys, item.values, strict=False))
        submit_row(
            session,
            job,
            user,
            item,
            cells,
            phone_region=phone_region,
            default_country=default_country,
        )


def _outcome(w: World, job_id: int, tenants: dict[str, str]) -> dict[str, Any]:
    """What the import stored, with tenant ids replaced by their names in `tenants`."""
    name = {tenant: key for key, tenant in tenants.items()}
    w.db.expire_all()
    rows = w.rows(job_id)
    records = {
        r.id: r
        for r in w.db.exec(
            select(AcceptanceRecord).where(
                col(AcceptanceRecord.id).in_([r.record_id for r in rows if r.record_id])
            )
        )
    }
    customers = {
        c.id: c
        for c in w.db.exec(select(Customer).where(col(Customer.tenant_id).in_(tenants.values())))
    }
    record_fields = (
        "agreement_type",
        "template_id",
        "date_agreed",
        "contact_first_name",
        "contact_last_name",
        "contact_email",
        "contact_phone",
        "language",
        "flags",
        "source",
        "status",
        "reseller_id",
        "submitted_by_id",
    )

    def record(record_id: int | None) -> Any:
        if record_id is None:
            return None
        r = records[record_id]
        return (name[customers[r.customer_id].tenant_id], *(getattr(r, f) for f in record_fields))

    links = w.db.exec(
        select(CustomerReseller).where(col(CustomerReseller.customer_id).in_(customers))
    ).all()
    events = w.db.exec(
        select(AuditEvent)
        .where(col(AuditEvent.action).in_(["customer.created", "customer.linked"]))
        .where(col(AuditEvent.subject_id).in_([str(i) for i in customers]))
        .order_by(col(AuditEvent.id))
    ).all()
    submitted = w.db.exec(
        select(AuditEvent)
        .where(AuditEvent.action == "acceptance.submitted")
        .where(col(AuditEvent.subject_id).in_([r.public_id for r in records.values()]))
        .order_by(col(AuditEvent.id))
    ).all()

    def details(e: AuditEvent) -> dict[str, Any]:
        out = dict(e.details)
        for field in ("tenant_id", "customer_tenant_id"):
            if field in out:
                out[field] = name[out[field]]
        return out

    w.db.commit()
    return {
        "rows": [(r.line, r.status, record(r.record_id), r.errors) for r in rows],
        "customers": sorted(
            (name[c.tenant_id], c.company_name, c.domain, c.cloud, c.country)
            for c in customers.values()
        ),
        "links": sorted(
            (name[customers[k.customer_id].tenant_id], k.reseller_id, k.company_name) for k in links
        ),
        "customer_events": [
            (e.action, name[customers[int(e.subject_id)].tenant_id], details(e), e.actor_label)
            for e in events
        ],
        "submitted_events": [(details(e), e.actor_label, e.organization_id) for e in submitted],
    }


@pytest.mark.parametrize("batch_size", [4, 500])
def test_the_bulk_path_stores_what_single_submissions_store(
    world: World, monkeypatch: pytest.MonkeyPatch, batch_size: int
) -> None:
    w = world
    w.db.add(
        AgreementTemplate(
            agreement_type="MicrosoftCustomerAgreement",
            template_id=REPLACED_TEMPLATE,
            version_rank=-1,
            current=False,
        )
    )
    agreements.ensure_default_template(w.db)
    b_org = w.db.get_one(Organization, w.users.b_submitter.organization_id)
    b_org.country = "US"  # the other reseller's country fills its customers' country
    w.db.add(b_org)
    a_org = w.db.get_one(Organization, w.users.a_submitter.organization_id)
    own_domain = "reseller-a.example"
    a_org.email_domains = [*a_org.email_domains, own_domain]
    w.db.add(a_org)
    w.db.commit()

    outcomes = []
    for path in ("bulk", "single"):
        tenants = {key: str(uuid.uuid4()) for key in NAMES}
        _setup(w, tenants)
        job_id = w.upload(csv_bytes(_rows(tenants, own_domain)))
        with monkeypatch.context() as patch:
            if path == "single":
                patch.setattr(imports, "process_batch", _one_by_one)
            w.run(job_id, batch_size=batch_size)
        outcomes.append(_outcome(w, job_id, tenants))

    bulk, single = outcomes
    for part in ("rows", "customers", "links", "customer_events", "submitted_events"):
        assert bulk[part] == single[part], part
    statuses = [status for _line, status, _record, _errors in bulk["rows"]]
    assert statuses.count("created") == 8
    assert statuses.count("duplicate") == 1
    assert statuses.count("failed") == 5
    assert verify_chain(w.db).ok


@pytest.mark.parametrize("rows", [20, 200])
def test_a_batch_costs_the_same_few_statements_however_many_rows_it_has(
    world: World, rows: int
) -> None:
    job_id = world.upload(csv_bytes([row() for _ in range(rows)]))
    engine = get_engine()
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        result = world.run(job_id, batch_size=rows)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert result.rows == rows
    assert world.job(job_id).rows_created == rows
    # Two batches (the rows, then one that finds none left) and their commits: a few dozen
    # statements whatever the size; row by row it took about 25 a row.
    assert len(statements) <= 40, statements
