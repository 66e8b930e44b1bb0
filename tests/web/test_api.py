"""JSON API v1: the contract in DESIGN.md ("Public interfaces"), its errors and its scoping."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlmodel import Session, select

from app.models import (
    AcceptanceRecord,
    AuditEvent,
    Confirmation,
    Customer,
    IdempotencyKey,
    RecordStatus,
    User,
    utcnow,
)
from app.services import review
from app.services.users import create_api_token
from tests.conftest import AppFactory
from tests.support import Users, submission, submit

CURRENT_TEMPLATE = "117a77b0-9360-443b-8795-c6dedc750cf9"
TENANT = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
Headers = dict[str, str]


@pytest.fixture(autouse=True)
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The record ids the API hands to the forwarding worker."""
    seen: list[int] = []

    def publish(record_ids: list[int], *, countdown: float | None = None) -> int:
        seen.extend(record_ids)
        return len(record_ids)

    monkeypatch.setattr("app.web.api.views.enqueue_forwarding", publish)
    return seen


def bearer(db: Session, user: User) -> Headers:
    """A new API token for `user`, committed, as request headers."""
    _row, secret = create_api_token(db, actor=None, user=user, label="tests")
    db.commit()
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def as_a(db: Session, users: Users) -> Headers:
    return bearer(db, users.a_submitter)


@pytest.fixture
def as_b(db: Session, users: Users) -> Headers:
    return bearer(db, users.b_submitter)


@pytest.fixture
def as_reviewer(db: Session, users: Users) -> Headers:
    return bearer(db, users.reviewer)


def count(db: Session, model: type[Any]) -> int:
    db.expire_all()
    return db.exec(select(sa.func.count()).select_from(model)).one()


def counts(db: Session) -> tuple[int, int, int]:
    return count(db, AcceptanceRecord), count(db, Customer), count(db, IdempotencyKey)


def create(client: FlaskClient, headers: Headers, body: Any, **extra: str) -> Any:
    return client.post("/api/v1/acceptances", json=body, headers={**headers, **extra})


# --- creating records ---------------------------------------------------------------------


def test_create_answers_201_with_the_record_and_its_location(
    db: Session, users: Users, client: FlaskClient, as_a: Headers
) -> None:
    body = submission(
        **{
            "customer.tenantId": "{3F2504E0-4F89-41D3-9A0C-0305E82C3301}",
            "contact.phoneNumber": "02-1234-5678",
        }
    )
    response = create(client, as_a, body)
    assert response.status_code == 201, response.get_json()
    record = response.get_json()
    assert response.headers["Location"] == f"/api/v1/acceptances/{record['id']}"
    assert record["status"] == "submitted"
    assert record["statusReason"] is None
    assert record["customer"] == {
        "tenantId": TENANT,
        "companyName": "Contoso Korea",
        "domain": "contoso.example",
        "cloud": "public",
        # Neither given nor known for the seeded reseller: the deployment's region decides
        # (DEFAULT_PHONE_REGION, KR), and the agreement language follows it.
        "country": "KR",
    }
    assert record["language"] == "ko-KR"
    assert "acceptanceUrl" not in record  # only a record waiting for its customer has one
    assert record["agreementType"] == "MicrosoftCustomerAgreement"
    assert record["templateId"] == CURRENT_TEMPLATE
    assert record["dateAgreed"] == "2026-03-02"
    assert record["contact"] == {
        "firstName": "Minji",
        "lastName": "Kim",
        "email": "minji.kim@contoso.example",
        "phoneNumber": "+82212345678",
    }
    assert record["flags"] == []
    assert record["upstream"]["code"] is None
    assert record["upstream"]["confirmation"] is None
    assert [(e["action"], e["actor"]) for e in record["history"]] == [
        ("acceptance.submitted", "submitter@a.test")
    ]

    stored = db.exec(select(AcceptanceRecord).where(AcceptanceRecord.public_id == record["id"]))
    row = stored.one()
    assert row.source == "api"
    assert row.reseller_id == users.a_submitter.organization_id

    again = client.get(response.headers["Location"], headers=as_a)
    assert again.status_code == 200
    assert again.get_json()["id"] == record["id"]
    assert again.get_json()["contact"] == record["contact"]


def test_create_fills_the_defaults(client: FlaskClient, as_a: Headers) -> None:
    body = submission(
        **{
            "customer.cloud": None,
            "customer.domain": None,
            "contact.phoneNumber": None,
            "agreementType": None,
            "templateId": None,
        }
    )
    response = create(client, as_a, body)
    assert response.status_code == 201, response.get_json()
    record = response.get_json()
    assert record["customer"]["cloud"] == "public"
    assert record["customer"]["domain"] is None
    assert record["contact"]["phoneNumber"] is None
    assert record["agreementType"] == "MicrosoftCustomerAgreement"
    assert record["templateId"] == CURRENT_TEMPLATE


