"""The enhanced attestation flow (contract §2.5, R18-R20) through the gateway, over HTTP.

Ask first, create (STARTED), wait (WAITING / LAPSED), finalize (CONFIRMED), and the replays
that make lost answers harmless. The fake's pages and refusals are in test_enhanced_fake.py,
the mapping module in test_enhanced_wire.py.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from app.partner_center.auth import StaticTokenProvider
from app.partner_center.client import Contact
from app.partner_center.errors import Rejected, Transient
from app.partner_center.fake_models import CUSTOMER_AGREEMENT, CUSTOMER_TEMPLATE_ID, FakeContact
from app.partner_center.fake_server import FakeServer
from app.partner_center.fake_store import FakeStore
from app.partner_center.gateway import (
    ConfirmationRequest,
    EnhancedGateway,
    LegacyGateway,
    OutcomeKind,
    PendingAttestation,
    StepKind,
    build_gateway,
)

from .conftest import TOKEN, MakeClient
from .enhanced_support import FIELDS, accept, attestation_stats, make_request, waiting_on


@pytest.fixture
def gateway(fake: FakeServer, make_client: MakeClient) -> EnhancedGateway:
    """An enhanced gateway whose links point at the fake's acceptance page."""
    return EnhancedGateway(make_client(timeout=5.0), acceptance_base_url=f"{fake.url}/mca/")


@pytest.fixture
def request_(tenant: str, contact: Contact) -> ConfirmationRequest:
    """A confirmation request for a fresh customer."""
    return make_request(tenant, contact)


def test_create_starts_with_an_acceptance_link(
    gateway: EnhancedGateway,
    store: FakeStore,
    fake: FakeServer,
    request_: ConfirmationRequest,
    tenant: str,
) -> None:
    step = gateway.advance(request_, None, FIELDS)

    assert step.kind is StepKind.STARTED
    assert step.acceptance_url == f"{fake.url}/mca/?attestationid={step.attestation_id}"
    assert step.expires_at is not None
    lapse = step.expires_at - datetime.now(UTC)
    assert timedelta(days=6, hours=23) < lapse <= timedelta(days=7)
    assert step.detail.startswith("Waiting for the customer to accept the agreement at the link")
    reads = [r for r in store.requests() if r.method == "GET"]
    assert sorted(r.path.rsplit("/", 1)[-1] for r in reads) == [
        "agreements",
        "directSignedMicrosoftCustomerAgreementStatus",
    ]
    [create] = [r for r in store.requests() if r.method == "POST"]
    assert create.path == "/v1/attestations/enhanced"
    assert create.headers["Ms-Requestid"] == request_.request_id
    assert json.loads(create.body) == {
        "customerTenantId": tenant,
        "country": "KR",
        "language": "ko-KR",
        "companyName": "Contoso Korea",
        "signatoryFirstName": "Tania",
        "signatoryLastName": "Carr",
        "signatoryEmail": "tania.carr@example.com",
        "signatoryPhoneNumber": "1234567890",
    }
    assert store.stats()["posts"] == 0  # no confirmation was posted
    assert attestation_stats(store) == {
        "created": 1,
        "accepted": 0,
        "finalized": 0,
        "expired": 0,
        "byCustomer": {tenant: {"created": 1, "live": 1}},
    }


def test_links_point_at_microsoft_by_default(
    make_client: MakeClient, request_: ConfirmationRequest
) -> None:
    step = EnhancedGateway(make_client()).advance(request_, None, FIELDS)
    assert step.acceptance_url == (
        f"https://cdn.partner.microsoft.com/mca/?attestationid={step.attestation_id}"
    )


