"""The export pages: the form, the download (streamed, audited), refusals with field errors."""

from __future__ import annotations

import csv
import io
import json

from flask.testing import FlaskClient
from sqlmodel import Session, select

from app.models import AuditEvent
from tests.support import Users, submit

TENANT = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"


def test_provider_downloads_csv_with_bom_and_the_export_is_audited(
    db: Session, users: Users, reviewer: FlaskClient
) -> None:
    a = submit(db, users.a_submitter, **{"customer.tenantId": TENANT})
    b = submit(db, users.b_submitter)
    response = reviewer.post(
        "/review/export",
        data={"kind": "records", "format": "csv", "tenant": TENANT.upper(), "since": "2020-01-01"},
    )
    assert response.status_code == 200
    assert response.content_type == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="records-')
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert [r["record_id"] for r in rows] == [a.public_id]
    assert b.public_id not in body.decode()
    db.expire_all()
    event = db.exec(select(AuditEvent).where(AuditEvent.action == "export.taken")).one()
    assert event.actor_label == users.reviewer.email
    assert event.details["format"] == "csv"
    assert event.details["filters"]["tenant_id"] == TENANT
    # Days are the viewer's (an English browser without a saved zone: UTC).
    assert event.details["filters"]["since"] == "2020-01-01T00:00:00+00:00"


def test_reseller_downloads_json_of_its_own_records(
    db: Session, users: Users, client_a: FlaskClient
) -> None:
    ours = submit(db, users.a_submitter)
    theirs = submit(db, users.b_submitter)
    response = client_a.post("/reseller/export", data={"kind": "records", "format": "json"})
    assert response.status_code == 200
    assert response.content_type == "application/json"
    items = json.loads(response.get_data(as_text=True))
    assert [i["record_id"] for i in items] == [ours.public_id]
    assert theirs.public_id not in response.get_data(as_text=True)


def test_bad_filters_are_refused_with_field_errors_and_nothing_is_audited(
    db: Session, users: Users, reviewer: FlaskClient, client_a: FlaskClient
) -> None:
    cases = [
        (reviewer, "/review/export", {"kind": "records", "format": "csv", "since": "3/2/2026"}),
        (reviewer, "/review/export", {"kind": "records", "format": "csv", "tenant": "abc"}),
        (reviewer, "/review/export", {"kind": "records", "format": "xml"}),
        (
            reviewer,
            "/review/export",
            {"kind": "records", "format": "csv", "since": "2026-03-02", "until": "2026-03-01"},
        ),
        (reviewer, "/review/export", {"kind": "records", "format": "csv", "status": "active"}),
        # A reseller cannot name another reseller (the field offers none).
        (
            client_a,
            "/reseller/export",
            {
                "kind": "records",
                "format": "csv",
                "reseller": str(users.b_submitter.organization_id),
            },
        ),
    ]
    for client, url, data in cases:
        response = client.post(url, data=data)
        assert response.status_code == 422, data
        page = response.get_data(as_text=True)
        assert "error-summary" in page, data
    db.expire_all()
    assert db.exec(select(AuditEvent).where(AuditEvent.action == "export.taken")).all() == []


def test_the_form_is_prefilled_from_a_lists_filters(reviewer: FlaskClient) -> None:
    page = reviewer.get(f"/review/export?status=failed&tenant={TENANT}").get_data(as_text=True)
    assert f'value="{TENANT}"' in page
    assert '<option selected value="failed">' in page
    assert 'checked id="kind-1" name="kind" type="radio" value="records"' in page