def test_create_with_invalid_fields_answers_422_per_field_and_writes_nothing(
    db: Session, client: FlaskClient, as_a: Headers
) -> None:
    before = counts(db)
    body = submission(
        **{
            "customer.tenantId": "not-a-guid",
            "dateAgreed": "2999-01-01",
            "contact.email": "not-an-email",
            "contact.phoneNumber": "12345",
        }
    )
    response = create(client, as_a, body)
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert set(errors) == {
        "customer.tenantId",
        "dateAgreed",
        "contact.email",
        "contact.phoneNumber",
    }
    assert "must be a GUID" in errors["customer.tenantId"][0]
    assert errors["dateAgreed"] == ["The acceptance date cannot be in the future."]
    assert errors["contact.email"][0].startswith("Enter a valid email address")
    assert "not a valid phone number" in errors["contact.phoneNumber"][0]
    assert counts(db) == before


def test_national_cloud_answers_422_and_writes_nothing(
    db: Session, client: FlaskClient, as_a: Headers
) -> None:
    before = (*counts(db), count(db, AuditEvent))
    response = create(client, as_a, submission(**{"customer.cloud": "usgov"}))
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert list(errors) == ["customer.cloud"]
    assert "US Government" in errors["customer.cloud"][0]
    assert (*counts(db), count(db, AuditEvent)) == before


def test_replaced_template_id_answers_422(client: FlaskClient, as_a: Headers) -> None:
    response = create(client, as_a, submission(templateId="00000000-0000-0000-0000-000000000001"))
    assert response.status_code == 422
    assert "current version" in response.get_json()["errors"]["templateId"][0]


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("customer=x", "application/x-www-form-urlencoded"),
        ("{not json", "application/json"),
        ('["a", "list"]', "application/json"),
        (json.dumps(submission()), "text/plain"),
    ],
)
def test_body_that_is_not_a_json_object_answers_422(
    db: Session, client: FlaskClient, as_a: Headers, data: str, content_type: str
) -> None:
    before = counts(db)
    response = client.post(
        "/api/v1/acceptances", data=data, content_type=content_type, headers=as_a
    )
    assert response.status_code == 422
    assert "body" in response.get_json()["errors"]
    assert counts(db) == before


def test_unknown_fields_cannot_set_status_or_reseller(
    db: Session, users: Users, client: FlaskClient, as_a: Headers
) -> None:
    body = {
        **submission(),
        "status": "approved",
        "resellerId": users.b_submitter.organization_id,
        "id": "chosen-by-client",
        "flags": [],
        "approvedBy": users.reviewer.id,
    }
    response = create(client, as_a, body)
    assert response.status_code == 201, response.get_json()
    record = response.get_json()
    assert record["status"] == "submitted"
    assert record["id"] != "chosen-by-client"
    row = db.exec(select(AcceptanceRecord).where(AcceptanceRecord.public_id == record["id"])).one()
    assert row.status == RecordStatus.SUBMITTED
    assert row.reseller_id == users.a_submitter.organization_id
    assert row.approved_by_id is None


# --- idempotency --------------------------------------------------------------------------


def test_repeat_with_the_same_idempotency_key_returns_the_first_response(
    db: Session, client: FlaskClient, as_a: Headers
) -> None:
    body = submission()
    first = create(client, as_a, body, **{"Idempotency-Key": "order-42"})
    assert first.status_code == 201
    before = (*counts(db), count(db, AuditEvent))
    repeat = create(client, as_a, body, **{"Idempotency-Key": "order-42"})
    assert repeat.status_code == first.status_code
    assert repeat.get_json() == first.get_json()
    assert (*counts(db), count(db, AuditEvent)) == before


def test_same_idempotency_key_with_another_body_answers_422(
    db: Session, client: FlaskClient, as_a: Headers
) -> None:
    assert create(client, as_a, submission(), **{"Idempotency-Key": "order-42"}).status_code == 201
    before = counts(db)
    response = create(client, as_a, submission(), **{"Idempotency-Key": "order-42"})
    assert response.status_code == 422
    assert "Idempotency-Key" in response.get_json()["errors"]
    assert counts(db) == before