@pytest.mark.parametrize(
    ("seed", "kind"),
    [
        ("same", OutcomeKind.ALREADY_OURS),
        ("other", OutcomeKind.UPSTREAM),
        ("direct", OutcomeKind.DIRECT),
    ],
)
def test_ask_first_creates_nothing_for_a_covered_customer(
    gateway: EnhancedGateway,
    store: FakeStore,
    request_: ConfirmationRequest,
    tenant: str,
    seed: str,
    kind: OutcomeKind,
) -> None:
    if seed == "direct":
        store.set_direct_signed(tenant)
    else:
        first = "Tania" if seed == "same" else "Ji"
        store.add_confirmation(
            tenant,
            contact=FakeContact(first, "Carr", "tania.carr@example.com", "1234567890"),
            date_agreed=datetime(2024, 4, 2, tzinfo=UTC),
        )
    step = gateway.advance(request_, None, FIELDS)

    assert step.kind is StepKind.CONFIRMED
    assert step.outcome is not None
    assert step.outcome.kind is kind
    assert attestation_stats(store)["created"] == 0
    # A re-confirmation does not count another contact's entry: it starts an attestation.
    if seed == "other":
        again = gateway.advance(replace(request_, reconfirm=True), None, FIELDS)
        assert again.kind is StepKind.STARTED


def test_a_second_live_attestation_is_refused_but_a_replay_is_not(
    gateway: EnhancedGateway, http: httpx.Client, request_: ConfirmationRequest, contact: Contact
) -> None:
    first = gateway.advance(request_, None, FIELDS)
    later = make_request(request_.customer_tenant_id, contact)

    with pytest.raises(Rejected) as caught:
        gateway.advance(later, None, FIELDS)
    assert (caught.value.status, caught.value.code) == (409, "AttestationAlreadyLive")
    assert "live attestation" in caught.value.message

    # A create that got no answer is replayed with ITS request id, not the new request's.
    creating = PendingAttestation(request_.request_id, None, "creating")
    replayed = gateway.advance(later, creating, FIELDS)
    assert replayed.kind is StepKind.STARTED
    assert replayed.attestation_id == first.attestation_id
    assert http.get("/_fake/stats").json()["attestations"]["created"] == 1


def test_waiting_until_accepted_then_confirmed(
    gateway: EnhancedGateway,
    store: FakeStore,
    http: httpx.Client,
    request_: ConfirmationRequest,
    tenant: str,
) -> None:
    pending = waiting_on(gateway.advance(request_, None, FIELDS), request_)
    finalize = replace(request_, request_id=str(uuid.uuid4()))

    waiting = gateway.advance(finalize, pending, FIELDS)
    assert (waiting.kind, waiting.attestation_id) == (StepKind.WAITING, pending.attestation_id)
    accept(http, pending.attestation_id or "")
    done = gateway.advance(finalize, replace(pending, status="accepted"), FIELDS)

    assert done.kind is StepKind.CONFIRMED
    assert done.outcome is not None
    assert done.outcome.kind is OutcomeKind.SENT
    assert done.outcome.date_agreed == date(2024, 5, 1)
    assert done.outcome.detail == (
        f"Partner Center accepted the confirmation for attestation {pending.attestation_id}, "
        "accepted 2024-05-01."
    )
    [stored] = store.confirmations(tenant)
    assert stored.contact.email == "tania.carr@example.com"
    post = [r for r in store.requests() if r.method == "POST"][-1]
    assert post.path == f"/v1/customers/{tenant}/agreements"
    assert post.headers["Ms-Requestid"] == finalize.request_id
    assert json.loads(post.body) == {
        "primaryContact": {
            "firstName": "Tania",
            "lastName": "Carr",
            "email": "tania.carr@example.com",
            "phoneNumber": "1234567890",
        },
        "templateId": CUSTOMER_TEMPLATE_ID,
        "dateAgreed": "2024-05-01T00:00:00.000Z",
        "type": CUSTOMER_AGREEMENT,
        "attestationId": pending.attestation_id,
    }
    stats = store.stats()
    assert stats["byCustomer"][tenant] == {"posts": 1, "accepted": 1}
    assert stats["attestations"]["byCustomer"][tenant] == {"created": 1, "live": 0}
    assert (stats["attestations"]["accepted"], stats["attestations"]["finalized"]) == (1, 1)
    assert store.attestations.live_for(tenant) is None  # finalized: no longer blocks a new one


