"""May this customer transact? (R10, R12, R13, R14): the API answer and the customer-page badge."""

from __future__ import annotations

import html
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlmodel import Session

from app.models import AcceptanceRecord, Customer, User
from app.services import agreements
from app.services.ledger import record_withdrawal
from app.services.users import create_api_token
from tests.support import Users, approved, new_tenant, submit
from tests.web.states import awaiting, confirmed

OLD_TEMPLATE = "117a77b0-9360-443b-8795-c6dedc750cf9"
NEW_TEMPLATE = "22222222-3333-4444-8555-666666666666"
RENEWALS = "Automatic renewals are not affected."
Headers = dict[str, str]


def bearer(db: Session, user: User) -> Headers:
    _row, secret = create_api_token(db, actor=None, user=user, label="tests")
    db.commit()
    return {"Authorization": f"Bearer {secret}"}


def tenant_of(db: Session, record: AcceptanceRecord) -> str:
    return db.get_one(Customer, record.customer_id).tenant_id


def status(client: FlaskClient, headers: Headers, tenant: str, expect: int = 200) -> Any:
    response = client.get(f"/api/v1/customers/{tenant}/transact-status", headers=headers)
    assert response.status_code == expect, response.get_json()
    return response.get_json()


def new_version(db: Session) -> None:
    agreements.apply_metadata(
        db,
        agreement_type="MicrosoftCustomerAgreement",
        items=[
            agreements.TemplateInfo("MicrosoftCustomerAgreement", OLD_TEMPLATE, None, 1),
            agreements.TemplateInfo("MicrosoftCustomerAgreement", NEW_TEMPLATE, None, 2),
        ],
    )
    db.commit()


@pytest.fixture
def as_a(db: Session, users: Users) -> Headers:
    return bearer(db, users.a_submitter)


@pytest.mark.parametrize("source", ["sent", "upstream", "direct"])
def test_a_confirmation_on_the_current_version_allows_transacting(
    db: Session, users: Users, client: FlaskClient, as_a: Headers, source: str
) -> None:
    record = approved(db, users.a_submitter, users.reviewer)
    confirmed(db, record, source=source)
    body = status(client, as_a, tenant_of(db, record))
    assert body["mayTransact"] is True
    assert RENEWALS in body["reason"]
    assert body["agreement"] == {
        "type": "MicrosoftCustomerAgreement",
        "templateId": OLD_TEMPLATE,
        "dateAgreed": "2026-03-02",
        "source": source,
    }
    assert body["pending"] is None


def test_a_confirmation_on_an_older_version_only_does_not(
    db: Session, users: Users, client: FlaskClient, as_a: Headers
) -> None:
    record = approved(db, users.a_submitter, users.reviewer)
    confirmed(db, record)
    new_version(db)
    body = status(client, as_a, tenant_of(db, record))
    assert body["mayTransact"] is False
    assert "older version" in body["reason"]
    assert NEW_TEMPLATE in body["reason"]
    assert RENEWALS in body["reason"]
    assert body["agreement"]["templateId"] == OLD_TEMPLATE


def test_no_confirmation_yet(db: Session, users: Users, client: FlaskClient, as_a: Headers) -> None:
    record = submit(db, users.a_submitter)
    body = status(client, as_a, tenant_of(db, record))
    assert body == {
        "mayTransact": False,
        "reason": body["reason"],
        "agreement": None,
        "pending": None,
    }
    assert "No confirmation" in body["reason"]
    assert RENEWALS in body["reason"]


def test_a_withdrawn_customer_may_not(
    db: Session, users: Users, client: FlaskClient, as_a: Headers
) -> None:
    record = approved(db, users.a_submitter, users.reviewer)
    confirmed(db, record)
    customer = db.get_one(Customer, record.customer_id)
    record_withdrawal(db, actor=users.a_submitter, customer=customer, reason="Left us")
    db.commit()
    body = status(client, as_a, customer.tenant_id)
    assert body["mayTransact"] is False
    assert "withdrew" in body["reason"]
    assert body["agreement"] is None