def test_idempotency_keys_belong_to_their_user(
    db: Session, client: FlaskClient, as_a: Headers, as_b: Headers
) -> None:
    body = submission()
    first = create(client, as_a, body, **{"Idempotency-Key": "shared-key"})
    second = create(client, as_b, body, **{"Idempotency-Key": "shared-key"})
    assert first.status_code == second.status_code == 201
    assert first.get_json()["id"] != second.get_json()["id"]
    assert "Minji" in second.get_json()["contact"]["firstName"]


def test_failed_request_does_not_use_up_the_idempotency_key(
    client: FlaskClient, as_a: Headers
) -> None:
    bad = submission(**{"contact.email": "bad"})
    assert create(client, as_a, bad, **{"Idempotency-Key": "k1"}).status_code == 422
    good = submission()
    assert create(client, as_a, good, **{"Idempotency-Key": "k1"}).status_code == 201


# --- authentication and roles -------------------------------------------------------------


def test_api_needs_no_csrf_token(
    db: Session, make_app: AppFactory, sqlite_url: str, as_a: Headers
) -> None:
    """Bearer tokens, not cookies: the API is exempt from the forms' CSRF protection."""
    protected = make_app(sqlite_url, WTF_CSRF_ENABLED=True)
    response = protected.test_client().post("/api/v1/acceptances", json=submission(), headers=as_a)
    assert response.status_code == 201, response.get_json()


def test_no_token_answers_401(client: FlaskClient) -> None:
    for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer "}):
        response = client.get("/api/v1/acceptances", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert "error" in response.get_json()


def test_wrong_token_answers_401(client: FlaskClient, as_a: Headers) -> None:
    wrong = {"Authorization": as_a["Authorization"][:-2] + "xx"}
    assert client.get("/api/v1/acceptances", headers=wrong).status_code == 401
    assert client.post("/api/v1/acceptances", json=submission(), headers=wrong).status_code == 401


def test_revoked_token_answers_401(db: Session, users: Users, client: FlaskClient) -> None:
    row, secret = create_api_token(db, actor=None, user=users.a_submitter, label="old")
    db.commit()
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/acceptances", headers=headers).status_code == 200
    row.revoked_at = utcnow()
    db.add(row)
    db.commit()
    assert client.get("/api/v1/acceptances", headers=headers).status_code == 401


def test_token_of_a_disabled_user_answers_401(
    db: Session, users: Users, client: FlaskClient
) -> None:
    headers = bearer(db, users.a_admin)
    assert client.get("/api/v1/acceptances", headers=headers).status_code == 200
    users.a_admin.active = False
    db.add(users.a_admin)
    db.commit()
    assert client.get("/api/v1/acceptances", headers=headers).status_code == 401
    assert client.post("/api/v1/acceptances", json=submission(), headers=headers).status_code == 401


def test_provider_cannot_submit(db: Session, client: FlaskClient, as_reviewer: Headers) -> None:
    before = counts(db)
    response = create(client, as_reviewer, submission())
    assert response.status_code == 403
    assert counts(db) == before


@pytest.mark.parametrize("action", ["approve", "reject", "return"])
def test_reseller_cannot_decide(
    db: Session, users: Users, client: FlaskClient, as_a: Headers, action: str
) -> None:
    record = submit(db, users.a_submitter)
    response = client.post(
        f"/api/v1/acceptances/{record.public_id}/{action}", json={"reason": "x"}, headers=as_a
    )
    assert response.status_code == 403
    db.expire_all()
    assert record.status == RecordStatus.SUBMITTED


def test_another_resellers_record_is_404_like_a_missing_one(
    db: Session, users: Users, client: FlaskClient, as_b: Headers
) -> None:
    record = submit(db, users.a_submitter)
    theirs = client.get(f"/api/v1/acceptances/{record.public_id}", headers=as_b)
    missing = client.get("/api/v1/acceptances/0123456789abcdef0123456789abcdef", headers=as_b)
    assert theirs.status_code == missing.status_code == 404
    assert theirs.data == missing.data


def test_provider_deciding_on_a_missing_record_gets_404(
    client: FlaskClient, as_reviewer: Headers
) -> None:
    response = client.post("/api/v1/acceptances/nosuchrecord/approve", headers=as_reviewer)
    assert response.status_code == 404


# --- listing ------------------------------------------------------------------------------


def ids(response: Any) -> set[str]:
    assert response.status_code == 200, response.get_json()
    return {item["id"] for item in response.get_json()["items"]}


def test_list_shows_resellers_their_own_records_and_the_provider_all(
    db: Session,
    users: Users,
    client: FlaskClient,
    as_a: Headers,
    as_b: Headers,
    as_reviewer: Headers,
) -> None:
    a = {submit(db, users.a_submitter).public_id for _ in range(2)}
    b = {submit(db, users.b_submitter).public_id}
    assert ids(client.get("/api/v1/acceptances", headers=as_a)) == a
    assert ids(client.get("/api/v1/acceptances", headers=as_b)) == b
    assert ids(client.get("/api/v1/acceptances", headers=as_reviewer)) == a | b


def test_list_filters_by_status_and_customer_tenant(
    db: Session, users: Users, client: FlaskClient, as_a: Headers, as_reviewer: Headers
) -> None:
    plain = submit(db, users.a_submitter)
    tenanted = submit(db, users.a_submitter, **{"customer.tenantId": TENANT})
    rejected = submit(db, users.a_submitter)
    review.reject(db, actor=users.reviewer, record=rejected, reason="No")
    db.commit()
    other_reseller_same_tenant = submit(db, users.b_submitter, **{"customer.tenantId": TENANT})

    def listed(headers: Headers, query: str) -> set[str]:
        return ids(client.get(f"/api/v1/acceptances?{query}", headers=headers))

    assert listed(as_a, "status=rejected") == {rejected.public_id}
    assert listed(as_a, "status=submitted") == {plain.public_id, tenanted.public_id}
    assert listed(as_a, f"customerTenantId={TENANT}") == {tenanted.public_id}
    assert listed(as_a, f"customerTenantId={TENANT.upper()}") == {tenanted.public_id}
    assert listed(as_reviewer, f"customerTenantId={TENANT}") == {
        tenanted.public_id,
        other_reseller_same_tenant.public_id,
    }
    assert listed(as_a, f"status=rejected&customerTenantId={TENANT}") == set()


def test_cursor_pagination_walks_every_record_exactly_once(
    db: Session, users: Users, client: FlaskClient, as_a: Headers
) -> None:
    created = [submit(db, users.a_submitter).public_id for _ in range(5)]
    submit(db, users.b_submitter)  # another reseller's: never on A's pages
    seen: list[str] = []
    pages = 0
    url = "/api/v1/acceptances?limit=2"
    while True:
        response = client.get(url, headers=as_a)
        assert response.status_code == 200, response.get_json()
        page = response.get_json()
        pages += 1
        assert len(page["items"]) <= 2
        assert "history" not in page["items"][0]
        seen.extend(item["id"] for item in page["items"])
        if page["nextCursor"] is None:
            break
        url = f"/api/v1/acceptances?limit=2&cursor={page['nextCursor']}"
        assert pages < 10
    assert pages == 3
    assert seen == list(reversed(created))  # newest first, each exactly once


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=approvedish", "status"),
        ("status=Submitted", "status"),
        ("customerTenantId=not-a-guid", "customerTenantId"),
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=-1", "limit"),
        ("limit=abc", "limit"),
        ("cursor=not-a-cursor", "cursor"),
        ("cursor=WzEsIDJd", "cursor"),  # valid base64 JSON, but not a (time, id) pair
    ],
)
def test_list_with_invalid_parameters_answers_422(
    client: FlaskClient, as_a: Headers, query: str, field: str
) -> None:
    response = client.get(f"/api/v1/acceptances?{query}", headers=as_a)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"]


