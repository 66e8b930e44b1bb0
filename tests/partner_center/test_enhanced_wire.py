"""The enhanced flow's mapping module (`enhanced_wire`), and how the client reads odd answers."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from app.partner_center import enhanced_wire as wire
from app.partner_center.auth import StaticTokenProvider
from app.partner_center.client import Contact, PartnerCenterClient
from app.partner_center.errors import Transient

TENANT = "0b8e4a3c-1f2d-4c5b-9a6e-7d8c9b0a1f2e"
ATTESTATION = "6f1d3c2b-8a9e-4f70-b1c2-d3e4f5a6b7c8"


def test_create_body_uses_the_mapped_names() -> None:
    contact = Contact("Minji", "Kim", "minji@contoso.example", "+82 2 1234 5678")
    body = wire.create_body(
        tenant_id=TENANT, country="KR", language="ko-KR", company_name="Contoso", contact=contact
    )
    assert body == {
        "customerTenantId": TENANT,
        "country": "KR",
        "language": "ko-KR",
        "companyName": "Contoso",
        "signatoryFirstName": "Minji",
        "signatoryLastName": "Kim",
        "signatoryEmail": "minji@contoso.example",
        "signatoryPhoneNumber": "+82 2 1234 5678",
    }
    without_phone = Contact("Minji", "Kim", "minji@contoso.example", "")
    assert wire.SIGNATORY_PHONE not in wire.create_body(
        tenant_id=TENANT, country="KR", language="ko", company_name="C", contact=without_phone
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {
                "attestationId": ATTESTATION,
                "status": "Pending",
                "expiresAt": "2026-03-01T09:30:00Z",
            },
            (ATTESTATION, datetime(2026, 3, 1, 9, 30, tzinfo=UTC)),
        ),
        # PascalCase, an offset, padding: read the same.
        (
            {"AttestationId": f" {ATTESTATION} ", "ExpiresAt": "2026-03-01T18:30:00+09:00"},
            (ATTESTATION, datetime(2026, 3, 1, 9, 30, tzinfo=UTC)),
        ),
        # No offset means UTC; an unreadable or absent expiry is simply unknown.
        (
            {"attestationId": "abc", "expiresAt": "2026-03-01T09:30:00"},
            ("abc", datetime(2026, 3, 1, 9, 30, tzinfo=UTC)),
        ),
        ({"attestationId": "abc", "expiresAt": "next week"}, ("abc", None)),
        ({"attestationId": "abc"}, ("abc", None)),
    ],
)
def test_parse_created(body: Any, expected: tuple[str, datetime | None]) -> None:
    assert wire.parse_created(body) == expected


@pytest.mark.parametrize(
    "body", [None, [], {}, {"attestationId": ""}, {"attestationId": 7}, {"id": "x"}]
)
def test_parse_created_needs_an_id(body: Any) -> None:
    with pytest.raises(ValueError, match="attestationId"):
        wire.parse_created(body)


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("Pending", "Pending"),
        ("pending", "Pending"),
        (" ACCEPTED ", "Accepted"),
        ("Expired", "Expired"),
        ("Valid", "Accepted"),  # CloudFactory's word (unconfirmed alias)
    ],
)
def test_parse_status(raw: str, status: str) -> None:
    assert wire.parse_status({"attestationId": ATTESTATION, "status": raw}) == status
    assert wire.parse_status({"Status": raw}) == status


@pytest.mark.parametrize("body", [{"status": "Required"}, {"status": None}, {}, None, "Pending"])
def test_parse_status_refuses_the_unknown(body: Any) -> None:
    with pytest.raises(ValueError, match="unknown attestation status"):
        wire.parse_status(body)


@pytest.mark.parametrize(
    ("base", "attestation_id", "url"),
    [
        (
            wire.ACCEPTANCE_BASE_URL,
            ATTESTATION,
            f"https://cdn.partner.microsoft.com/mca/?attestationid={ATTESTATION}",
        ),
        (
            "http://127.0.0.1:5050/mca/",
            "a b/c",
            "http://127.0.0.1:5050/mca/?attestationid=a%20b%2Fc",
        ),
        ("https://x.test/mca/?lang=ko", "abc", "https://x.test/mca/?lang=ko&attestationid=abc"),
        ("https://x.test/mca/?attestationid=old", "new", "https://x.test/mca/?attestationid=new"),
    ],
)
def test_acceptance_url(base: str, attestation_id: str, url: str) -> None:
    assert wire.acceptance_url(base, attestation_id) == url


def test_paths_and_finalize_body() -> None:
    assert wire.CREATE_PATH == "/v1/attestations/enhanced"
    assert wire.status_path("a/b") == "/v1/attestations/enhanced/a%2Fb"
    assert wire.finalize_path(TENANT) == f"/v1/customers/{TENANT}/agreements"
    assert wire.document_path("T-1") == "/v1/agreementtemplates/T-1/document"
    assert wire.document_params(country="KR", language="ko-KR") == {
        "language": "ko-KR",
        "country": "KR",
    }
    usual = {"templateId": "t", "type": "MicrosoftCustomerAgreement"}
    assert wire.finalize_body(usual, ATTESTATION) == usual | {"attestationId": ATTESTATION}
    assert usual == {"templateId": "t", "type": "MicrosoftCustomerAgreement"}  # not mutated


@pytest.mark.parametrize(
    ("content_type", "content", "expected"),
    [
        ("text/html; charset=utf-8", b"<html></html>", (b"<html></html>", None)),
        ("application/pdf", b"%PDF-1.7", (b"%PDF-1.7", None)),
        (
            "application/json",
            b'{"documentUrl": " https://x.test/d.pdf "}',
            (None, "https://x.test/d.pdf"),
        ),
        (
            "application/json; charset=utf-8",
            b'{"Url": "https://x.test/d"}',
            (None, "https://x.test/d"),
        ),
        ("application/json", b'{"text": "..."}', (b'{"text": "..."}', None)),
        ("application/json", b"\xff not json", (b"\xff not json", None)),
    ],
)
def test_parse_document(
    content_type: str, content: bytes, expected: tuple[bytes | None, str | None]
) -> None:
    assert wire.parse_document(content_type, content) == (content_type, *expected)


Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def mocked() -> Iterator[Callable[[Handler], PartnerCenterClient]]:
    """Clients whose answers come from a handler instead of a server."""
    clients: list[PartnerCenterClient] = []

    def make(handler: Handler) -> PartnerCenterClient:
        transport = httpx.MockTransport(handler)
        client = PartnerCenterClient(
            "https://pc.test", StaticTokenProvider("t"), transport=transport
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def _create(client: PartnerCenterClient) -> object:
    return client.create_attestation(
        tenant_id=TENANT.upper(),
        country=" kr ",
        language="ko-KR",
        company_name=" Contoso ",
        contact=Contact("Minji", "Kim", "minji@contoso.example"),
        request_id=str(uuid.uuid4()),
    )


def test_a_create_answer_without_an_id_is_an_unanswered_transient(
    mocked: Callable[[Handler], PartnerCenterClient],
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, text="created")

    with pytest.raises(Transient) as caught:
        _create(mocked(handler))

    # The attestation may exist: the retry must replay the same MS-RequestId.
    assert (caught.value.code, caught.value.answered) == ("invalid_response", False)
    sent = json.loads(seen[0].content)
    assert (sent["customerTenantId"], sent["country"], sent["companyName"]) == (
        TENANT,
        "KR",
        "Contoso",
    )
    assert seen[0].headers["Accept"] == "application/json"


def test_an_unknown_status_is_a_transient_and_a_link_document_is_returned(
    mocked: Callable[[Handler], PartnerCenterClient],
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/v1/attestations/"):
            return httpx.Response(200, json={"attestationId": ATTESTATION, "status": "Weird"})
        return httpx.Response(200, json={"documentUrl": "https://x.test/mca.pdf"})

    client = mocked(handler)
    with pytest.raises(Transient) as caught:
        client.get_attestation_status(ATTESTATION)
    assert caught.value.answered is True
    assert "unknown attestation status 'Weird'" in caught.value.message
    document = client.get_agreement_document("T-1", country="KR", language="ko-KR")
    assert (document.content_type, document.body, document.url) == (
        "application/json",
        None,
        "https://x.test/mca.pdf",
    )


def test_blank_ids_are_refused_before_any_call(
    mocked: Callable[[Handler], PartnerCenterClient],
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request expected")

    client = mocked(handler)
    with pytest.raises(ValueError, match="attestation_id"):
        client.get_attestation_status(" ")
    with pytest.raises(ValueError, match="template_id"):
        client.get_agreement_document("", country="KR", language="ko")
