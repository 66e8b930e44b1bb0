"""The fake's enhanced-flow surface seen through the client and raw HTTP (contract §2.5, §6).

The acceptance page in Korean and English, the finalize refusals, the agreement document and
fault injection on the enhanced routes.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import httpx
import pytest

from app.partner_center.client import Contact, PartnerCenterClient
from app.partner_center.errors import Rejected, Transient
from app.partner_center.fake_models import CUSTOMER_TEMPLATE_ID
from app.partner_center.fake_server import FakeServer
from app.partner_center.fake_store import FakeStore
from app.partner_center.gateway import ConfirmationRequest, EnhancedGateway, LegacyGateway

from .conftest import MakeClient
from .enhanced_support import FIELDS, accept, finalize, make_request


@pytest.fixture
def gateway(fake: FakeServer, make_client: MakeClient) -> EnhancedGateway:
    """An enhanced gateway whose links point at the fake's acceptance page."""
    return EnhancedGateway(make_client(timeout=5.0), acceptance_base_url=f"{fake.url}/mca/")


@pytest.fixture
def request_(tenant: str, contact: Contact) -> ConfirmationRequest:
    """A confirmation request for a fresh customer."""
    return make_request(tenant, contact)


def _form(page: str) -> tuple[str, dict[str, str]]:
    action = re.search(r'<form method="post" action="([^"]+)">', page)
    assert action is not None
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page))
    return action.group(1), fields


def test_the_customer_accepts_on_the_page(
    gateway: EnhancedGateway,
    client: PartnerCenterClient,
    http: httpx.Client,
    request_: ConfirmationRequest,
) -> None:
    step = gateway.advance(request_, None, FIELDS)
    url, attestation_id = step.acceptance_url or "", step.attestation_id or ""

    korean = http.get(url)
    assert korean.status_code == 200
    assert korean.headers["Content-Type"] == "text/html; charset=utf-8"
    assert '<meta charset="utf-8">' in korean.text
    assert '<html lang="ko">' in korean.text
    for text in (
        "Microsoft 고객 계약 동의",
        "Contoso Korea의 Carr Tania 님",
        "동의합니다",
        "서명자",
    ):
        assert text in korean.text
    english = http.get(url, headers={"Accept-Language": "en-US,en;q=0.8"})
    assert '<html lang="en">' in english.text
    for text in ("Tania Carr of Contoso Korea", "I accept", "Read the Microsoft Customer"):
        assert text in english.text
    assert '<html lang="ko">' in http.get(f"{url}&lang=ko", headers={"Accept-Language": "en"}).text
    assert '<html lang="en">' in http.get(f"{url}&lang=en").text
    document = re.search(r'<a href="(/mca/agreement\?[^"]+)">', korean.text)
    assert document is not None
    shown = http.get(document.group(1).replace("&amp;", "&"))
    assert "Microsoft Customer Agreement (ko-KR, KR)" in shown.text

    action, fields = _form(korean.text)
    assert fields == {"attestationid": attestation_id, "lang": "ko"}
    thanks = http.post(action, data=fields)
    assert thanks.status_code == 200
    assert "감사합니다. Microsoft 고객 계약에 대한 동의가 기록되었습니다." in thanks.text
    assert client.get_attestation_status(attestation_id) == "Accepted"
    assert "이미 동의하셨습니다" in http.get(url).text
    assert "already been accepted" in http.post(action, data=fields | {"lang": "en"}).text


def test_unknown_and_expired_links_say_so(
    http: httpx.Client, gateway: EnhancedGateway, request_: ConfirmationRequest
) -> None:
    unknown = http.get("/mca/", params={"attestationid": str(uuid.uuid4())})
    assert unknown.status_code == 404
    assert "이 링크를 찾을 수 없습니다" in unknown.text
    assert "was not found" in http.get("/mca/?attestationid=x&lang=en").text
    assert http.post("/mca/accept", data={"attestationid": "x"}).status_code == 404

    step = gateway.advance(request_, None, FIELDS)
    assert (
        http.post(f"/_fake/attestations/{step.attestation_id}/expire").json()["status"] == "Expired"
    )
    expired = http.get(f"{step.acceptance_url}&lang=en")  # params= would drop the id
    assert expired.status_code == 410
    assert "This link has expired" in expired.text
    assert http.post(f"/_fake/attestations/{step.attestation_id}/accept").status_code == 409


def test_finalize_needs_this_customers_accepted_attestation(
    gateway: EnhancedGateway,
    client: PartnerCenterClient,
    store: FakeStore,
    http: httpx.Client,
    request_: ConfirmationRequest,
    tenant: str,
) -> None:
    attestation_id = gateway.advance(request_, None, FIELDS).attestation_id or ""
    cases = [
        (tenant, attestation_id, "AttestationNotAccepted", "has not accepted"),
        (str(uuid.uuid4()), attestation_id, "AttestationNotFound", "not found"),
        (tenant, str(uuid.uuid4()), "AttestationNotFound", "not found"),
    ]
    for customer, attestation, code, fragment in cases:
        with pytest.raises(Rejected) as caught:
            finalize(client, customer, attestation)
        assert (caught.value.status, caught.value.code) == (400, code)
        assert fragment in caught.value.message
    assert store.confirmations(tenant) == []

    accept(http, attestation_id)
    request_id = str(uuid.uuid4())
    first, second = (finalize(client, tenant, attestation_id, request_id) for _ in range(2))
    assert first == second
    assert len(store.confirmations(tenant)) == 1
    assert store.stats()["byCustomer"][tenant] == {"posts": 4, "accepted": 1}
    # A new request id is a new finalize: the attestation is used up (the fake is strict here).
    with pytest.raises(Rejected) as caught:
        finalize(client, tenant, attestation_id)
    assert caught.value.code == "AttestationAlreadyFinalized"