# --- decisions ----------------------------------------------------------------------------


def test_approve_answers_200_with_the_approved_record(
    db: Session,
    users: Users,
    client: FlaskClient,
    as_reviewer: Headers,
    enqueued: list[int],
) -> None:
    record = submit(db, users.a_submitter)
    response = client.post(f"/api/v1/acceptances/{record.public_id}/approve", headers=as_reviewer)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["id"] == record.public_id
    assert body["status"] == "approved"
    assert body["approvedAt"] is not None
    assert body["history"][-1]["action"] == "acceptance.approved"
    assert body["history"][-1]["actor"] == "reviewer@provider.test"
    db.expire_all()
    assert record.status == RecordStatus.APPROVED
    assert record.approved_by_id == users.reviewer.id
    assert enqueued == [record.id]


def test_approve_twice_answers_409(
    db: Session,
    users: Users,
    client: FlaskClient,
    as_reviewer: Headers,
    enqueued: list[int],
) -> None:
    record = submit(db, users.a_submitter)
    url = f"/api/v1/acceptances/{record.public_id}/approve"
    assert client.post(url, headers=as_reviewer).status_code == 200
    again = client.post(url, headers=as_reviewer)
    assert again.status_code == 409
    assert "cannot be approved" in again.get_json()["error"]
    assert enqueued == [record.id]