def test_an_unused_link_lapses(
    gateway: EnhancedGateway, store: FakeStore, request_: ConfirmationRequest, tenant: str
) -> None:
    store.set_faults({"attestationLapseSeconds": 0.2})
    started = gateway.advance(request_, None, FIELDS)
    assert started.expires_at is not None
    assert started.expires_at - datetime.now(UTC) < timedelta(seconds=1)
    time.sleep(0.3)

    lapsed = gateway.advance(request_, waiting_on(started, request_), FIELDS)

    assert lapsed.kind is StepKind.LAPSED
    assert lapsed.detail == "The acceptance link expired before the customer accepted it."
    stats = attestation_stats(store)
    assert (stats["expired"], stats["byCustomer"]) == (1, {tenant: {"created": 1, "live": 0}})
    # A lapsed link no longer blocks: the reseller can re-issue one (R19).
    store.set_faults({"attestationLapseSeconds": 3600})
    reissued = gateway.advance(replace(request_, request_id=str(uuid.uuid4())), None, FIELDS)
    assert reissued.kind is StepKind.STARTED
    assert reissued.attestation_id != started.attestation_id


def test_a_lost_create_answer_is_replayed_by_request_id(
    fake: FakeServer, make_client: MakeClient, store: FakeStore, request_: ConfirmationRequest
) -> None:
    gateway = EnhancedGateway(make_client(timeout=0.5), acceptance_base_url=f"{fake.url}/mca/")
    store.set_faults({"hangAfterCommitRate": 1, "hangSeconds": 1.0})
    with pytest.raises(Transient) as caught:
        gateway.advance(request_, None, FIELDS)
    assert caught.value.answered is False
    store.set_faults({"hangAfterCommitRate": 0})

    creating = PendingAttestation(request_.request_id, None, "creating")
    step = gateway.advance(replace(request_, request_id=str(uuid.uuid4())), creating, FIELDS)

    [made] = store.attestations.all()
    assert step.attestation_id == made.attestation_id
    assert attestation_stats(store)["created"] == 1


def test_a_lost_finalize_answer_is_replayed_by_request_id(
    fake: FakeServer,
    make_client: MakeClient,
    store: FakeStore,
    http: httpx.Client,
    request_: ConfirmationRequest,
    tenant: str,
) -> None:
    gateway = EnhancedGateway(make_client(timeout=0.5), acceptance_base_url=f"{fake.url}/mca/")
    pending = waiting_on(gateway.advance(request_, None, FIELDS), request_)
    accept(http, pending.attestation_id or "")
    finalize = replace(request_, request_id=str(uuid.uuid4()))
    store.set_faults({"hangAfterCommitRate": 1, "hangSeconds": 1.0})

    with pytest.raises(Transient) as caught:
        gateway.advance(finalize, pending, FIELDS)
    assert caught.value.answered is False
    store.set_faults({"hangAfterCommitRate": 0})
    done = gateway.advance(finalize, replace(pending, status="accepted"), FIELDS)

    assert done.outcome is not None
    assert done.outcome.kind is OutcomeKind.SENT
    assert len(store.confirmations(tenant)) == 1
    assert store.stats()["byCustomer"][tenant] == {"posts": 2, "accepted": 1}


def test_a_finalize_refused_after_a_lost_answer_is_the_earlier_success(
    fake: FakeServer,
    make_client: MakeClient,
    store: FakeStore,
    http: httpx.Client,
    request_: ConfirmationRequest,
    tenant: str,
) -> None:
    """The retry carries another request id (no replay): "already finalized", yet confirmed."""
    gateway = EnhancedGateway(make_client(timeout=0.5), acceptance_base_url=f"{fake.url}/mca/")
    pending = waiting_on(gateway.advance(request_, None, FIELDS), request_)
    accept(http, pending.attestation_id or "")
    store.set_faults({"hangAfterCommitRate": 1, "hangSeconds": 1.0})
    with pytest.raises(Transient):
        gateway.advance(replace(request_, request_id=str(uuid.uuid4())), pending, FIELDS)
    store.set_faults({"hangAfterCommitRate": 0})

    step = gateway.advance(replace(request_, request_id=str(uuid.uuid4())), pending, FIELDS)

    assert step.kind is StepKind.CONFIRMED
    assert step.outcome is not None
    assert step.outcome.kind is OutcomeKind.ALREADY_OURS
    assert len(store.confirmations(tenant)) == 1


