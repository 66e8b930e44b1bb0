"""The legacy gateway ("ask, then send") against the fake over HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from app.partner_center.auth import StaticTokenProvider
from app.partner_center.client import Contact
from app.partner_center.errors import Rejected, Transient
from app.partner_center.fake_models import (
    CLOUD_AGREEMENT,
    CLOUD_TEMPLATE_ID,
    CUSTOMER_AGREEMENT,
    CUSTOMER_TEMPLATE_ID,
    FakeContact,
)
from app.partner_center.fake_server import FakeServer
from app.partner_center.fake_store import FakeStore
from app.partner_center.gateway import (
    ConfirmationRequest,
    LegacyGateway,
    OutcomeKind,
    build_gateway,
)
from app.partner_center.gateway_outcomes import same_contact

from .conftest import TOKEN, MakeClient


@pytest.fixture
def gateway(make_client: MakeClient) -> Iterator[LegacyGateway]:
    """A legacy gateway over a real client."""
    gw = LegacyGateway(make_client(timeout=5.0))
    yield gw
    gw.close()


def _request(
    tenant: str,
    contact: Contact,
    *,
    template_id: str = CUSTOMER_TEMPLATE_ID,
    agreement_type: str = CUSTOMER_AGREEMENT,
    request_id: str | None = None,
) -> ConfirmationRequest:
    return ConfirmationRequest(
        customer_tenant_id=tenant,
        agreement_type=agreement_type,
        template_id=template_id,
        date_agreed=date(2024, 5, 1),
        contact=contact,
        request_id=request_id or str(uuid.uuid4()),
    )


def _fake(contact: Contact) -> FakeContact:
    return FakeContact(contact.first_name, contact.last_name, contact.email, contact.phone_number)


def test_sent_when_nothing_covers_the_version(
    gateway: LegacyGateway, store: FakeStore, tenant: str, contact: Contact
) -> None:
    request = _request(tenant, contact)
    outcome = gateway.confirm(request)

    assert outcome.kind is OutcomeKind.SENT
    assert outcome.date_agreed == date(2024, 5, 1)
    assert outcome.contact == contact
    assert "accepted 2024-05-01" in outcome.detail
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
    create = [r for r in store.requests() if r.method == "POST"]
    assert create[0].headers["Ms-Requestid"] == request.request_id
    # The two reads go out together: their order upstream is whichever arrives first.
    reads = sorted(
        (r for r in store.requests() if r.method == "GET"), key=lambda r: "directSigned" in r.path
    )
    assert [r.query for r in reads] == [{"agreementType": CUSTOMER_AGREEMENT}, {}]
    assert reads[1].path.endswith("/directSignedMicrosoftCustomerAgreementStatus")


def test_already_ours_when_history_holds_the_same_contact(
    gateway: LegacyGateway, store: FakeStore, tenant: str, contact: Contact
) -> None:
    # Same person, written differently: case in names/email, punctuation in the phone.
    store.add_confirmation(
        tenant,
        contact=FakeContact("TANIA", "carr", contact.email.upper(), "+1 (234) 567-890"),
        date_agreed=datetime(2024, 4, 2, tzinfo=UTC),
    )
    outcome = gateway.confirm(_request(tenant, contact))

    assert outcome.kind is OutcomeKind.ALREADY_OURS
    assert outcome.date_agreed == date(2024, 4, 2)
    assert outcome.detail == (
        "Partner Center already holds a confirmation of this agreement version "
        "with the same contact, accepted 2024-04-02."
    )
    assert store.stats()["posts"] == 0


def test_upstream_when_history_holds_another_contact(
    gateway: LegacyGateway, store: FakeStore, tenant: str, contact: Contact
) -> None:
    store.add_confirmation(
        tenant,
        contact=FakeContact("Min", "Kim", "min@example.com"),
        date_agreed=datetime(2023, 1, 5, tzinfo=UTC),
    )
    store.add_confirmation(
        tenant,
        contact=FakeContact("Ji", "Park", "ji@example.com", "555"),
        date_agreed=datetime(2024, 2, 9, tzinfo=UTC),
    )
    outcome = gateway.confirm(_request(tenant, contact))

    assert outcome.kind is OutcomeKind.UPSTREAM
    assert outcome.date_agreed == date(2024, 2, 9)  # the newest matching item
    assert outcome.contact == Contact("Ji", "Park", "ji@example.com", "555")
    assert "different contact (Ji Park)" in outcome.detail
    assert store.stats()["posts"] == 0


def test_our_entry_wins_over_a_later_one_from_someone_else(
    gateway: LegacyGateway, store: FakeStore, tenant: str, contact: Contact
) -> None:
    store.add_confirmation(
        tenant, contact=_fake(contact), date_agreed=datetime(2024, 1, 1, tzinfo=UTC)
    )
    store.add_confirmation(
        tenant,
        contact=FakeContact("Ji", "Park", "ji@example.com"),
        date_agreed=datetime(2024, 3, 1, tzinfo=UTC),
    )
    outcome = gateway.confirm(_request(tenant, contact))
    assert outcome.kind is OutcomeKind.ALREADY_OURS
    assert outcome.date_agreed == date(2024, 1, 1)


def test_other_versions_do_not_cover_the_request(
    gateway: LegacyGateway, store: FakeStore, fake: FakeServer, tenant: str, contact: Contact
) -> None:
    old = str(uuid.uuid4())
    store.add_confirmation(  # an older Customer Agreement template, same contact
        tenant,
        contact=_fake(contact),
        date_agreed=datetime(2023, 1, 1, tzinfo=UTC),
        template_id=old,
    )
    outcome = gateway.confirm(_request(tenant, contact))
    assert outcome.kind is OutcomeKind.SENT
    assert store.stats()["accepted"] == 1


def test_direct_when_the_customer_accepted_in_the_admin_center(
    gateway: LegacyGateway, store: FakeStore, tenant: str, contact: Contact
) -> None:
    store.set_direct_signed(tenant, True)
    outcome = gateway.confirm(_request(tenant, contact))

    assert outcome.kind is OutcomeKind.DIRECT
    assert outcome.contact is None
    assert "Microsoft 365 admin center" in outcome.detail
    assert store.stats()["posts"] == 0


def test_direct_status_is_only_asked_for_the_customer_agreement(
    gateway: LegacyGateway, store: FakeStore, tenant: str, contact: Contact
) -> None:
    store.set_direct_signed(tenant, True)
    with pytest.raises(Rejected) as caught:  # the Cloud Agreement is closed upstream
        gateway.confirm(
            _request(tenant, contact, agreement_type=CLOUD_AGREEMENT, template_id=CLOUD_TEMPLATE_ID)
        )
    assert "no longer supported" in caught.value.message
    assert not any("directSigned" in r.path for r in store.requests())
    assert store.stats()["posts"] == 1


def test_600061_means_already_ours(
    gateway: LegacyGateway, store: FakeStore, tenant: str, contact: Contact
) -> None:
    # Stored under the other type, the twin is invisible to the typed read but still trips the
    # duplicate rule - the way a confirmation landing between our read and our POST would.
    store.add_confirmation(
        tenant,
        contact=_fake(contact),
        date_agreed=datetime(2024, 4, 1, tzinfo=UTC),
        agreement_type=CLOUD_AGREEMENT,
    )
    outcome = gateway.confirm(_request(tenant, contact))

    assert outcome.kind is OutcomeKind.ALREADY_OURS
    assert outcome.contact == contact
    assert "600061" in outcome.detail
    assert store.stats()["byCustomer"][tenant] == {"posts": 1, "accepted": 0}


def test_business_errors_propagate(
    gateway: LegacyGateway, store: FakeStore, tenant: str, contact: Contact
) -> None:
    future = ConfirmationRequest(
        customer_tenant_id=tenant,
        agreement_type=CUSTOMER_AGREEMENT,
        template_id=CUSTOMER_TEMPLATE_ID,
        date_agreed=datetime.now(UTC).date() + timedelta(days=3),
        contact=contact,
        request_id=str(uuid.uuid4()),
    )
    with pytest.raises(Rejected) as caught:
        gateway.confirm(future)
    assert caught.value.code == "600002"


def test_transient_errors_propagate(
    gateway: LegacyGateway, store: FakeStore, tenant: str, contact: Contact
) -> None:
    store.set_faults({"throttleRate": 1, "retryAfterSeconds": 2})
    with pytest.raises(Transient) as caught:
        gateway.confirm(_request(tenant, contact))
    assert caught.value.retry_after == 2.0
    assert store.stats()["posts"] == 0  # throttled on the first read


def test_retry_after_an_ambiguous_timeout_finds_our_confirmation(
    make_client: MakeClient, store: FakeStore, tenant: str, contact: Contact
) -> None:
    gateway = LegacyGateway(make_client(timeout=0.3))
    request = _request(tenant, contact)
    store.set_faults({"hangAfterCommitRate": 1, "hangSeconds": 1.0})
    with pytest.raises(Transient) as caught:
        gateway.confirm(request)
    assert caught.value.answered is False

    store.set_faults({"hangAfterCommitRate": 0})
    outcome = gateway.confirm(request)

    assert outcome.kind is OutcomeKind.ALREADY_OURS
    assert outcome.date_agreed == date(2024, 5, 1)
    assert store.stats()["byCustomer"][tenant] == {"posts": 1, "accepted": 1}


def test_current_templates(gateway: LegacyGateway) -> None:
    templates = gateway.current_templates(CUSTOMER_AGREEMENT)
    assert [t.template_id for t in templates] == [CUSTOMER_TEMPLATE_ID]


def test_build_gateway(fake: FakeServer, tenant: str) -> None:
    gateway = build_gateway(
        base_url=fake.url, flow="legacy", token_provider=StaticTokenProvider(TOKEN), timeout=5.0
    )
    try:
        assert gateway.flow == "legacy"
        assert isinstance(gateway, LegacyGateway)
        assert gateway.current_templates("*")
    finally:
        gateway.close()
    for flow in ("", "LEGACY", "attested"):
        with pytest.raises(ValueError, match="flow"):
            build_gateway(
                base_url=fake.url, flow=flow, token_provider=StaticTokenProvider(TOKEN), timeout=5.0
            )


@pytest.mark.parametrize(
    ("other", "same"),
    [
        (Contact(" tania ", "CARR", "Tania.Carr@Example.com", "123-456-7890"), True),
        (Contact("Tania", "Carr", "tania.carr@example.com", None), False),
        (Contact("Tania", "Carr", "tania.carr@example.org", "1234567890"), False),
        (Contact("Tanya", "Carr", "tania.carr@example.com", "1234567890"), False),
    ],
)
def test_same_contact(contact: Contact, other: Contact, same: bool) -> None:
    assert same_contact(contact, other) is same
    assert same_contact(Contact("A", "B", "a@b.c", None), Contact("A", "B", "a@b.c", "")) is True
