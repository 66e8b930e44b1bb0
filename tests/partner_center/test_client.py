"""The Partner Center client against the fake, over real HTTP."""

from __future__ import annotations

import json
import socket
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from app.partner_center.auth import StaticTokenProvider
from app.partner_center.client import Contact, CustomerAgreement, PartnerCenterClient
from app.partner_center.errors import AuthFailed, Rejected, Transient
from app.partner_center.fake_models import (
    CLOUD_AGREEMENT,
    CLOUD_TEMPLATE_ID,
    CUSTOMER_AGREEMENT,
    CUSTOMER_LINK,
    CUSTOMER_TEMPLATE_ID,
    FAKE_PARTNER_USER_ID,
    FakeContact,
)
from app.partner_center.fake_server import FakeServer
from app.partner_center.fake_store import FakeStore

from .conftest import TOKEN, MakeClient


def _create(
    client: PartnerCenterClient,
    tenant: str,
    contact: Contact,
    *,
    request_id: str | None = None,
    template_id: str = CUSTOMER_TEMPLATE_ID,
    day: date = date(2024, 5, 1),
) -> CustomerAgreement:
    return client.create_customer_agreement(
        tenant,
        agreement_type=CUSTOMER_AGREEMENT,
        template_id=template_id,
        date_agreed=day,
        contact=contact,
        request_id=request_id or str(uuid.uuid4()),
    )


def test_metadata_sends_explicit_type_and_standard_headers(
    client: PartnerCenterClient, store: FakeStore
) -> None:
    templates = client.get_agreement_metadata(CUSTOMER_AGREEMENT)
    client.get_agreement_metadata("*")

    assert [
        (t.template_id, t.agreement_type, t.agreement_link, t.version_rank) for t in templates
    ] == [(CUSTOMER_TEMPLATE_ID, CUSTOMER_AGREEMENT, CUSTOMER_LINK, 0)]
    first, second = store.requests()
    assert first.path == "/v1/agreements"
    assert first.query == {"agreementType": CUSTOMER_AGREEMENT}
    assert second.query == {"agreementType": "*"}
    headers = first.headers
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["Accept"] == "application/json"
    assert headers["X-Locale"] == "en-US"
    assert headers["Ms-Partnercenter-Application"] == "intake-portal"
    uuid.UUID(headers["Ms-Correlationid"])
    uuid.UUID(headers["Ms-Requestid"])
    assert headers["Ms-Correlationid"] != second.headers["Ms-Correlationid"]
    assert headers["Ms-Requestid"] != second.headers["Ms-Requestid"]


def test_metadata_all_types(client: PartnerCenterClient) -> None:
    types = {t.agreement_type: t.template_id for t in client.get_agreement_metadata("*")}
    assert types == {CUSTOMER_AGREEMENT: CUSTOMER_TEMPLATE_ID, CLOUD_AGREEMENT: CLOUD_TEMPLATE_ID}


def test_customer_agreements_are_parsed_sorted_and_accept_both_casings(
    client: PartnerCenterClient, store: FakeStore, tenant: str
) -> None:
    newest = FakeContact("Min", "Kim", "min@example.com", None)
    oldest = FakeContact("Ann", "Lee", "ann@example.com", "010-1234")
    middle = FakeContact("Bo", "Park", "bo@example.com", "555")
    store.add_confirmation(
        tenant,
        contact=newest,
        date_agreed=datetime(2024, 3, 1, tzinfo=UTC),
        key_style="pascal",
        date_text="2024-03-01T00:00:00Z",
    )
    store.add_confirmation(tenant, contact=oldest, date_agreed=datetime(2023, 1, 15, tzinfo=UTC))
    store.add_confirmation(
        tenant,
        contact=middle,
        date_agreed=datetime(2024, 1, 10, tzinfo=UTC),
        date_text="2024-01-10T09:00:00+09:00",
    )
    store.add_confirmation(  # another type: must not show up
        tenant,
        contact=oldest,
        date_agreed=datetime(2019, 1, 1, tzinfo=UTC),
        template_id=CLOUD_TEMPLATE_ID,
    )

    items = client.get_customer_agreements(tenant.upper(), CUSTOMER_AGREEMENT)

    assert [i.contact.first_name if i.contact else None for i in items] == ["Ann", "Bo", "Min"]
    assert [i.date_agreed for i in items] == [
        datetime(2023, 1, 15, tzinfo=UTC),
        datetime(2024, 1, 10, tzinfo=UTC),
        datetime(2024, 3, 1, tzinfo=UTC),
    ]
    assert all(
        i.date_agreed is not None and i.date_agreed.utcoffset() == timedelta(0) for i in items
    )
    pascal = items[-1]
    assert pascal.template_id == CUSTOMER_TEMPLATE_ID
    assert pascal.agreement_type == CUSTOMER_AGREEMENT
    assert pascal.contact == Contact("Min", "Kim", "min@example.com", None)
    assert pascal.user_id == FAKE_PARTNER_USER_ID
    assert pascal.agreement_link == CUSTOMER_LINK
    assert items[0].contact == Contact("Ann", "Lee", "ann@example.com", "010-1234")
    assert store.requests()[-1].path == f"/v1/customers/{tenant}/agreements"  # lowercased


