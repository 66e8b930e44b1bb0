"""The fake Partner Center's wire behaviour and admin routes, over raw HTTP."""

from __future__ import annotations

import uuid
from datetime import date

import httpx
import pytest

from app.partner_center.client import Contact, PartnerCenterClient
from app.partner_center.errors import Rejected
from app.partner_center.fake_models import (
    CLOUD_AGREEMENT,
    CLOUD_TEMPLATE_ID,
    CUSTOMER_AGREEMENT,
    CUSTOMER_TEMPLATE_ID,
    FAKE_PARTNER_USER_ID,
    FaultSettings,
)
from app.partner_center.fake_store import FakeStore

AUTH = {"Authorization": "Bearer t"}
NEW_TEMPLATE = "5f0c8e36-4d7e-4b8c-9f43-3a0e7e2b1a11"


def _agreement(**contact: str) -> dict[str, object]:
    return {
        "primaryContact": {"firstName": "Tania", "lastName": "Carr", "email": "t@example.com"}
        | contact,
        "templateId": CUSTOMER_TEMPLATE_ID,
        "dateAgreed": "2024-05-01T00:00:00.000Z",
        "type": CUSTOMER_AGREEMENT,
    }


def test_v1_requires_a_bearer_and_echoes_tracing_headers(http: httpx.Client) -> None:
    request_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
    tracing = {"MS-RequestId": request_id, "MS-CorrelationId": correlation_id}

    refused = http.get("/v1/agreements", headers=tracing)
    assert refused.status_code == 401
    assert refused.json() == {
        "code": 800001,
        "description": "Partner Token missing in request context",
        "data": [],
        "source": "PartnerFD",
    }
    assert refused.headers["MS-RequestId"] == request_id
    assert http.get("/v1/agreements", headers={"Authorization": "Basic abc"}).status_code == 401

    ok = http.get("/v1/agreements", headers=AUTH | tracing)
    assert ok.status_code == 200
    assert ok.headers["MS-RequestId"] == request_id
    assert ok.headers["MS-CorrelationId"] == correlation_id
    generated = http.get("/v1/agreements", headers=AUTH)
    uuid.UUID(generated.headers["MS-RequestId"])
    uuid.UUID(generated.headers["MS-CorrelationId"])


def test_metadata_defaults_to_the_cloud_agreement(http: httpx.Client) -> None:
    body = http.get("/v1/agreements", headers=AUTH).json()
    assert body["totalCount"] == 1
    assert body["items"][0]["templateId"] == CLOUD_TEMPLATE_ID
    assert body["attributes"] == {"objectType": "Collection"}
    assert body["links"]["self"]["uri"] == "/agreements"
    every = http.get("/v1/agreements", params={"agreementType": "*"}, headers=AUTH).json()
    assert {i["agreementType"] for i in every["items"]} == {CUSTOMER_AGREEMENT, CLOUD_AGREEMENT}


def test_create_accepts_pascal_case_and_ignores_user_id(
    http: httpx.Client, store: FakeStore, tenant: str
) -> None:
    body = {
        "PrimaryContact": {"FirstName": "Ann", "LastName": "Lee", "Email": "ann@example.com"},
        "TemplateId": CUSTOMER_TEMPLATE_ID.upper(),
        "DateAgreed": "2024-05-01T00:00:00",
        "Type": CUSTOMER_AGREEMENT,
        "UserId": "00000000-0000-0000-0000-000000000000",
        "AgreementLink": None,
    }
    created = http.post(f"/v1/customers/{tenant}/agreements", json=body, headers=AUTH)

    assert created.status_code == 201
    assert created.json() == {
        "userId": FAKE_PARTNER_USER_ID,
        "primaryContact": {"firstName": "Ann", "lastName": "Lee", "email": "ann@example.com"},
        "templateId": CUSTOMER_TEMPLATE_ID,
        "dateAgreed": "2024-05-01T00:00:00.000Z",
        "type": CUSTOMER_AGREEMENT,
    }
    assert len(store.confirmations(tenant, CUSTOMER_AGREEMENT)) == 1


def test_the_type_is_derived_from_the_template(
    http: httpx.Client, store: FakeStore, tenant: str
) -> None:
    body = _agreement() | {"type": CLOUD_AGREEMENT}
    assert (
        http.post(f"/v1/customers/{tenant}/agreements", json=body, headers=AUTH).status_code == 201
    )
    assert [c.agreement_type for c in store.confirmations(tenant)] == [CUSTOMER_AGREEMENT]