def test_the_agreement_document(
    gateway: EnhancedGateway, make_client: MakeClient, store: FakeStore
) -> None:
    document = gateway.agreement_document(CUSTOMER_TEMPLATE_ID, "KR", "ko-KR")

    assert document.content_type == "text/html; charset=utf-8"
    assert document.url is None
    assert document.body is not None
    assert "<title>Microsoft Customer Agreement (ko-KR, KR)</title>" in document.body.decode()
    sent = store.requests()[-1]
    assert sent.path == f"/v1/agreementtemplates/{CUSTOMER_TEMPLATE_ID}/document"
    assert sent.query == {"language": "ko-KR", "country": "KR"}
    assert sent.headers["Accept"].startswith("text/html")
    legacy = LegacyGateway(make_client()).agreement_document(CUSTOMER_TEMPLATE_ID, "US", "en-US")
    assert b"(en-US, US)" in (legacy.body or b"")
    for template_id in (str(uuid.uuid4()), CUSTOMER_TEMPLATE_ID.upper()):  # case-sensitive
        with pytest.raises(Rejected) as caught:
            gateway.agreement_document(template_id, "KR", "ko-KR")
        assert caught.value.status == 404


def test_faults_on_the_enhanced_routes_are_transient(
    gateway: EnhancedGateway,
    client: PartnerCenterClient,
    store: FakeStore,
    http: httpx.Client,
    request_: ConfirmationRequest,
    tenant: str,
    contact: Contact,
) -> None:
    step = gateway.advance(request_, None, FIELDS)
    attestation_id = step.attestation_id or ""
    calls: list[Callable[[], object]] = [
        lambda: client.create_attestation(
            tenant_id=tenant,
            country="KR",
            language="ko-KR",
            company_name="Contoso Korea",
            contact=contact,
            request_id=str(uuid.uuid4()),
        ),
        lambda: client.get_attestation_status(attestation_id),
        lambda: finalize(client, tenant, attestation_id),
        lambda: client.get_agreement_document(CUSTOMER_TEMPLATE_ID, country="KR", language="ko"),
    ]
    store.set_faults({"error5xxRate": 1.0})
    for call in calls:
        with pytest.raises(Transient) as caught:
            call()
        assert caught.value.answered is True
        assert (caught.value.status or 0) >= 500
    store.set_faults({"error5xxRate": 0.0, "throttleRate": 1.0, "retryAfterSeconds": 4})
    with pytest.raises(Transient) as throttled:
        client.get_attestation_status(attestation_id)
    assert throttled.value.retry_after == 4.0
    # The acceptance page and the test routes are not Partner Center's API: no faults there.
    assert http.get(step.acceptance_url or "").status_code == 200
    accept(http, attestation_id)
    assert store.stats()["faults"] == {"error5xx": 4, "throttle": 1}


AUTH = {"Authorization": "Bearer t"}


def _create_body(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "customerTenantId": str(uuid.uuid4()),
        "country": "KR",
        "language": "ko-KR",
        "companyName": "Contoso Korea",
        "signatoryFirstName": "Minji",
        "signatoryLastName": "Kim",
        "signatoryEmail": "minji.kim@contoso.example",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"customerTenantId": "contoso"}, "customerTenantId must be the customer's tenant id"),
        ({"country": "kr"}, "ISO 3166-1 alpha-2"),
        ({"country": "Korea"}, "ISO 3166-1 alpha-2"),
        ({"country": None}, "ISO 3166-1 alpha-2"),
        ({"language": "korean"}, "language tag"),
        ({"companyName": " "}, "companyName is required"),
        ({"signatoryFirstName": None}, "signatoryFirstName is required"),
        ({"signatoryLastName": ""}, "signatoryLastName is required"),
        ({"signatoryEmail": None}, "signatoryEmail is required"),
        ({"signatoryEmail": "minji@contoso"}, "not a valid email"),
        ({"signatoryPhoneNumber": 1234}, "signatoryPhoneNumber must be a string"),
    ],
)
def test_the_create_call_is_validated(
    http: httpx.Client, store: FakeStore, changes: dict[str, object], fragment: str
) -> None:
    answer = http.post("/v1/attestations/enhanced", json=_create_body(**changes), headers=AUTH)

    assert answer.status_code == 400
    body = answer.json()
    assert (body["code"], body["source"], body["data"]) == (3000, "PartnerFD", [])
    assert fragment in body["description"]
    assert store.attestations.all() == []


def test_the_create_call_needs_a_bearer_and_accepts_pascal_case(http: httpx.Client) -> None:
    assert http.post("/v1/attestations/enhanced", json=_create_body()).status_code == 401
    pascal = {k[:1].upper() + k[1:]: v for k, v in _create_body().items()}
    pascal["SignatoryPhoneNumber"] = "+82 2 1234 5678"
    created = http.post("/v1/attestations/enhanced", json=pascal, headers=AUTH)
    assert created.status_code == 201
    assert set(created.json()) == {"attestationId", "status", "expiresAt"}
    assert created.json()["status"] == "Pending"
    assert created.json()["expiresAt"].endswith("Z")
    unknown = http.get(f"/v1/attestations/enhanced/{uuid.uuid4()}", headers=AUTH)
    assert unknown.status_code == 404
    assert unknown.json()["source"] == "PartnerFD"