def test_a_refused_finalize_with_nothing_upstream_stays_refused(
    gateway: EnhancedGateway,
    http: httpx.Client,
    request_: ConfirmationRequest,
) -> None:
    """Another customer's accepted attestation: refused, and nothing covers ours upstream."""
    someone_else = make_request(str(uuid.uuid4()), request_.contact)
    theirs = waiting_on(gateway.advance(someone_else, None, FIELDS), someone_else)
    accept(http, theirs.attestation_id or "")

    with pytest.raises(Rejected) as refused:
        gateway.advance(request_, replace(theirs, request_id=request_.request_id), FIELDS)

    assert refused.value.code == "AttestationNotFound"


def test_a_duplicate_on_finalize_means_already_ours(
    gateway: EnhancedGateway,
    store: FakeStore,
    http: httpx.Client,
    request_: ConfirmationRequest,
    tenant: str,
) -> None:
    pending = waiting_on(gateway.advance(request_, None, FIELDS), request_)
    # Meanwhile someone confirmed with the same contact (e.g. an earlier, lost finalize).
    store.add_confirmation(
        tenant,
        contact=FakeContact("Tania", "Carr", "tania.carr@example.com", "1234567890"),
        date_agreed=datetime(2024, 5, 1, tzinfo=UTC),
    )
    accept(http, pending.attestation_id or "")

    step = gateway.advance(replace(request_, request_id=str(uuid.uuid4())), pending, FIELDS)

    assert step.kind is StepKind.CONFIRMED
    assert step.outcome is not None
    assert step.outcome.kind is OutcomeKind.ALREADY_OURS
    assert "600061" in step.outcome.detail
    assert len(store.confirmations(tenant)) == 1
    assert attestation_stats(store)["byCustomer"] == {tenant: {"created": 1, "live": 0}}


def test_gateway_misuse_is_a_value_error(
    gateway: EnhancedGateway, store: FakeStore, request_: ConfirmationRequest
) -> None:
    with pytest.raises(ValueError, match="advance"):
        gateway.confirm(request_)
    with pytest.raises(ValueError, match="AttestationFields"):
        gateway.advance(request_, None, None)
    for pending in (
        PendingAttestation(request_.request_id, "abc", "finalized"),
        PendingAttestation(request_.request_id, None, "pending"),
    ):
        with pytest.raises(ValueError, match="cannot advance"):
            gateway.advance(request_, pending, FIELDS)
    assert store.requests() == []  # refused before any upstream call


@pytest.fixture
def built(fake: FakeServer) -> Iterator[list[object]]:
    """Gateways made by build_gateway, closed after the test."""
    made: list[object] = []
    yield made
    for gateway in made:
        assert isinstance(gateway, LegacyGateway | EnhancedGateway)
        gateway.close()


def test_build_gateway_enhanced(
    fake: FakeServer, built: list[object], request_: ConfirmationRequest
) -> None:
    def build(acceptance_base_url: str | None = None) -> EnhancedGateway:
        gateway = build_gateway(
            base_url=fake.url,
            flow="enhanced",
            token_provider=StaticTokenProvider(TOKEN),
            timeout=5.0,
            acceptance_base_url=acceptance_base_url,
        )
        built.append(gateway)
        assert isinstance(gateway, EnhancedGateway)
        return gateway

    default, local = build(), build(acceptance_base_url=f"{fake.url}/mca/")
    assert (default.flow, default.uses_attestations) == ("enhanced", True)
    assert (default.advance(request_, None, FIELDS).acceptance_url or "").startswith(
        "https://cdn.partner.microsoft.com/mca/?attestationid="
    )
    other = replace(request_, customer_tenant_id=str(uuid.uuid4()))
    assert (local.advance(other, None, FIELDS).acceptance_url or "").startswith(f"{fake.url}/mca/")
