"""The reseller's area: submit, follow, correct and withdraw acceptances; manage customers."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlmodel import Session, col, select
from werkzeug.test import TestResponse

from app.models import (
    AcceptanceRecord,
    AuditEvent,
    Customer,
    CustomerReseller,
    Organization,
    RecordStatus,
)
from app.services import review
from tests.support import Users, new_tenant, submit

TEMPLATE_ID = "117a77b0-9360-443b-8795-c6dedc750cf9"
TENANT = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"


def form(**overrides: str) -> dict[str, str]:
    """The new-acceptance form as a browser posts it."""
    data = {
        "tenant_id": new_tenant(),
        "company_name": "Contoso Korea",
        "domain": "contoso.example",
        "cloud": "public",
        "template_id": TEMPLATE_ID,
        "date_agreed": "2026-03-02",
        "first_name": "Minji",
        "last_name": "Kim",
        "email": "minji.kim@contoso.example",
        "phone": "02-1234-5678",
    }
    data.update(overrides)
    return data


def text(response: TestResponse) -> str:
    """The page with HTML entities decoded (messages contain apostrophes)."""
    return html.unescape(response.get_data(as_text=True))


def count(db: Session, model: type[Any]) -> int:
    db.expire_all()
    return db.exec(select(sa.func.count()).select_from(model)).one()


def record_from(db: Session, response: TestResponse) -> AcceptanceRecord:
    """The record a successful submission redirected to."""
    assert response.status_code == 302, text(response)[:2000]
    match = re.fullmatch(r"/reseller/acceptances/(\w+)", response.headers["Location"])
    assert match, response.headers["Location"]
    db.expire_all()
    return db.exec(select(AcceptanceRecord).where(AcceptanceRecord.public_id == match[1])).one()


def customer_of(db: Session, record: AcceptanceRecord) -> Customer:
    return db.get_one(Customer, record.customer_id)


def test_new_form_shows_the_current_agreement_version(client_a: FlaskClient) -> None:
    response = client_a.get("/reseller/acceptances/new")
    assert response.status_code == 200
    page = text(response)
    assert f'name="template_id" type="hidden" value="{TEMPLATE_ID}"' in page
    assert f'current version <span class="mono">{TEMPLATE_ID}</span>' in page


def test_valid_submission_is_stored_normalised_and_audited(
    db: Session, users: Users, client_a: FlaskClient
) -> None:
    response = client_a.post(
        "/reseller/acceptances/new",
        data=form(tenant_id="{3F2504E0-4F89-41D3-9A0C-0305E82C3301}", phone="02-1234-5678"),
    )
    record = record_from(db, response)
    assert record.status == RecordStatus.SUBMITTED
    assert record.reseller_id == users.a_submitter.organization_id
    assert record.submitted_by_id == users.a_submitter.id
    assert record.source == "web"
    assert record.template_id == TEMPLATE_ID
    assert record.contact_phone == "+82212345678"
    assert record.contact_email == "minji.kim@contoso.example"
    assert record.flags == []
    assert customer_of(db, record).tenant_id == TENANT
    events = db.exec(
        select(AuditEvent)
        .where(AuditEvent.subject_id == record.public_id)
        .where(AuditEvent.action == "acceptance.submitted")
    ).all()
    assert len(events) == 1
    assert events[0].actor_label == "submitter@a.test"

    detail = text(client_a.get(response.headers["Location"]))
    assert "Submitted. The provider will review it" in detail
    assert TENANT in detail
    assert "+82212345678" in detail


def test_invalid_submission_shows_every_message_and_writes_nothing(
    db: Session, client_a: FlaskClient
) -> None:
    before = (count(db, AcceptanceRecord), count(db, Customer), count(db, AuditEvent))
    response = client_a.post(
        "/reseller/acceptances/new",
        data=form(
            tenant_id="not-a-guid",
            company_name="",
            date_agreed="2999-01-01",
            email="not-an-email",
            phone="12345",
        ),
    )
    assert response.status_code == 422
    page = text(response)
    assert "Please correct 5 fields" in page
    for message in (
        "The tenant ID must be a GUID",
        "Enter the company name.",
        "The acceptance date cannot be in the future.",
        "Enter a valid email address",
        "This is not a valid phone number.",
    ):
        assert message in page, message
    # Each message sits next to its field.
    assert re.search(r'id="tenant_id-error">The tenant ID must be a GUID', page)
    assert re.search(r'id="email-error">Enter a valid email address', page)
    assert 'value="not-an-email"' in page  # what was typed is kept
    assert (count(db, AcceptanceRecord), count(db, Customer), count(db, AuditEvent)) == before


def test_national_cloud_is_refused_with_the_reason_and_writes_nothing(
    db: Session, client_a: FlaskClient
) -> None:
    before = (count(db, AcceptanceRecord), count(db, Customer), count(db, CustomerReseller))
    response = client_a.post("/reseller/acceptances/new", data=form(cloud="usgov"))
    assert response.status_code == 422
    assert "Customers in Microsoft Cloud for US Government cannot be confirmed" in text(response)
    after = (count(db, AcceptanceRecord), count(db, Customer), count(db, CustomerReseller))
    assert after == before


@pytest.fixture
def a_domain(db: Session, users: Users) -> str:
    """A staff domain of reseller A that email validation accepts (`.test` is special-use and
    refused as a contact address, so the seeded `a.test` cannot be typed in)."""
    org = db.get_one(Organization, users.a_submitter.organization_id)
    org.email_domains = [*org.email_domains, "reseller-a.example"]
    db.add(org)
    db.commit()
    return "reseller-a.example"


@pytest.mark.parametrize(
    "email",
    ["jane@reseller-a.example", "jane@sales.reseller-a.example", "Jane@Reseller-A.EXAMPLE"],
)
def test_contact_at_the_resellers_own_domain_is_flagged(
    db: Session, client_a: FlaskClient, a_domain: str, email: str
) -> None:
    response = client_a.post("/reseller/acceptances/new", data=form(email=email))
    record = record_from(db, response)
    assert record.flags == ["contact_at_reseller_domain"]
    detail = text(client_a.get(response.headers["Location"]))
    assert "⚑ Contact at reseller's domain" in detail


def test_contact_at_another_domain_is_not_flagged(
    db: Session, client_a: FlaskClient, a_domain: str
) -> None:
    response = client_a.post(
        "/reseller/acceptances/new", data=form(email="jane@reseller-b.example")
    )
    record = record_from(db, response)
    assert record.flags == []
    assert "Contact at reseller's domain" not in text(client_a.get(response.headers["Location"]))


def test_list_shows_own_records_and_filters_by_status(
    db: Session, users: Users, client_a: FlaskClient
) -> None:
    submit(db, users.a_submitter, **{"contact.lastName": "Alpha"})
    returned = submit(db, users.a_submitter, **{"contact.lastName": "Bravo"})
    review.return_for_correction(db, actor=users.reviewer, record=returned, reason="Fix it")
    db.commit()
    submit(db, users.b_submitter, **{"contact.lastName": "Charlie"})

    everything = text(client_a.get("/reseller/acceptances"))
    assert "Minji Alpha" in everything
    assert "Minji Bravo" in everything
    assert "Minji Charlie" not in everything

    only_returned = text(client_a.get("/reseller/acceptances?status=returned"))
    assert "Minji Bravo" in only_returned
    assert "Minji Alpha" not in only_returned

    only_submitted = text(client_a.get("/reseller/acceptances?status=submitted"))
    assert "Minji Alpha" in only_submitted
    assert "Minji Bravo" not in only_submitted
    assert "Minji Charlie" not in only_submitted


def test_detail_shows_the_history_with_actors_and_reasons(
    db: Session, users: Users, client_a: FlaskClient
) -> None:
    record = submit(db, users.a_submitter)
    review.return_for_correction(
        db, actor=users.reviewer, record=record, reason="The date looks wrong"
    )
    db.commit()
    page = text(client_a.get(f"/reseller/acceptances/{record.public_id}"))
    timeline = page[page.index('<ol class="timeline">') :]
    assert re.search(r"<strong>submitted</strong>\s+by submitter@a.test", timeline)
    assert re.search(r"<strong>returned</strong>\s+by reviewer@provider.test", timeline)
    assert "The date looks wrong" in timeline
    assert timeline.index("submitted") < timeline.index("returned")


def test_edit_of_a_record_not_returned_redirects_with_a_message(
    db: Session, users: Users, client_a: FlaskClient
) -> None:
    record = submit(db, users.a_submitter)
    url = f"/reseller/acceptances/{record.public_id}"
    response = client_a.get(f"{url}/edit")
    assert response.status_code == 302
    assert response.headers["Location"] == url
    page = text(client_a.get(url))
    assert "Only a record returned for correction can be edited." in page

    response = client_a.post(f"{url}/edit", data=form(email="changed@contoso.example"))
    assert response.headers["Location"] == url
    db.expire_all()
    assert record.contact_email == "minji.kim@contoso.example"
    assert record.status == RecordStatus.SUBMITTED


def test_returned_record_is_corrected_and_resubmitted(
    db: Session, users: Users, client_a: FlaskClient
) -> None:
    record = submit(db, users.a_submitter, **{"customer.tenantId": TENANT})
    review.return_for_correction(db, actor=users.reviewer, record=record, reason="Wrong email")
    db.commit()
    url = f"/reseller/acceptances/{record.public_id}"

    edit = text(client_a.get(f"{url}/edit"))
    assert "Wrong email" in edit
    assert 'value="minji.kim@contoso.example"' in edit
    assert f'value="{TENANT}"' in edit

    response = client_a.post(
        f"{url}/edit", data=form(tenant_id=TENANT, email="minji.park@contoso.example")
    )
    assert response.status_code == 302
    assert response.headers["Location"] == url
    db.expire_all()
    assert record.status == RecordStatus.SUBMITTED
    assert record.status_reason is None
    assert record.contact_email == "minji.park@contoso.example"
    actions = [
        e.action
        for e in db.exec(
            select(AuditEvent)
            .where(AuditEvent.subject_id == record.public_id)
            .order_by(col(AuditEvent.id))
        )
    ]
    assert actions[-1] == "acceptance.resubmitted"
    assert "Corrected and sent back for review." in text(client_a.get(url))


def test_invalid_correction_keeps_the_record_returned(
    db: Session, users: Users, client_a: FlaskClient
) -> None:
    record = submit(db, users.a_submitter)
    review.return_for_correction(db, actor=users.reviewer, record=record, reason="Wrong email")
    db.commit()
    response = client_a.post(
        f"/reseller/acceptances/{record.public_id}/edit", data=form(email="still wrong")
    )
    assert response.status_code == 422
    assert "Enter a valid email address" in text(response)
    db.expire_all()
    assert record.status == RecordStatus.RETURNED
    assert record.contact_email == "minji.kim@contoso.example"


def test_withdraw_a_submitted_record(db: Session, users: Users, client_a: FlaskClient) -> None:
    record = submit(db, users.a_submitter)
    response = client_a.post(
        f"/reseller/acceptances/{record.public_id}/withdraw", data={"reason": "Customer left"}
    )
    assert response.headers["Location"] == f"/reseller/acceptances/{record.public_id}"
    db.expire_all()
    assert record.status == RecordStatus.WITHDRAWN
    assert record.status_reason == "Customer left"


def test_withdraw_an_approved_record_is_refused(
    db: Session, users: Users, client_a: FlaskClient
) -> None:
    record = submit(db, users.a_submitter)
    review.approve(db, actor=users.reviewer, record=record)
    db.commit()
    url = f"/reseller/acceptances/{record.public_id}"
    response = client_a.post(f"{url}/withdraw", data={})
    assert response.headers["Location"] == url
    assert "Only a record waiting for review can be withdrawn" in text(client_a.get(url))
    db.expire_all()
    assert record.status == RecordStatus.APPROVED


def test_customers_page_lists_the_linked_customers(
    db: Session, users: Users, client_a: FlaskClient
) -> None:
    submit(
        db,
        users.a_submitter,
        **{"customer.tenantId": TENANT, "customer.companyName": "Fabrikam Seoul"},
    )
    page = text(client_a.get("/reseller/customers"))
    assert "Fabrikam Seoul" in page
    assert TENANT in page


def test_add_a_customer(db: Session, users: Users, client_a: FlaskClient) -> None:
    response = client_a.post(
        "/reseller/customers/new",
        data={
            "tenant_id": TENANT.upper(),
            "company_name": "Woodgrove",
            "domain": "Woodgrove.Example",
            "cloud": "public",
        },
    )
    assert response.status_code == 302
    db.expire_all()
    customer = db.exec(select(Customer).where(Customer.tenant_id == TENANT)).one()
    assert response.headers["Location"] == f"/reseller/customers/{customer.id}"
    assert customer.company_name == "Woodgrove"
    assert customer.domain == "woodgrove.example"
    link = db.exec(
        select(CustomerReseller).where(CustomerReseller.customer_id == customer.id)
    ).one()
    assert link.reseller_id == users.a_submitter.organization_id
    assert "Woodgrove" in text(client_a.get("/reseller/customers"))


def test_adding_an_invalid_customer_shows_the_message_and_writes_nothing(
    db: Session, client_a: FlaskClient
) -> None:
    before = count(db, Customer)
    response = client_a.post(
        "/reseller/customers/new",
        data={"tenant_id": "nope", "company_name": "", "domain": "", "cloud": "public"},
    )
    assert response.status_code == 422
    page = text(response)
    assert "The tenant ID must be a GUID" in page
    assert "Enter the company name." in page
    assert count(db, Customer) == before


def test_customer_query_parameter_prefills_the_new_form(
    db: Session, users: Users, client_a: FlaskClient
) -> None:
    record = submit(
        db,
        users.a_submitter,
        **{
            "customer.tenantId": TENANT,
            "customer.companyName": "Tailspin Toys",
            "customer.domain": "tailspin.example",
        },
    )
    page = text(client_a.get(f"/reseller/acceptances/new?customer={record.customer_id}"))
    assert re.search(rf'id="tenant_id"[^>]*value="{TENANT}"', page)
    assert re.search(r'id="company_name"[^>]*value="Tailspin Toys"', page)
    assert re.search(r'id="domain"[^>]*value="tailspin.example"', page)


def test_two_resellers_share_one_customer_but_keep_their_own_names(
    db: Session, client_a: FlaskClient, client_b: FlaskClient
) -> None:
    """R8: one customer row per tenant; each reseller sees the name it entered."""
    first = client_a.post(
        "/reseller/acceptances/new", data=form(tenant_id=TENANT, company_name="Tailspin A")
    )
    second = client_b.post(
        "/reseller/acceptances/new",
        data=form(tenant_id=TENANT.upper(), company_name="Tailspin B", email="b@tailspin.example"),
    )
    record_a, record_b = record_from(db, first), record_from(db, second)
    assert record_a.customer_id == record_b.customer_id
    assert len(db.exec(select(Customer).where(Customer.tenant_id == TENANT)).all()) == 1
    names = {
        link.reseller_id: link.company_name
        for link in db.exec(
            select(CustomerReseller).where(CustomerReseller.customer_id == record_a.customer_id)
        )
    }
    assert names == {record_a.reseller_id: "Tailspin A", record_b.reseller_id: "Tailspin B"}

    page_a = text(client_a.get(first.headers["Location"]))
    page_b = text(client_b.get(second.headers["Location"]))
    assert "<h1>Tailspin A</h1>" in page_a
    assert "Tailspin B" not in page_a
    assert "<h1>Tailspin B</h1>" in page_b
    assert "Tailspin A" not in page_b
    assert "Tailspin B" in text(client_b.get("/reseller/customers"))
    assert "Tailspin A" not in text(client_b.get("/reseller/customers"))