def test_create_returns_the_created_agreement_and_sends_camel_case(
    client: PartnerCenterClient, store: FakeStore, tenant: str, contact: Contact
) -> None:
    request_id = str(uuid.uuid4())
    created = _create(client, tenant, contact, request_id=request_id)

    assert created.template_id == CUSTOMER_TEMPLATE_ID
    assert created.agreement_type == CUSTOMER_AGREEMENT
    assert created.date_agreed == datetime(2024, 5, 1, tzinfo=UTC)
    assert created.contact == contact
    assert created.user_id == FAKE_PARTNER_USER_ID
    sent = store.requests()[-1]
    assert sent.method == "POST"
    assert sent.headers["Ms-Requestid"] == request_id
    assert sent.headers["Content-Type"] == "application/json"
    assert json.loads(sent.body) == {
        "primaryContact": {
            "firstName": "Tania",
            "lastName": "Carr",
            "email": "tania.carr@example.com",
            "phoneNumber": "1234567890",
        },
        "templateId": CUSTOMER_TEMPLATE_ID,
        "dateAgreed": "2024-05-01T00:00:00.000Z",
        "type": CUSTOMER_AGREEMENT,
    }
    assert store.stats() == {
        "posts": 1,
        "accepted": 1,
        "byCustomer": {tenant: {"posts": 1, "accepted": 1}},
        "faults": {},
        "attestations": {
            "created": 0,
            "accepted": 0,
            "finalized": 0,
            "expired": 0,
            "byCustomer": {},
        },
    }


def test_create_omits_a_missing_phone(
    client: PartnerCenterClient, store: FakeStore, tenant: str
) -> None:
    created = _create(client, tenant, Contact("Ann", "Lee", "ann@example.com"))
    assert "phoneNumber" not in json.loads(store.requests()[-1].body)["primaryContact"]
    assert created.contact == Contact("Ann", "Lee", "ann@example.com", None)


def test_replaying_a_request_id_creates_nothing_new(
    client: PartnerCenterClient, store: FakeStore, tenant: str, contact: Contact
) -> None:
    request_id = str(uuid.uuid4())
    first = _create(client, tenant, contact, request_id=request_id)
    second = _create(client, tenant, contact, request_id=request_id)

    assert first == second
    assert store.stats()["byCustomer"][tenant] == {"posts": 2, "accepted": 1}
    assert len(store.confirmations(tenant)) == 1


@pytest.mark.parametrize(
    ("contact", "template_id", "day", "code", "fragment"),
    [
        (
            Contact("Tania", "Carr", "t@example.com"),
            CUSTOMER_TEMPLATE_ID,
            datetime.now(UTC).date() + timedelta(days=2),
            "600002",
            "cannot be greater than the current date",
        ),
        (
            Contact("Tania", "Carr", "t@example.com"),
            CLOUD_TEMPLATE_ID,
            date(2024, 5, 1),
            "3000",
            f"Microsoft Cloud Agreement Template ID '{CLOUD_TEMPLATE_ID}' is no longer supported",
        ),
        (
            Contact("Tania", "Carr", "t@example.com"),
            str(uuid.uuid4()),
            date(2024, 5, 1),
            "3000",
            "is not a valid agreement template",
        ),
        (Contact("Tania", "Carr", ""), CUSTOMER_TEMPLATE_ID, date(2024, 5, 1), "3000", "email"),
        (
            Contact("", "Carr", "t@example.com"),
            CUSTOMER_TEMPLATE_ID,
            date(2024, 5, 1),
            "3000",
            "firstName",
        ),
        (
            Contact("Tania", "Carr", "not-an-email"),
            CUSTOMER_TEMPLATE_ID,
            date(2024, 5, 1),
            "3000",
            "not a valid email",
        ),
    ],
    ids=[
        "future-date",
        "retired-template",
        "unknown-template",
        "missing-email",
        "missing-first-name",
        "bad-email",
    ],
)
def test_validation_errors_are_rejected(
    client: PartnerCenterClient,
    store: FakeStore,
    tenant: str,
    contact: Contact,
    template_id: str,
    day: date,
    code: str,
    fragment: str,
) -> None:
    with pytest.raises(Rejected) as caught:
        _create(client, tenant, contact, template_id=template_id, day=day)

    assert caught.value.code == code
    assert caught.value.status == 400
    assert fragment in caught.value.message
    assert store.confirmations(tenant) == []
    assert store.stats()["byCustomer"][tenant] == {"posts": 1, "accepted": 0}


