"""Exports for audits: rows, filters, scoping, CSV safety, streamed JSON, the audit event."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from app.db import get_session
from app.models import AcceptanceRecord, AuditEvent, Confirmation, Customer, RecordStatus
from app.services import export, review
from app.services.errors import ValidationFailed
from app.services.export import ExportFilter, ExportFormat, ExportKind
from app.services.ledger import record_withdrawal
from tests.conftest import AppFactory
from tests.support import Users, load_users, submit

TENANT = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"


@pytest.fixture
def session(make_app: AppFactory, database_url: str) -> Iterator[Session]:
    app = make_app(database_url)
    with app.app_context():
        yield get_session()


@pytest.fixture
def people(session: Session) -> Users:
    return load_users(session)


def confirmed(session: Session, people: Users, submitter: Any, **overrides: Any) -> Any:
    record = submit(session, submitter, **overrides)
    review.approve(session, actor=people.reviewer, record=record)
    entry = Confirmation(
        customer_id=record.customer_id,
        agreement_type=record.agreement_type,
        template_id=record.template_id,
        date_agreed=record.date_agreed,
        contact_first_name=record.contact_first_name,
        contact_last_name=record.contact_last_name,
        contact_email=record.contact_email,
        source="sent",
        record_id=record.id,
        approved_by_id=people.reviewer.id,
        upstream_request_id="11111111-1111-4111-8111-111111111111",
    )
    session.add(entry)
    session.flush()
    record.status = RecordStatus.CONFIRMED.value
    record.confirmation_id = entry.id
    session.add(record)
    session.commit()
    return record


def text_of(session: Session, actor: Any, kind: ExportKind, fmt: ExportFormat, **f: Any) -> str:
    return "".join(
        export.stream(session, actor=actor, kind=kind, fmt=fmt, filters=ExportFilter(**f))
    )


def csv_rows(body: str) -> list[dict[str, str]]:
    assert body.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(body.removeprefix("\ufeff"))))


def test_confirmations_csv_has_the_ledger_and_who_sent_it(session: Session, people: Users) -> None:
    record = confirmed(session, people, people.a_submitter, **{"customer.tenantId": TENANT})
    body = text_of(session, people.reviewer, ExportKind.CONFIRMATIONS, ExportFormat.CSV)
    rows = csv_rows(body)
    assert list(rows[0]) == list(export.columns(ExportKind.CONFIRMATIONS))
    (row,) = rows
    assert row["customer_tenant_id"] == TENANT
    assert row["record_id"] == record.public_id
    assert row["approved_by"] == people.reviewer.email  # R9
    assert row["submitted_by"] == people.a_submitter.email
    assert row["reseller"] == "Reseller A"
    assert row["state"] == "active"
    assert row["partner_center_outcome"] == "confirmed by the portal"
    assert row["template_id"] == record.template_id
    assert row["contact_email"] == record.contact_email


def test_cells_that_a_spreadsheet_would_run_are_quoted(session: Session, people: Users) -> None:
    submit(
        session,
        people.a_submitter,
        **{
            "customer.companyName": '=HYPERLINK("http://evil")',
            "contact.firstName": "@SUM(A1)",
            "contact.lastName": "-2+3",
        },
    )
    rows = csv_rows(text_of(session, people.reviewer, ExportKind.RECORDS, ExportFormat.CSV))
    (row,) = rows
    assert row["customer_name"] == '\'=HYPERLINK("http://evil")'
    assert row["contact_first_name"] == "'@SUM(A1)"
    assert row["contact_last_name"] == "'-2+3"
    assert row["contact_phone"].startswith("'+82")


def test_records_json_is_one_array_with_history(session: Session, people: Users) -> None:
    record = submit(session, people.a_submitter)
    review.return_for_correction(session, actor=people.reviewer, record=record, reason="Check")
    session.commit()
    body = text_of(session, people.reviewer, ExportKind.RECORDS, ExportFormat.JSON)
    items = json.loads(body)
    assert isinstance(items, list)
    (item,) = items
    assert list(item) == list(export.columns(ExportKind.RECORDS))
    assert item["record_id"] == record.public_id
    assert [h["action"] for h in item["history"]] == [
        "acceptance.submitted",
        "acceptance.returned",
    ]
    assert item["history"][1]["reason"] == "Check"
    assert item["history"][1]["actor"] == people.reviewer.email
    assert datetime.fromisoformat(item["created_at"]).tzinfo is not None
    assert (
        json.loads(text_of(session, people.reviewer, ExportKind.CONFIRMATIONS, ExportFormat.JSON))
        == []
    )


def test_filters_narrow_both_exports(session: Session, people: Users) -> None:
    a = confirmed(session, people, people.a_submitter, **{"customer.tenantId": TENANT})
    b = confirmed(session, people, people.b_submitter)
    plain = submit(session, people.a_submitter)
    old = session.get_one(AcceptanceRecord, plain.id)
    old.created_at = datetime(2025, 1, 1, tzinfo=UTC)
    session.add(old)
    session.commit()
    reviewer = people.reviewer

    def ids(kind: ExportKind, **f: Any) -> set[str]:
        rows = csv_rows(text_of(session, reviewer, kind, ExportFormat.CSV, **f))
        return {r["record_id"] for r in rows}

    assert ids(ExportKind.RECORDS) == {a.public_id, b.public_id, plain.public_id}
    assert ids(ExportKind.RECORDS, tenant_id=TENANT) == {a.public_id}
    assert ids(ExportKind.RECORDS, reseller_id=people.b_submitter.organization_id) == {b.public_id}
    assert ids(ExportKind.RECORDS, statuses=("submitted",)) == {plain.public_id}
    assert ids(ExportKind.RECORDS, until=datetime(2025, 1, 2, tzinfo=UTC)) == {plain.public_id}
    assert ids(ExportKind.RECORDS, since=datetime(2025, 1, 2, tzinfo=UTC)) == {
        a.public_id,
        b.public_id,
    }
    assert ids(ExportKind.RECORDS, template_id="nope") == set()
    assert ids(ExportKind.CONFIRMATIONS, reseller_id=people.a_submitter.organization_id) == {
        a.public_id
    }
    assert ids(ExportKind.CONFIRMATIONS, statuses=("superseded",)) == set()
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    assert ids(ExportKind.CONFIRMATIONS, since=tomorrow) == set()


def test_a_reseller_exports_only_its_own_part(session: Session, people: Users) -> None:
    ours = confirmed(
        session,
        people,
        people.a_submitter,
        **{"customer.tenantId": TENANT, "customer.companyName": "Shared as A"},
    )
    theirs = submit(
        session,
        people.b_submitter,
        **{
            "customer.tenantId": TENANT,
            "customer.companyName": "Shared as B",
            "contact.email": "bella@b-customer.example",
        },
    )
    # B withdraws the shared customer: A's record is revoked by "another reseller".
    b_customer = session.get_one(AcceptanceRecord, theirs.id).customer_id
    record_withdrawal(
        session,
        actor=people.b_submitter,
        customer=session.get_one(Customer, b_customer),
        reason="Left",
    )
    session.commit()
    a = people.a_submitter
    everything = "".join(
        text_of(session, a, kind, fmt) for kind in ExportKind for fmt in ExportFormat
    )
    for marker in (theirs.public_id, "Shared as B", "bella@b-customer.example", "@b.test"):
        assert marker not in everything
    assert ours.public_id in everything
    assert "Shared as A" in everything
    records = json.loads(text_of(session, a, ExportKind.RECORDS, ExportFormat.JSON))
    assert [r["record_id"] for r in records] == [ours.public_id]
    assert records[0]["history"][-1]["actor"] == "another reseller"
    confirmations = json.loads(text_of(session, a, ExportKind.CONFIRMATIONS, ExportFormat.JSON))
    assert [c["state"] for c in confirmations] == ["revoked"]


def test_batches_continue_by_key(
    session: Session, people: Users, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = [submit(session, people.a_submitter).public_id for _ in range(5)]
    monkeypatch.setattr(export, "BATCH", 2)
    rows = list(export.record_rows(session, actor=people.reviewer, filters=ExportFilter()))
    assert [r["record_id"] for r in rows] == made
    assert people.reviewer.email  # the acting user stays usable after the batches


def test_evidence_files_are_listed_with_their_hash(session: Session, people: Users) -> None:
    """R3: each record's signed acceptance is listed in both exports (removed files left out)."""
    import hashlib

    from app.services import evidence

    pdf = b"%PDF-1.4\n% signed\n%%EOF\n"
    record = submit(session, people.a_submitter)
    evidence.attach(
        session, actor=people.a_submitter, record=record, filename="signed.pdf", content=pdf
    )
    review.approve(session, actor=people.reviewer, record=record)
    session.commit()
    bare = submit(session, people.a_submitter)
    session.commit()

    rows = {
        r["record_id"]: r
        for r in csv_rows(text_of(session, people.reviewer, ExportKind.RECORDS, ExportFormat.CSV))
    }
    listed = rows[record.public_id]
    assert listed["evidence_files"] == "1"
    assert "signed.pdf (application/pdf" in listed["evidence"]
    assert hashlib.sha256(pdf).hexdigest() in listed["evidence"]
    assert rows[bare.public_id]["evidence"] == ""
    assert list(listed)[-2:] == ["evidence_files", "evidence"]


def test_taking_an_export_is_audited_and_bad_filters_refused(
    session: Session, people: Users
) -> None:
    filters = ExportFilter(tenant_id=TENANT, statuses=("active",))
    export.record_export(
        session,
        actor=people.a_submitter,
        kind=ExportKind.CONFIRMATIONS,
        fmt=ExportFormat.JSON,
        filters=filters,
    )
    session.commit()
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "export.taken")).one()
    assert event.actor_label == people.a_submitter.email
    assert event.organization_id == people.a_submitter.organization_id
    assert event.subject_id == "confirmations"
    assert event.details == {
        "format": "json",
        "filters": {"tenant_id": TENANT, "statuses": ["active"]},
    }
    with pytest.raises(ValidationFailed) as refused:
        export.record_export(
            session,
            actor=people.reviewer,
            kind=ExportKind.RECORDS,
            fmt=ExportFormat.CSV,
            filters=ExportFilter(
                statuses=("active",),
                since=datetime(2026, 3, 2, tzinfo=UTC),
                until=datetime(2026, 3, 1, tzinfo=UTC),
            ),
        )
    assert set(refused.value.errors) == {"status", "until"}
