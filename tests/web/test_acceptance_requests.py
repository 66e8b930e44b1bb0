"""Requests for acceptance: the provider admin asks, every reseller serving the customer sees it
on its to-do list, and the request closes when the customer is confirmed (issue item 5)."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, col, select

from app.models import (
    AcceptanceRecord,
    AcceptanceRequest,
    AgreementTemplate,
    AuditEvent,
    Customer,
    utcnow,
)
from app.services import agreements
from app.services import requests as asking
from app.services.errors import PermissionDenied, ValidationFailed
from tests.support import Users, approved, new_tenant, submit
from tests.web.conftest import signed_in
from tests.web.states import confirmed

OLD_TEMPLATE = "117a77b0-9360-443b-8795-c6dedc750cf9"
NEW_TEMPLATE = "22222222-3333-4444-8555-666666666666"


@pytest.fixture
def admin(app: Flask, users: Users) -> FlaskClient:
    """The provider admin, signed in."""
    return signed_in(app, users.provider_admin.email)


def shared_customer(db: Session, users: Users, company: str = "Shared Co") -> AcceptanceRecord:
    """A customer served by both resellers; returns Reseller A's record."""
    tenant = new_tenant()
    record = submit(
        db, users.a_submitter, **{"customer.tenantId": tenant, "customer.companyName": company}
    )
    submit(db, users.b_submitter, **{"customer.tenantId": tenant, "customer.companyName": company})
    return record


def new_version(db: Session) -> None:
    """Partner Center publishes a newer Customer Agreement version."""
    agreements.apply_metadata(
        db,
        agreement_type="MicrosoftCustomerAgreement",
        items=[
            agreements.TemplateInfo("MicrosoftCustomerAgreement", OLD_TEMPLATE, None, 1),
            agreements.TemplateInfo("MicrosoftCustomerAgreement", NEW_TEMPLATE, None, 2),
        ],
    )
    db.commit()


def open_requests(db: Session) -> list[AcceptanceRequest]:
    db.expire_all()
    return list(
        db.exec(
            select(AcceptanceRequest)
            .where(col(AcceptanceRequest.closed_at).is_(None))
            .order_by(col(AcceptanceRequest.id))
        )
    )


def test_asking_by_tenant_id_creates_one_request_per_serving_reseller(
    db: Session, users: Users, admin: FlaskClient
) -> None:
    record = shared_customer(db, users)
    tenant = db.get_one(Customer, record.customer_id).tenant_id
    unknown = new_tenant()
    response = admin.post(
        "/admin/acceptance-requests",
        data={
            "selection": "tenants",
            "tenant_ids": f"{tenant.upper()}\n{unknown}",
            "message": "Q3",
        },
        follow_redirects=True,
    )
    text = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 200
    assert "Asked 2 reseller(s) for 1 customer(s)" in text
    assert f"No customer has these tenant IDs: {unknown}" in text
    made = open_requests(db)
    assert {r.reseller_id for r in made} == {
        users.a_submitter.organization_id,
        users.b_submitter.organization_id,
    }
    assert {(r.customer_id, r.template_id, r.message) for r in made} == {
        (record.customer_id, OLD_TEMPLATE, "Q3")
    }
    assert all(r.requested_by_id == users.provider_admin.id for r in made)
    events = db.exec(
        select(AuditEvent).where(AuditEvent.action == "acceptance_request.created")
    ).all()
    assert len(events) == 2

    # Asking again adds nothing: a pair has one open request at most.
    again = asking.ask_for_acceptance(db, actor=users.provider_admin, tenant_ids=[tenant])
    assert (again.created, again.already_open) == ([], 2)
    assert len(open_requests(db)) == 2
    assert "Shared Co" in html.unescape(admin.get("/admin/acceptance-requests").get_data(True))


def test_every_outdated_customer_at_once(db: Session, users: Users) -> None:
    outdated = shared_customer(db, users, "Old Co")
    confirmed(db, outdated)
    current = submit(db, users.a_submitter, **{"customer.companyName": "Current Co"})
    new_version(db)
    confirmed(db, current, template_id=NEW_TEMPLATE)
    never = submit(db, users.a_submitter, **{"customer.companyName": "Never Co"})

    result = asking.ask_for_acceptance(
        db, actor=users.provider_admin, all_outdated=True, message=None
    )
    db.commit()
    assert {(r.customer_id, r.template_id) for r in result.created} == {
        (outdated.customer_id, NEW_TEMPLATE)
    }
    assert len(result.created) == 2  # both resellers serve it
    assert never.customer_id not in {r.customer_id for r in open_requests(db)}


def test_customers_already_current_or_in_a_national_cloud_are_reported(
    db: Session, users: Users
) -> None:
    current = submit(db, users.a_submitter)
    confirmed(db, current)
    usgov = db.get_one(Customer, submit(db, users.a_submitter).customer_id)
    usgov.cloud = "usgov"
    db.add(usgov)
    db.commit()
    tenants = [db.get_one(Customer, current.customer_id).tenant_id, usgov.tenant_id]
    result = asking.ask_for_acceptance(db, actor=users.provider_admin, tenant_ids=tenants)
    assert result.created == []
    assert result.already_current == [tenants[0]]
    assert result.national_cloud == [tenants[1]]