def test_a_national_cloud_customer_may_not(
    db: Session, users: Users, client: FlaskClient, as_a: Headers
) -> None:
    record = submit(db, users.a_submitter)
    customer = db.get_one(Customer, record.customer_id)
    customer.cloud = "usgov"
    db.add(customer)
    db.commit()
    body = status(client, as_a, customer.tenant_id)
    assert body["mayTransact"] is False
    assert "US Government" in body["reason"]
    assert "public cloud" in body["reason"]


def test_a_pending_attestation_is_reported_with_its_link_to_its_own_reseller(
    db: Session, users: Users, client: FlaskClient, as_a: Headers
) -> None:
    tenant = new_tenant()
    record = approved(db, users.a_submitter, users.reviewer, **{"customer.tenantId": tenant})
    submit(db, users.b_submitter, **{"customer.tenantId": tenant})
    attestation = awaiting(db, record, issued=timedelta(hours=3))
    body = status(client, as_a, tenant)
    assert body["mayTransact"] is False
    assert body["pending"]["status"] == "awaiting_customer"
    assert body["pending"]["acceptanceUrl"] == attestation.acceptance_url
    assert body["pending"]["since"].endswith("Z")
    # Reseller B serves the customer too: it learns an acceptance is under way, not A's link.
    theirs = status(client, bearer(db, users.b_submitter), tenant)
    assert theirs["pending"]["status"] == "awaiting_customer"
    assert theirs["pending"]["acceptanceUrl"] is None


def test_an_approved_record_is_pending_before_any_link(
    db: Session, users: Users, client: FlaskClient, as_a: Headers
) -> None:
    record = approved(db, users.a_submitter, users.reviewer)
    body = status(client, as_a, tenant_of(db, record))
    assert body["pending"]["status"] == "approved"
    assert body["pending"]["acceptanceUrl"] is None


def test_another_resellers_customer_answers_like_an_unknown_one(
    db: Session, users: Users, client: FlaskClient, as_a: Headers
) -> None:
    theirs = submit(db, users.b_submitter)
    other = client.get(f"/api/v1/customers/{tenant_of(db, theirs)}/transact-status", headers=as_a)
    unknown = client.get(f"/api/v1/customers/{new_tenant()}/transact-status", headers=as_a)
    assert other.status_code == unknown.status_code == 404
    assert other.get_data() == unknown.get_data()


def test_the_provider_asks_about_any_customer(
    db: Session, users: Users, client: FlaskClient
) -> None:
    theirs = approved(db, users.b_submitter, users.reviewer)
    attestation = awaiting(db, theirs)
    body = status(client, bearer(db, users.reviewer), tenant_of(db, theirs).upper())
    assert body["pending"]["acceptanceUrl"] == attestation.acceptance_url


def test_a_tenant_id_that_is_not_a_guid_is_422(client: FlaskClient, as_a: Headers) -> None:
    body = status(client, as_a, "not-a-guid", expect=422)
    assert body["errors"] == {"tenantId": ["Use the customer's tenant ID (a GUID)."]}


def test_without_a_token_it_is_401(client: FlaskClient) -> None:
    response = client.get(f"/api/v1/customers/{new_tenant()}/transact-status")
    assert response.status_code == 401


def test_the_customer_pages_show_the_same_answer_as_a_badge(
    db: Session, users: Users, client_a: FlaskClient, reviewer: FlaskClient
) -> None:
    record = approved(db, users.a_submitter, users.reviewer)
    before = html.unescape(client_a.get(f"/reseller/customers/{record.customer_id}").text)
    assert "May not transact" in before
    assert RENEWALS in before
    confirmed(db, record)
    for browser, url in (
        (client_a, f"/reseller/customers/{record.customer_id}"),
        (reviewer, f"/review/customers/{record.customer_id}"),
    ):
        text = html.unescape(browser.get(url).get_data(as_text=True))
        assert 'class="badge badge-good">May transact<' in text, url
        assert "new purchases and seat changes may go ahead" in text