@pytest.mark.parametrize("duplicate_status", [400, 409])
def test_identical_confirmation_is_600061(
    client: PartnerCenterClient,
    store: FakeStore,
    tenant: str,
    contact: Contact,
    duplicate_status: int,
) -> None:
    store.set_faults({"duplicateStatus": duplicate_status})
    _create(client, tenant, contact)
    shouting = Contact(
        contact.first_name, contact.last_name, contact.email.upper(), contact.phone_number
    )

    with pytest.raises(Rejected) as caught:
        _create(client, tenant, shouting)

    assert caught.value.code == "600061"
    assert caught.value.status == duplicate_status
    assert caught.value.message == "A partner confirmed agreement already exists for the customer."
    assert store.stats()["accepted"] == 1


def test_a_changed_contact_is_a_new_confirmation(
    client: PartnerCenterClient, store: FakeStore, tenant: str, contact: Contact
) -> None:
    _create(client, tenant, contact)
    _create(client, tenant, Contact(contact.first_name, contact.last_name, contact.email, "999"))
    assert len(store.confirmations(tenant)) == 2


def test_direct_signed_status(client: PartnerCenterClient, store: FakeStore, tenant: str) -> None:
    assert client.get_direct_signed_status(tenant) is False
    store.set_direct_signed(tenant, True)
    assert client.get_direct_signed_status(tenant) is True


class _EmptyToken:
    def get_token(self) -> str:
        return " "


def test_an_empty_token_is_auth_failed_without_a_request(
    make_client: MakeClient, store: FakeStore, tenant: str
) -> None:
    client = make_client(token_provider=_EmptyToken())
    with pytest.raises(AuthFailed) as caught:
        client.get_customer_agreements(tenant, CUSTOMER_AGREEMENT)
    assert caught.value.code == "empty_token"
    assert store.requests() == []


@pytest.mark.parametrize(
    ("code", "fragment"), [(800001, "Partner Token missing"), (900421, "MFA claim")]
)
def test_a_refused_token_is_auth_failed(
    client: PartnerCenterClient, store: FakeStore, tenant: str, code: int, fragment: str
) -> None:
    store.deny_token(TOKEN, code)
    with pytest.raises(AuthFailed) as caught:
        client.get_customer_agreements(tenant, CUSTOMER_AGREEMENT)
    assert caught.value.status == 401
    assert caught.value.code == str(code)
    assert fragment in str(caught.value)


@pytest.mark.parametrize(
    "bad",
    ["not-a-guid", "", "1234", "{6f9619ff-8b86-4d01-b42d-00cf4fc964ff}", "../agreements"],
)
def test_non_guid_tenant_is_refused_before_any_request(
    client: PartnerCenterClient, store: FakeStore, contact: Contact, bad: str
) -> None:
    with pytest.raises(ValueError, match="GUID"):
        client.get_customer_agreements(bad, CUSTOMER_AGREEMENT)
    with pytest.raises(ValueError, match="GUID"):
        client.get_direct_signed_status(bad)
    with pytest.raises(ValueError, match="GUID"):
        _create(client, bad, contact)
    assert store.requests() == []
    assert store.stats()["posts"] == 0


def test_non_guid_request_id_is_refused(
    client: PartnerCenterClient, store: FakeStore, tenant: str, contact: Contact
) -> None:
    with pytest.raises(ValueError, match="GUID"):
        _create(client, tenant, contact, request_id="retry-1")
    assert store.requests() == []


def test_unreachable_server_is_transient_without_answer(tenant: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with (
        PartnerCenterClient(
            f"http://127.0.0.1:{port}", StaticTokenProvider(TOKEN), timeout=2.0
        ) as client,
        pytest.raises(Transient) as caught,
    ):
        client.get_direct_signed_status(tenant)
    assert caught.value.code == "connect_error"
    assert caught.value.answered is False
    assert caught.value.status is None


def test_client_is_a_context_manager(fake: FakeServer, tenant: str) -> None:
    with PartnerCenterClient(fake.url, StaticTokenProvider(TOKEN)) as client:
        assert client.get_direct_signed_status(tenant) is False
    with pytest.raises(RuntimeError):
        client.get_direct_signed_status(tenant)
