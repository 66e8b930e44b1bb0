"""The ask step's two reads go out together, and their answers weigh as they did one by one.

A scripted transport answers the calls: the agreements read, the direct-acceptance read, and the
create call. A barrier in the two reads proves they overlap: reads made one after the other
would each wait for the other in vain and fail the test.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import date

import httpx
import pytest

from app.partner_center.auth import StaticTokenProvider
from app.partner_center.client import Contact, PartnerCenterClient
from app.partner_center.errors import Transient
from app.partner_center.fake_models import CUSTOMER_AGREEMENT, CUSTOMER_TEMPLATE_ID
from app.partner_center.gateway import ConfirmationRequest, LegacyGateway, OutcomeKind

CONTACT = Contact("Tania", "Carr", "tania@contoso.example", None)
Handler = Callable[[httpx.Request], httpx.Response]


def _request(*, reconfirm: bool = False) -> ConfirmationRequest:
    return ConfirmationRequest(
        customer_tenant_id=str(uuid.uuid4()),
        agreement_type=CUSTOMER_AGREEMENT,
        template_id=CUSTOMER_TEMPLATE_ID,
        date_agreed=date(2024, 5, 1),
        contact=CONTACT,
        request_id=str(uuid.uuid4()),
        reconfirm=reconfirm,
    )


def _held(email: str) -> dict[str, object]:
    return {
        "templateId": CUSTOMER_TEMPLATE_ID,
        "type": CUSTOMER_AGREEMENT,
        "dateAgreed": "2024-04-02T00:00:00Z",
        "primaryContact": {"firstName": "Tania", "lastName": "Carr", "email": email},
    }


class Upstream:
    """Scripted answers; `calls` lists (method, last path segment) in arrival order."""

    def __init__(
        self,
        *,
        agreements: httpx.Response | None = None,
        direct: httpx.Response | None = None,
        meet: bool = False,
    ) -> None:
        self.agreements = agreements or httpx.Response(200, json={"items": []})
        self.direct = direct or httpx.Response(200, json={"isSigned": False})
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        # Both reads must be under way at once to pass it.
        self._barrier = threading.Barrier(2, timeout=5) if meet else None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        name = request.url.path.rsplit("/", 1)[-1]
        with self._lock:
            self.calls.append((request.method, name))
        if request.method == "POST":
            return httpx.Response(201)
        if self._barrier is not None:
            self._barrier.wait()
        return self.direct if name.startswith("directSigned") else self.agreements


@pytest.fixture
def make_gateway() -> Iterator[Callable[..., LegacyGateway]]:
    gateways: list[LegacyGateway] = []

    def make(upstream: Handler, *, parallel_reads: bool = True) -> LegacyGateway:
        client = PartnerCenterClient(
            "https://pc.test",
            StaticTokenProvider("token"),
            timeout=5,
            transport=httpx.MockTransport(upstream),
        )
        gateway = LegacyGateway(client, parallel_reads=parallel_reads)
        gateways.append(gateway)
        return gateway

    yield make
    for gateway in gateways:
        gateway.close()


def test_the_two_reads_are_under_way_at_once(make_gateway: Callable[..., LegacyGateway]) -> None:
    upstream = Upstream(meet=True)

    outcome = make_gateway(upstream).confirm(_request())

    assert outcome.kind is OutcomeKind.SENT
    assert sorted(upstream.calls[:2]) == [
        ("GET", "agreements"),
        ("GET", "directSignedMicrosoftCustomerAgreementStatus"),
    ]
    assert upstream.calls[2:] == [("POST", "agreements")]


def test_direct_acceptance_counts_when_the_agreements_do_not_cover(
    make_gateway: Callable[..., LegacyGateway],
) -> None:
    upstream = Upstream(direct=httpx.Response(200, json={"isSigned": True}), meet=True)

    outcome = make_gateway(upstream).confirm(_request())

    assert outcome.kind is OutcomeKind.DIRECT
    assert ("POST", "agreements") not in upstream.calls


def test_covering_agreements_win_even_when_the_direct_read_fails(
    make_gateway: Callable[..., LegacyGateway],
) -> None:
    upstream = Upstream(
        agreements=httpx.Response(200, json={"items": [_held(CONTACT.email)]}),
        direct=httpx.Response(503, json={"description": "busy"}),
    )

    outcome = make_gateway(upstream).confirm(_request())

    assert outcome.kind is OutcomeKind.ALREADY_OURS
    assert ("POST", "agreements") not in upstream.calls


def test_the_agreements_error_comes_first(make_gateway: Callable[..., LegacyGateway]) -> None:
    upstream = Upstream(
        agreements=httpx.Response(503, json={"description": "agreements down"}),
        direct=httpx.Response(200, json={"isSigned": True}),
    )

    with pytest.raises(Transient, match="agreements down"):
        make_gateway(upstream).confirm(_request())
    assert ("POST", "agreements") not in upstream.calls


def test_a_failed_direct_read_stops_the_send_when_nothing_covers(
    make_gateway: Callable[..., LegacyGateway],
) -> None:
    upstream = Upstream(direct=httpx.Response(503, json={"description": "direct down"}))

    with pytest.raises(Transient, match="direct down") as caught:
        make_gateway(upstream).confirm(_request())
    assert caught.value.write is False  # a read: the pending request id stays as it was
    assert ("POST", "agreements") not in upstream.calls


def test_a_reconfirmation_does_not_ask_for_the_direct_status(
    make_gateway: Callable[..., LegacyGateway],
) -> None:
    upstream = Upstream(agreements=httpx.Response(200, json={"items": [_held("other@x.test")]}))

    outcome = make_gateway(upstream).confirm(_request(reconfirm=True))

    assert outcome.kind is OutcomeKind.SENT
    assert upstream.calls == [("GET", "agreements"), ("POST", "agreements")]


def test_one_by_one_reads_ask_for_the_direct_status_only_when_needed(
    make_gateway: Callable[..., LegacyGateway],
) -> None:
    covered = Upstream(agreements=httpx.Response(200, json={"items": [_held(CONTACT.email)]}))
    uncovered = Upstream()

    assert make_gateway(covered, parallel_reads=False).confirm(_request()).kind is (
        OutcomeKind.ALREADY_OURS
    )
    make_gateway(uncovered, parallel_reads=False).confirm(_request())

    assert covered.calls == [("GET", "agreements")]
    assert uncovered.calls == [
        ("GET", "agreements"),
        ("GET", "directSignedMicrosoftCustomerAgreementStatus"),
        ("POST", "agreements"),
    ]