@pytest.mark.parametrize("action", ["reject", "return"])
@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}, {"reason": 42}])
def test_reject_and_return_without_a_reason_answer_422(
    db: Session,
    users: Users,
    client: FlaskClient,
    as_reviewer: Headers,
    action: str,
    body: dict[str, Any],
) -> None:
    record = submit(db, users.a_submitter)
    response = client.post(
        f"/api/v1/acceptances/{record.public_id}/{action}", json=body, headers=as_reviewer
    )
    assert response.status_code == 422
    assert response.get_json()["errors"]["reason"] == ["Give a reason; the reseller will see it."]
    db.expire_all()
    assert record.status == RecordStatus.SUBMITTED


@pytest.mark.parametrize(("action", "status"), [("reject", "rejected"), ("return", "returned")])
def test_reject_and_return_with_a_reason_answer_200(
    db: Session,
    users: Users,
    client: FlaskClient,
    as_reviewer: Headers,
    as_a: Headers,
    enqueued: list[int],
    action: str,
    status: str,
) -> None:
    record = submit(db, users.a_submitter)
    response = client.post(
        f"/api/v1/acceptances/{record.public_id}/{action}",
        json={"reason": "The contact is not at the customer."},
        headers=as_reviewer,
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == status
    assert response.get_json()["statusReason"] == "The contact is not at the customer."
    seen_by_reseller = client.get(f"/api/v1/acceptances/{record.public_id}", headers=as_a)
    assert seen_by_reseller.get_json()["statusReason"] == "The contact is not at the customer."
    assert enqueued == []


def test_reject_of_an_approved_record_answers_409(
    db: Session, users: Users, client: FlaskClient, as_reviewer: Headers
) -> None:
    record = submit(db, users.a_submitter)
    review.approve(db, actor=users.reviewer, record=record)
    db.commit()
    response = client.post(
        f"/api/v1/acceptances/{record.public_id}/reject", json={"reason": "x"}, headers=as_reviewer
    )
    assert response.status_code == 409
    db.expire_all()
    assert record.status == RecordStatus.APPROVED


# --- what a reseller can see --------------------------------------------------------------


def test_record_json_never_shows_another_resellers_contact(
    db: Session,
    users: Users,
    client: FlaskClient,
    as_b: Headers,
    as_reviewer: Headers,
) -> None:
    a_record = submit(
        db,
        users.a_submitter,
        **{
            "customer.tenantId": TENANT,
            "customer.companyName": "Tailspin as A",
            "contact.firstName": "Alice",
            "contact.lastName": "Aardvark",
            "contact.email": "alice.aardvark@tailspin.example",
            "contact.phoneNumber": "+82 2 1111 2222",
        },
    )
    b_record = submit(
        db,
        users.b_submitter,
        **{
            "customer.tenantId": TENANT,
            "customer.companyName": "Tailspin as B",
            "contact.firstName": "Bella",
            "contact.email": "bella@tailspin.example",
        },
    )
    # A's record was confirmed upstream; B's is a duplicate covered by A's confirmation (R8).
    entry = Confirmation(
        customer_id=a_record.customer_id,
        agreement_type=a_record.agreement_type,
        template_id=a_record.template_id,
        date_agreed=date(2026, 3, 2),
        contact_first_name="Alice",
        contact_last_name="Aardvark",
        contact_email="alice.aardvark@tailspin.example",
        contact_phone="+82211112222",
        source="sent",
        record_id=a_record.id,
        approved_by_id=users.reviewer.id,
    )
    db.add(entry)
    db.flush()
    for record, status in ((a_record, "confirmed"), (b_record, "duplicate")):
        record.status = status
        record.confirmation_id = entry.id
        db.add(record)
    db.commit()

    one = client.get(f"/api/v1/acceptances/{b_record.public_id}", headers=as_b)
    many = client.get("/api/v1/acceptances", headers=as_b)
    assert one.status_code == many.status_code == 200
    body = one.get_json()
    assert body["status"] == "duplicate"
    assert body["customer"]["companyName"] == "Tailspin as B"
    assert body["upstream"]["confirmation"]["ownRecord"] is False
    for response in (one, many):
        raw = response.get_data(as_text=True)
        for secret in ("Alice", "Aardvark", "alice.aardvark", "+82211112222", "Tailspin as A"):
            assert secret not in raw, secret

    # The provider sees the covering confirmation is A's own record.
    provider_view = client.get(f"/api/v1/acceptances/{a_record.public_id}", headers=as_reviewer)
    assert provider_view.get_json()["upstream"]["confirmation"]["ownRecord"] is True
