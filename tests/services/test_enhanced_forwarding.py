"""The 2026 loop (R18-R20) through the worker's service, against the fake over HTTP.

Create the attestation, wait for the customer, finalize; one live attestation per customer;
lapse and re-issue; and a crash at each step, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlmodel import Session, col, select

from app.db import get_engine, get_session, session_scope
from app.models import AcceptanceRecord, Attestation, Confirmation, Customer, RecordStatus
from app.partner_center.fake_server import FakeServer
from app.partner_center.runtime import gateway
from app.services import acceptance as submissions
from app.services.forwarding import ForwardingPolicy, ForwardResult, claim, forward_record
from tests.conftest import AppFactory
from tests.support import Users, approved, load_users, new_tenant, reread

POLICY = ForwardingPolicy(
    lease_seconds=30,
    retry_base_seconds=1,
    retry_cap_seconds=2,
    poll_base_seconds=10,
    poll_cap_seconds=40,
)


@dataclass
class World:
    app: Flask
    db: Session
    users: Users
    fake: FakeServer

    def forward(self, record: AcceptanceRecord, at: datetime, owner: str = "w") -> ForwardResult:
        return forward_record(
            record.id or 0,
            engine=get_engine(),
            gateway=gateway(),
            policy=POLICY,
            owner=owner,
            clock=lambda: at,
        )

    def record(self, record: AcceptanceRecord) -> AcceptanceRecord:
        return reread(self.db, AcceptanceRecord, record.id)

    def attestations(self, record: AcceptanceRecord) -> list[Attestation]:
        rows = list(
            self.db.exec(
                select(Attestation)
                .where(Attestation.customer_id == record.customer_id)
                .order_by(col(Attestation.id))
                .execution_options(populate_existing=True)
            )
        )
        self.db.commit()
        return rows

    def stats(self, tenant: str) -> dict[str, int]:
        by_customer: dict[str, dict[str, int]] = self.fake.store.stats()["attestations"][
            "byCustomer"
        ]
        return by_customer.get(tenant, {"created": 0, "live": 0})

    def accept(self, attestation_id: str) -> None:
        assert self.fake.store.attestations.accept(attestation_id)[0] == "accepted"


@pytest.fixture
def world(make_app: AppFactory, database_url: str, fake_pc: FakeServer) -> Iterator[World]:
    app = make_app(
        database_url,
        PARTNER_CENTER_URL=fake_pc.url,
        PARTNER_CENTER_FLOW="enhanced",
        PARTNER_CENTER_TIMEOUT_SECONDS=0.5,
    )
    with app.app_context():
        session = get_session()
        yield World(app, session, load_users(session), fake_pc)
        session.rollback()


def _tenant(world: World, record: AcceptanceRecord) -> str:
    tenant = world.db.get_one(Customer, record.customer_id).tenant_id
    world.db.commit()
    return tenant


def test_the_loop_create_wait_accept_finalize(world: World) -> None:
    record = approved(world.db, world.users.a_submitter, world.users.reviewer)
    tenant = _tenant(world, record)
    start = datetime.now(UTC)

    started = world.forward(record, start)
    assert started.outcome == "started"
    waiting = world.record(record)
    assert waiting.status == RecordStatus.AWAITING_CUSTOMER
    assert waiting.next_attempt_at == start + timedelta(seconds=10)
    (attestation,) = world.attestations(record)
    assert attestation.status == "pending"
    assert (
        attestation.acceptance_url
        == f"{world.fake.url}/mca/?attestationid={attestation.attestation_id}"
    )
    assert world.stats(tenant) == {"created": 1, "live": 1}
    # Country, language and company went to Partner Center (R18).
    sent = world.fake.store.attestations.get(attestation.attestation_id or "")
    assert sent is not None
    assert (sent.country, sent.language, sent.company_name) == ("KR", "ko-KR", "Contoso Korea")

    assert world.forward(record, start + timedelta(seconds=5)).outcome == "skipped"  # not due
    later = start + timedelta(seconds=10)
    assert world.forward(record, later).outcome == "waiting"
    # R20: the next look comes later and later.
    assert world.record(record).next_attempt_at == later + timedelta(seconds=20)
    assert world.record(record).status == RecordStatus.AWAITING_CUSTOMER

    world.accept(attestation.attestation_id or "")
    done = world.forward(record, later + timedelta(seconds=20))
    assert done.outcome == "sent"
    final = world.record(record)
    assert final.status == RecordStatus.CONFIRMED
    entry = world.db.get_one(Confirmation, final.confirmation_id)
    assert (entry.source, entry.record_id) == ("sent", record.id)
    assert [a.status for a in world.attestations(record)] == ["finalized"]
    assert world.fake.store.stats()["byCustomer"][tenant]["accepted"] == 1


def test_one_live_attestation_per_customer_and_siblings_end_duplicate(world: World) -> None:
    tenant = new_tenant()
    first = approved(
        world.db, world.users.a_submitter, world.users.reviewer, **{"customer.tenantId": tenant}
    )
    second = approved(
        world.db,
        world.users.b_submitter,
        world.users.reviewer,
        **{"customer.tenantId": tenant, "contact.email": "jae.park@contoso.example"},
    )
    now = datetime.now(UTC)
    assert world.forward(first, now).outcome == "started"
    assert world.forward(second, now).outcome == "deferred"  # behind the live attestation
    assert world.stats(tenant) == {"created": 1, "live": 1}

    (attestation,) = world.attestations(first)
    world.accept(attestation.attestation_id or "")
    result = world.forward(first, now + timedelta(seconds=10))
    assert result.outcome == "sent"
    assert result.wake == [second.id]  # woken at once, settles as a duplicate
    assert world.forward(second, now + timedelta(seconds=10)).outcome == "settled"
    assert world.record(second).status == RecordStatus.DUPLICATE
    assert world.stats(tenant) == {"created": 1, "live": 0}


def test_a_lapsed_link_expires_the_record_and_the_next_takes_over(world: World) -> None:
    tenant = new_tenant()
    first = approved(
        world.db, world.users.a_submitter, world.users.reviewer, **{"customer.tenantId": tenant}
    )
    second = approved(
        world.db,
        world.users.b_submitter,
        world.users.reviewer,
        **{"customer.tenantId": tenant, "contact.email": "jae.park@contoso.example"},
    )
    now = datetime.now(UTC)
    world.forward(first, now)
    (attestation,) = world.attestations(first)
    world.fake.store.attestations.expire(attestation.attestation_id or "")

    lapsed = world.forward(first, now + timedelta(seconds=10))
    assert lapsed.outcome == "lapsed"
    assert lapsed.wake == [second.id]
    assert world.record(first).status == RecordStatus.EXPIRED
    # The other reseller's record now creates the customer's (one) live attestation.
    assert world.forward(second, now + timedelta(seconds=10)).outcome == "started"
    assert world.stats(tenant) == {"created": 2, "live": 1}

    # R19: the first reseller re-issues its link while the second one's is live: refused.
    from app.services.errors import InvalidTransition

    with pytest.raises(InvalidTransition):
        submissions.reissue(world.db, actor=world.users.a_submitter, record=world.record(first))
    world.db.rollback()


def test_reissue_asks_for_a_new_link(world: World) -> None:
    record = approved(world.db, world.users.a_submitter, world.users.reviewer)
    tenant = _tenant(world, record)
    now = datetime.now(UTC)
    world.forward(record, now)
    (attestation,) = world.attestations(record)
    world.fake.store.attestations.expire(attestation.attestation_id or "")
    world.forward(record, now + timedelta(seconds=10))
    assert world.record(record).status == RecordStatus.EXPIRED

    submissions.reissue(world.db, actor=world.users.a_submitter, record=world.record(record))
    world.db.commit()
    assert world.forward(record, now + timedelta(seconds=20)).outcome == "started"
    assert world.stats(tenant) == {"created": 2, "live": 1}
    assert sorted(a.status for a in world.attestations(record)) == ["expired", "pending"]


def test_a_create_whose_answer_was_lost_is_replayed_not_repeated(world: World) -> None:
    record = approved(world.db, world.users.a_submitter, world.users.reviewer)
    tenant = _tenant(world, record)
    now = datetime.now(UTC)
    world.fake.store.set_faults({"hangAfterCommitRate": 1.0, "hangSeconds": 2})
    assert world.forward(record, now).outcome == "retry"
    (row,) = world.attestations(record)
    assert (row.status, row.attestation_id) == ("creating", None)
    assert world.stats(tenant)["created"] == 1  # it exists upstream; we did not hear back

    world.fake.store.set_faults({"hangAfterCommitRate": 0.0})
    assert world.forward(record, now + timedelta(minutes=1)).outcome == "started"
    assert world.stats(tenant) == {"created": 1, "live": 1}
    (row,) = world.attestations(record)
    assert row.status == "pending"
    assert row.attestation_id is not None


def test_a_worker_lost_at_each_step_leaves_one_attestation_and_one_confirmation(
    world: World,
) -> None:
    record = approved(world.db, world.users.a_submitter, world.users.reviewer)
    tenant = _tenant(world, record)
    now = datetime.now(UTC)
    # Lost right after claiming (the attestation row exists, nothing was asked upstream).
    with session_scope(get_engine()) as session:
        held = claim(
            session,
            record_id=record.id or 0,
            now=now,
            owner="dead-1",
            lease_seconds=30,
            uses_attestations=True,
        )
    assert held.claim is not None
    assert world.forward(record, now + timedelta(seconds=10)).outcome == "skipped"  # its lease
    assert world.forward(record, now + timedelta(seconds=31)).outcome == "started"
    # Lost while polling: the lease lapses, the next worker polls again.
    (attestation,) = world.attestations(record)
    poll_at = world.record(record).next_attempt_at
    assert poll_at is not None
    with session_scope(get_engine()) as session:
        claim(
            session,
            record_id=record.id or 0,
            now=poll_at,
            owner="dead-2",
            lease_seconds=30,
            uses_attestations=True,
        )
    world.accept(attestation.attestation_id or "")
    assert world.forward(record, poll_at + timedelta(seconds=5)).outcome == "skipped"
    assert world.forward(record, poll_at + timedelta(seconds=31)).outcome == "sent"
    assert world.record(record).status == RecordStatus.CONFIRMED
    assert world.stats(tenant) == {"created": 1, "live": 0}
    assert world.fake.store.stats()["byCustomer"][tenant]["accepted"] == 1
    active = world.db.exec(
        select(Confirmation).where(col(Confirmation.customer_id) == record.customer_id)
    ).all()
    assert len(active) == 1