def test_only_a_provider_admin_asks(db: Session, users: Users) -> None:
    for who in (users.reviewer, users.a_admin):
        with pytest.raises(PermissionDenied):
            asking.ask_for_acceptance(db, actor=who, all_outdated=True)


def test_bad_tenant_ids_and_an_empty_choice_are_refused_with_a_message(
    db: Session, users: Users, admin: FlaskClient
) -> None:
    response = admin.post(
        "/admin/acceptance-requests",
        data={"selection": "tenants", "tenant_ids": "not-a-guid, 1234", "message": ""},
    )
    assert response.status_code == 422
    assert "These are not tenant IDs (GUIDs): not-a-guid, 1234." in html.unescape(
        response.get_data(as_text=True)
    )
    empty = admin.post("/admin/acceptance-requests", data={"selection": "tenants"})
    assert empty.status_code == 422
    assert "Paste at least one tenant ID" in html.unescape(empty.get_data(as_text=True))
    assert open_requests(db) == []
    with pytest.raises(ValidationFailed):
        asking.parse_tenant_ids("{3F2504E0-4F89-41D3-9A0C-0305E82C3301} nope")


def test_each_reseller_sees_its_requests_on_its_todo_with_a_prefilled_link(
    app: Flask, db: Session, users: Users, client_a: FlaskClient, client_b: FlaskClient
) -> None:
    mine = shared_customer(db, users, "Shared Co")
    only_b = submit(db, users.b_submitter, **{"customer.companyName": "Only B Co"})
    tenants = [db.get_one(Customer, c).tenant_id for c in (mine.customer_id, only_b.customer_id)]
    asking.ask_for_acceptance(
        db, actor=users.provider_admin, tenant_ids=tenants, message="Before renewal"
    )
    db.commit()

    a_todo = html.unescape(client_a.get("/reseller/todo").get_data(as_text=True))
    requests_a = a_todo.split('id="requests"', 1)[1].split("</table>", 1)[0]
    assert "Shared Co" in requests_a
    assert "Before renewal" in requests_a
    assert f'href="/reseller/acceptances/new?customer={mine.customer_id}"' in requests_a
    assert "Only B Co" not in a_todo
    b_todo = html.unescape(client_b.get("/reseller/todo").get_data(as_text=True))
    assert "Shared Co" in b_todo
    assert "Only B Co" in b_todo

    prefilled = html.unescape(
        client_a.get(f"/reseller/acceptances/new?customer={mine.customer_id}").get_data(True)
    )
    assert f'value="{tenants[0]}"' in prefilled

    assert [r.customer_id for r in asking.open_requests(db, actor=users.a_submitter)] == [
        mine.customer_id
    ]
    assert len(asking.open_requests(db, actor=users.reviewer)) == 3


def test_a_confirmation_closes_the_customers_requests(db: Session, users: Users) -> None:
    record = shared_customer(db, users)
    other = submit(db, users.a_submitter)
    tenants = [db.get_one(Customer, c).tenant_id for c in (record.customer_id, other.customer_id)]
    asking.ask_for_acceptance(db, actor=users.provider_admin, tenant_ids=tenants)
    db.commit()
    now = utcnow()
    closed = asking.close_requests_for_customer(
        db, customer_id=record.customer_id, template_id=OLD_TEMPLATE, now=now
    )
    db.commit()
    assert len(closed) == 2
    assert all(r.closed_at == now and OLD_TEMPLATE in (r.closed_reason or "") for r in closed)
    assert [r.customer_id for r in open_requests(db)] == [other.customer_id]
    assert asking.open_requests(db, actor=users.b_submitter) == []
    events = db.exec(select(AuditEvent).where(AuditEvent.action == "acceptance_request.closed"))
    assert {e.actor_label for e in events} == {"system"}
    # A later request for the same pair is possible again.
    again = asking.ask_for_acceptance(db, actor=users.provider_admin, tenant_ids=tenants[:1])
    assert len(again.created) == 2


def test_a_confirmation_of_an_older_version_leaves_a_newer_request_open(
    db: Session, users: Users
) -> None:
    new_version(db)
    record = approved(db, users.a_submitter, users.reviewer)
    tenant = db.get_one(Customer, record.customer_id).tenant_id
    asking.ask_for_acceptance(db, actor=users.provider_admin, tenant_ids=[tenant])
    db.commit()
    later = utcnow() + timedelta(minutes=1)
    older = asking.close_requests_for_customer(
        db, customer_id=record.customer_id, template_id=OLD_TEMPLATE, now=later
    )
    assert older == []
    newer = asking.close_requests_for_customer(
        db, customer_id=record.customer_id, template_id=NEW_TEMPLATE, now=later
    )
    assert len(newer) == 1
    ranks = {t.template_id: t.version_rank for t in db.exec(select(AgreementTemplate))}
    assert ranks[NEW_TEMPLATE] > ranks[OLD_TEMPLATE]


def test_the_admin_page_is_the_provider_admins(
    admin: FlaskClient, reviewer: FlaskClient, client_a: FlaskClient
) -> None:
    text = html.unescape(admin.get("/admin/acceptance-requests").get_data(as_text=True))
    assert "Every customer confirmed only on an older agreement version" in text
    assert 'href="/admin/acceptance-requests"' in text  # the nav link
    assert reviewer.get("/admin/acceptance-requests").status_code == 403
    assert client_a.get("/admin/acceptance-requests").status_code == 403