def test_customer_history_is_kept_and_filtered_by_type(http: httpx.Client, tenant: str) -> None:
    path = f"/v1/customers/{tenant}/agreements"
    for phone in ("1", "2"):
        assert http.post(path, json=_agreement(phoneNumber=phone), headers=AUTH).status_code == 201

    default = http.get(path, headers=AUTH).json()
    assert default["totalCount"] == 0  # omitted type means the Cloud Agreement
    listed = http.get(path, params={"agreementType": CUSTOMER_AGREEMENT}, headers=AUTH).json()
    assert listed["totalCount"] == 2
    first = listed["items"][0]
    assert first["dateAgreed"] == "2024-05-01T00:00:00"
    assert first["agreementLink"] == "https://aka.ms/customeragreement"
    assert first["primaryContact"]["phoneNumber"] == "1"
    assert http.get(path, params={"agreementType": "*"}, headers=AUTH).json()["totalCount"] == 2


@pytest.mark.parametrize(
    ("body", "code", "fragment"),
    [
        ("not json", 800002, "Invalid request input"),
        ({"templateId": CUSTOMER_TEMPLATE_ID}, 3000, "primaryContact is required"),
        (_agreement(lastName=" "), 3000, "lastName is required"),
        (_agreement(email="a@b"), 3000, "not a valid email"),
        (_agreement() | {"dateAgreed": "01/05/2024"}, 3000, "dateAgreed"),
        (_agreement() | {"templateId": None}, 3000, "templateId is required"),
    ],
)
def test_create_validation(
    http: httpx.Client, store: FakeStore, tenant: str, body: object, code: int, fragment: str
) -> None:
    path = f"/v1/customers/{tenant}/agreements"
    if isinstance(body, str):
        answer = http.post(path, content=body, headers=AUTH | {"Content-Type": "text/plain"})
    else:
        answer = http.post(path, json=body, headers=AUTH)
    assert answer.status_code == 400
    assert answer.json()["code"] == code
    assert fragment in answer.json()["description"]
    assert answer.json()["source"] == "PartnerFD"
    assert store.confirmations(tenant) == []


def test_non_guid_paths_are_400_and_unknown_routes_404(
    http: httpx.Client, store: FakeStore
) -> None:
    answer = http.post("/v1/customers/contoso/agreements", json=_agreement(), headers=AUTH)
    assert answer.status_code == 400
    assert answer.json()["code"] == 800002
    assert http.get("/v1/customers/contoso/agreements", headers=AUTH).status_code == 400
    missing = http.get("/v1/nothing-here", headers=AUTH)
    assert missing.status_code == 404
    assert missing.json()["code"] == 404
    assert store.stats()["posts"] == 1
    assert store.stats()["byCustomer"] == {}


def test_faults_round_trip(http: httpx.Client, store: FakeStore) -> None:
    defaults = http.get("/_fake/faults").json()
    assert defaults == FaultSettings().to_dict()

    changed = http.post("/_fake/faults", json={"throttleRate": 0.25, "latencyMs": 10, "seed": 7})
    assert changed.status_code == 200
    assert changed.json() == defaults | {"throttleRate": 0.25, "latencyMs": 10, "seed": 7}
    assert http.get("/_fake/faults").json() == changed.json()
    assert store.faults().throttleRate == 0.25


@pytest.mark.parametrize(
    "body",
    [{"throttle": 1}, {"throttleRate": 2}, {"hangSeconds": -1}, {"duplicateStatus": 200}, [1]],
)
def test_bad_faults_are_400_and_change_nothing(http: httpx.Client, body: object) -> None:
    answer = http.post("/_fake/faults", json=body)
    assert answer.status_code == 400
    assert answer.json()["error"]
    assert http.get("/_fake/faults").json() == FaultSettings().to_dict()


