"""Fault injection in the fake, seen through the real client over HTTP."""

from __future__ import annotations

import time
import uuid
from datetime import date

import pytest

from app.partner_center.auth import StaticTokenProvider
from app.partner_center.client import Contact, CustomerAgreement, PartnerCenterClient
from app.partner_center.errors import Transient
from app.partner_center.fake_models import CUSTOMER_AGREEMENT, CUSTOMER_TEMPLATE_ID
from app.partner_center.fake_server import FakeServer
from app.partner_center.fake_store import FakeStore

from .conftest import MakeClient


def _create(
    client: PartnerCenterClient, tenant: str, contact: Contact, request_id: str
) -> CustomerAgreement:
    return client.create_customer_agreement(
        tenant,
        agreement_type=CUSTOMER_AGREEMENT,
        template_id=CUSTOMER_TEMPLATE_ID,
        date_agreed=date(2024, 5, 1),
        contact=contact,
        request_id=request_id,
    )


def test_throttling_is_transient_with_retry_after(
    client: PartnerCenterClient, store: FakeStore, tenant: str, contact: Contact
) -> None:
    store.set_faults({"throttleRate": 1, "retryAfterSeconds": 7})

    with pytest.raises(Transient) as caught:
        _create(client, tenant, contact, str(uuid.uuid4()))

    error = caught.value
    assert (error.code, error.status, error.retry_after, error.answered) == ("429", 429, 7.0, True)
    assert error.message == "Rate limit is exceeded. Try again in 7 seconds."
    assert store.stats() == {
        "posts": 1,
        "accepted": 0,
        "byCustomer": {tenant: {"posts": 1, "accepted": 0}},
        "faults": {"throttle": 1},
        "attestations": {
            "created": 0,
            "accepted": 0,
            "finalized": 0,
            "expired": 0,
            "byCustomer": {},
        },
    }


def test_server_errors_are_transient_and_answered(
    client: PartnerCenterClient, store: FakeStore, tenant: str
) -> None:
    store.set_faults({"error5xxRate": 1.0, "seed": 3})
    seen = set()
    for _ in range(12):
        with pytest.raises(Transient) as caught:
            client.get_customer_agreements(tenant, CUSTOMER_AGREEMENT)
        assert caught.value.answered is True
        assert caught.value.code == str(caught.value.status)
        seen.add(caught.value.status)
    assert seen <= {500, 502, 503}
    assert len(seen) >= 2  # the seeded generator mixes them


def test_partial_rates_follow_the_seed(store: FakeStore) -> None:
    def pattern() -> list[str | None]:
        store.set_faults({"throttleRate": 0.5, "seed": 42})
        return [store.draw(create_post=False).action for _ in range(40)]

    first, second = pattern(), pattern()
    assert first == second
    assert set(first) == {None, "throttle"}


def test_timeout_is_transient_without_answer_and_nothing_is_stored(
    make_client: MakeClient, store: FakeStore, tenant: str, contact: Contact
) -> None:
    # The hang is far longer than the client's timeout, so giving up early is what ends the
    # call, with seconds to spare on a loaded machine (the store wakes the sleeper at teardown).
    store.set_faults({"timeoutRate": 1, "hangSeconds": 10.0})
    client = make_client(timeout=0.3)

    started = time.monotonic()
    with pytest.raises(Transient) as caught:
        _create(client, tenant, contact, str(uuid.uuid4()))

    assert time.monotonic() - started < 5.0
    assert (caught.value.code, caught.value.answered, caught.value.status) == (
        "timeout",
        False,
        None,
    )
    assert store.confirmations(tenant) == []
    assert store.stats()["byCustomer"][tenant] == {"posts": 1, "accepted": 0}


def test_hang_after_commit_then_retry_with_same_request_id(
    make_client: MakeClient, store: FakeStore, tenant: str, contact: Contact
) -> None:
    store.set_faults({"hangAfterCommitRate": 1, "hangSeconds": 1.0})
    impatient = make_client(timeout=0.3)
    request_id = str(uuid.uuid4())

    with pytest.raises(Transient) as caught:
        _create(impatient, tenant, contact, request_id)
    assert caught.value.answered is False
    assert len(store.confirmations(tenant)) == 1  # it landed although the caller gave up

    store.set_faults({"hangAfterCommitRate": 0})
    retried = _create(impatient, tenant, contact, request_id)

    assert retried.contact == contact
    assert store.stats()["byCustomer"][tenant] == {"posts": 2, "accepted": 1}
    assert len(store.confirmations(tenant)) == 1


def test_latency_delays_answers(client: PartnerCenterClient, store: FakeStore, tenant: str) -> None:
    store.set_faults({"latencyMs": 250})
    started = time.monotonic()
    assert client.get_direct_signed_status(tenant) is False
    assert time.monotonic() - started >= 0.25


def test_transient_errors_say_whether_the_write_failed(fake_pc: FakeServer) -> None:
    """Only a failed write (the call carrying our MS-RequestId) frees that request id."""
    fake_pc.store.set_faults({"error5xxRate": 1.0})
    tenant = str(uuid.uuid4())
    with PartnerCenterClient(fake_pc.url, StaticTokenProvider("t"), timeout=2) as client:
        with pytest.raises(Transient) as read:
            client.get_direct_signed_status(tenant)
        with pytest.raises(Transient) as write:
            client.create_customer_agreement(
                tenant,
                agreement_type="MicrosoftCustomerAgreement",
                template_id="117a77b0-9360-443b-8795-c6dedc750cf9",
                date_agreed=date(2026, 1, 5),
                contact=Contact("Minji", "Kim", "minji@contoso.example"),
                request_id=str(uuid.uuid4()),
            )
    assert (read.value.write, write.value.write) == (False, True)
    assert read.value.answered
    assert write.value.answered