def test_reset_clears_everything(http: httpx.Client, store: FakeStore, tenant: str) -> None:
    assert (
        http.post(f"/v1/customers/{tenant}/agreements", json=_agreement(), headers=AUTH).status_code
        == 201
    )
    http.post("/_fake/faults", json={"error5xxRate": 1})
    http.post(f"/_fake/customers/{tenant}/direct-signed", json={"isSigned": True})

    assert http.post("/_fake/reset").status_code == 200

    assert http.get("/_fake/stats").json() == {
        "posts": 0,
        "accepted": 0,
        "byCustomer": {},
        "faults": {},
        "attestations": {
            "created": 0,
            "accepted": 0,
            "finalized": 0,
            "expired": 0,
            "byCustomer": {},
        },
    }
    assert http.get(f"/_fake/customers/{tenant}/agreements").json()["items"] == []
    assert http.get("/_fake/faults").json() == FaultSettings().to_dict()
    direct = http.get(
        f"/v1/customers/{tenant}/directSignedMicrosoftCustomerAgreementStatus", headers=AUTH
    )
    assert direct.json() == {"isSigned": False}


def test_direct_signed_route(http: httpx.Client, tenant: str) -> None:
    path = f"/v1/customers/{tenant}/directSignedMicrosoftCustomerAgreementStatus"
    assert (
        http.post(f"/_fake/customers/{tenant}/direct-signed", json={"isSigned": True}).status_code
        == 200
    )
    assert http.get(path, headers=AUTH).json() == {"isSigned": True}
    assert (
        http.post(f"/_fake/customers/{tenant}/direct-signed", json={"isSigned": "yes"}).status_code
        == 400
    )


def test_publishing_a_template_retires_the_previous_one(
    http: httpx.Client, client: PartnerCenterClient, tenant: str, contact: Contact
) -> None:
    published = http.post(
        "/_fake/templates",
        json={
            "agreementType": CUSTOMER_AGREEMENT,
            "templateId": NEW_TEMPLATE,
            "agreementLink": "https://aka.ms/customeragreement2",
            "versionRank": 1,
        },
    )
    assert published.status_code == 201
    assert [t.template_id for t in client.get_agreement_metadata(CUSTOMER_AGREEMENT)] == [
        NEW_TEMPLATE
    ]

    def confirm(template_id: str) -> None:
        client.create_customer_agreement(
            tenant,
            agreement_type=CUSTOMER_AGREEMENT,
            template_id=template_id,
            date_agreed=date(2024, 5, 1),
            contact=contact,
            request_id=str(uuid.uuid4()),
        )

    with pytest.raises(Rejected) as caught:
        confirm(CUSTOMER_TEMPLATE_ID)
    assert caught.value.code == "3000"
    assert "no longer supported" in caught.value.message
    confirm(NEW_TEMPLATE)
    assert (
        http.post(
            "/_fake/templates",
            json={"agreementType": CUSTOMER_AGREEMENT, "templateId": NEW_TEMPLATE},
        ).status_code
        == 400
    )
    assert http.post("/_fake/templates", json={"templateId": "nope"}).status_code == 400


def test_seed_and_inspect_customer_history(http: httpx.Client, tenant: str) -> None:
    seeded = http.post(
        f"/_fake/customers/{tenant}/agreements",
        json=_agreement() | {"keyStyle": "pascal", "dateAgreed": "2023-02-01T00:00:00Z"},
    )
    assert seeded.status_code == 201
    listed = http.get(
        f"/v1/customers/{tenant}/agreements",
        params={"agreementType": CUSTOMER_AGREEMENT},
        headers=AUTH,
    ).json()
    item = listed["items"][0]
    assert item["TemplateId"] == CUSTOMER_TEMPLATE_ID
    assert item["PrimaryContact"]["Email"] == "t@example.com"
    assert item["DateAgreed"] == "2023-02-01T00:00:00"

    assert (
        http.post(
            f"/v1/customers/{tenant}/agreements",
            json=_agreement(phoneNumber="9"),
            headers=AUTH | {"MS-RequestId": "r-1"},
        ).status_code
        == 201
    )
    every = http.get(f"/_fake/customers/{tenant}/agreements").json()
    assert every["totalCount"] == 2
    assert [i.get("requestId") for i in every["items"]] == [None, "r-1"]
    assert http.get("/_fake/stats").json()["byCustomer"] == {tenant: {"posts": 1, "accepted": 1}}


def test_request_log_route(http: httpx.Client) -> None:
    http.get("/v1/agreements", params={"agreementType": "*"}, headers=AUTH)
    logged = http.get("/_fake/requests").json()
    assert logged[-1]["path"] == "/v1/agreements"
    assert logged[-1]["query"] == {"agreementType": "*"}
