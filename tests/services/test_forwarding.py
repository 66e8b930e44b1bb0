"""Forwarding against the fake Partner Center over HTTP, on SQLite and PostgreSQL.

Each test runs the service the worker runs (`forward_record`) and checks both the portal's
records and ledger and what the fake received (`/_fake/stats`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlmodel import Session, select

from app.db import get_engine, get_session
from app.models import AcceptanceRecord, Confirmation, RecordStatus, UpstreamPause
from app.partner_center.fake_models import FakeContact
from app.partner_center.fake_server import FakeServer
from app.partner_center.runtime import gateway
from app.services.forwarding import ForwardingPolicy, due_record_ids, forward_record
from tests.conftest import AppFactory
from tests.support import Users, approved, load_users, new_tenant

POLICY = ForwardingPolicy(
    lease_seconds=30, retry_base_seconds=1, retry_cap_seconds=4, max_attempts=3
)


@dataclass
class World:
    """An app wired to the fake, its session, the users, and a clock the test controls."""

    app: Flask
    db: Session
    users: Users
    fake: FakeServer

    def forward(
        self, record: AcceptanceRecord, *, owner: str = "test-worker", at: datetime | None = None
    ):
        """Run the worker's service for one record."""
        when = at or datetime.now(UTC)
        return forward_record(
            record.id or 0,
            engine=get_engine(),
            gateway=gateway(),
            policy=POLICY,
            owner=owner,
            clock=lambda: when,
        )

    def reload(self, record: AcceptanceRecord) -> AcceptanceRecord:
        """The record as the database holds it now (ending the read, so workers can write)."""
        fresh = self.db.get_one(AcceptanceRecord, record.id)
        self.db.refresh(fresh)
        self.db.commit()
        return fresh

    def stats(self, tenant_id: str) -> dict[str, int]:
        """What the fake received for one customer."""
        by_customer: dict[str, dict[str, int]] = self.fake.store.stats()["byCustomer"]
        return by_customer.get(tenant_id, {"posts": 0, "accepted": 0})


@pytest.fixture
def world(make_app: AppFactory, database_url: str, fake_pc: FakeServer) -> Iterator[World]:
    app = make_app(database_url, PARTNER_CENTER_URL=fake_pc.url, PARTNER_CENTER_TIMEOUT_SECONDS=0.5)
    with app.app_context():
        session = get_session()
        yield World(app=app, db=session, users=load_users(session), fake=fake_pc)
        session.rollback()


def test_approved_record_is_confirmed_once_with_ledger_entry(world: World) -> None:
    record = approved(world.db, world.users.a_submitter, world.users.reviewer)
    tenant = _tenant(world, record)

    result = world.forward(record)

    record = world.reload(record)
    assert (result.outcome, record.status) == ("sent", RecordStatus.CONFIRMED)
    entry = world.db.get_one(Confirmation, record.confirmation_id)
    assert (entry.source, entry.record_id, entry.approved_by_id) == (
        "sent",
        record.id,
        world.users.reviewer.id,
    )
    assert world.stats(tenant) == {"posts": 1, "accepted": 1}
    stored = world.fake.store.confirmations(tenant)[0]
    assert stored.contact.email == "minji.kim@contoso.example"
    assert stored.contact.phone_number == "+82212345678"


def test_second_reseller_for_same_customer_ends_duplicate_without_a_post(world: World) -> None:
    tenant = new_tenant()
    first = approved(
        world.db, world.users.a_submitter, world.users.reviewer, **{"customer.tenantId": tenant}
    )
    second = approved(
        world.db,
        world.users.b_submitter,
        world.users.reviewer,
        **{"customer.tenantId": tenant, "contact.email": "other.person@contoso.example"},
    )
    world.forward(first)
    result = world.forward(second)

    assert result.outcome == "settled"
    second = world.reload(second)
    assert second.status == RecordStatus.DUPLICATE
    assert second.confirmation_id == world.reload(first).confirmation_id
    assert world.stats(tenant) == {"posts": 1, "accepted": 1}


def test_a_record_is_forwarded_once_even_when_run_twice(world: World) -> None:
    record = approved(world.db, world.users.a_submitter, world.users.reviewer)
    world.forward(record)
    again = world.forward(record)
    assert again.outcome == "skipped"
    assert world.stats(_tenant(world, record)) == {"posts": 1, "accepted": 1}


def test_confirmation_already_upstream_with_other_contact_is_a_duplicate(world: World) -> None:
    record = approved(world.db, world.users.a_submitter, world.users.reviewer)
    tenant = _tenant(world, record)
    world.fake.store.add_confirmation(
        tenant,
        contact=FakeContact("Jae", "Park", "jae@contoso.example"),
        date_agreed=datetime(2025, 5, 1, tzinfo=UTC),
    )
    result = world.forward(record)

    record = world.reload(record)
    assert (result.outcome, record.status) == ("upstream", RecordStatus.DUPLICATE)
    assert "already holds" in (record.status_reason or "")
    entry = world.db.get_one(Confirmation, record.confirmation_id)
    assert (entry.source, entry.record_id, entry.contact_email) == (
        "upstream",
        None,
        "jae@contoso.example",
    )
    assert world.stats(tenant)["posts"] == 0


def test_customer_who_accepted_directly_is_not_sent(world: World) -> None:
    record = approved(world.db, world.users.a_submitter, world.users.reviewer)
    tenant = _tenant(world, record)
    world.fake.store.set_direct_signed(tenant, True)
    world.forward(record)
    record = world.reload(record)
    assert record.status == RecordStatus.DUPLICATE
    assert "directly" in (record.status_reason or "")
    assert world.stats(tenant)["posts"] == 0


def test_business_error_fails_with_partner_center_code_and_retry_after_fix(world: World) -> None:
    record = approved(world.db, world.users.a_submitter, world.users.reviewer)
    tenant = _tenant(world, record)
    # Partner Center moved to a new version after the record was approved: it refuses the old.
    world.fake.store.publish_template(
        "MicrosoftCustomerAgreement",
        "aaaaaaaa-1111-2222-3333-444444444444",
        "https://aka.ms/mca2",
        1,
    )
    result = world.forward(record)

    record = world.reload(record)
    assert (result.outcome, record.status) == ("failed", RecordStatus.FAILED)
    assert record.upstream_code == "3000"
    assert record.upstream_message
    assert record.pending_request_id is None
    assert world.stats(tenant) == {"posts": 1, "accepted": 0}


def test_server_errors_are_retried_with_backoff_then_fail_after_max_attempts(world: World) -> None:
    record = approved(world.db, world.users.a_submitter, world.users.reviewer)
    world.fake.store.set_faults({"error5xxRate": 1.0})
    start = datetime.now(UTC)

    result = world.forward(record, at=start)
    record = world.reload(record)
    assert result.outcome == "retry"
    assert record.status == RecordStatus.APPROVED
    assert record.attempts == 1
    assert record.upstream_code in {"500", "502", "503"}
    assert record.next_attempt_at is not None
    assert start + timedelta(seconds=1) <= record.next_attempt_at <= start + timedelta(seconds=4)
    # The failure was on a read (the ask step): it says nothing of an earlier write, so the
    # request id stays for the next attempt's write.
    assert record.pending_request_id is not None
    # Not due yet: nothing happens.
    assert world.forward(record, at=start).outcome == "skipped"

    later = start + timedelta(minutes=1)
    world.forward(record, at=later)
    world.forward(record, at=later + timedelta(minutes=1))
    record = world.reload(record)
    assert record.status == RecordStatus.FAILED
    assert record.attempts == POLICY.max_attempts
    assert "after 3 attempts" in (record.status_reason or "")


def test_timeout_keeps_the_request_id_and_a_landed_request_is_recognised(world: World) -> None:
    record = approved(world.db, world.users.a_submitter, world.users.reviewer)
    tenant = _tenant(world, record)
    world.fake.store.set_faults({"hangAfterCommitRate": 1.0, "hangSeconds": 2})
    start = datetime.now(UTC)

    first = world.forward(record, at=start)
    record = world.reload(record)
    assert first.outcome == "retry"
    assert record.upstream_code == "timeout"
    request_id = record.pending_request_id
    assert request_id is not None

    world.fake.store.set_faults({"hangAfterCommitRate": 0.0})
    second = world.forward(record, at=start + timedelta(minutes=1))
    record = world.reload(record)
    # The ask step finds the confirmation our timed-out request created: ours, not a duplicate.
    assert (second.outcome, record.status) == ("already_ours", RecordStatus.CONFIRMED)
    assert world.stats(tenant) == {"posts": 1, "accepted": 1}
    entry = world.db.get_one(Confirmation, record.confirmation_id)
    world.db.commit()
    assert entry.upstream_request_id == request_id


def test_throttling_pauses_every_worker_for_retry_after(world: World) -> None:
    record = approved(world.db, world.users.a_submitter, world.users.reviewer)
    other = approved(world.db, world.users.b_submitter, world.users.reviewer)
    world.fake.store.set_faults({"throttleRate": 1.0, "retryAfterSeconds": 7})
    start = datetime.now(UTC)

    world.forward(record, at=start)
    pause = world.db.get_one(UpstreamPause, 1)
    world.db.commit()
    assert pause.paused_until >= start + timedelta(seconds=7)
    record = world.reload(record)
    assert record.next_attempt_at is not None
    assert record.next_attempt_at >= start + timedelta(seconds=7)

    world.fake.store.set_faults({"throttleRate": 0.0})
    result = world.forward(other, at=start + timedelta(seconds=1))
    assert result.outcome == "deferred"
    assert world.stats(_tenant(world, other))["posts"] == 0
    assert world.forward(other, at=start + timedelta(seconds=30)).status == RecordStatus.CONFIRMED


def test_worker_lost_mid_flight_is_recovered_with_the_same_request_id(world: World) -> None:
    record = approved(world.db, world.users.a_submitter, world.users.reviewer)
    tenant = _tenant(world, record)
    start = datetime.now(UTC)
    # A worker claimed it, then died: the record sits in forwarding with a lease.
    from app.db import session_scope
    from app.services.forwarding import claim

    with session_scope(get_engine()) as session:
        claimed = claim(
            session, record_id=record.id or 0, now=start, owner="dead", lease_seconds=30
        )
    assert claimed.claim is not None
    request_id = claimed.claim.request.request_id

    assert world.forward(record, at=start + timedelta(seconds=5)).outcome == "skipped"
    with session_scope(get_engine()) as session:
        assert due_record_ids(session, now=start + timedelta(seconds=5)) == []
        assert due_record_ids(session, now=start + timedelta(seconds=31)) == [record.id]
    result = world.forward(record, at=start + timedelta(seconds=31))
    record = world.reload(record)
    assert (result.outcome, record.status) == ("sent", RecordStatus.CONFIRMED)
    assert world.fake.store.confirmations(tenant)[0].request_id == request_id
    assert world.stats(tenant) == {"posts": 1, "accepted": 1}


def test_other_record_of_a_customer_waits_for_the_one_in_flight(world: World) -> None:
    tenant = new_tenant()
    first = approved(
        world.db, world.users.a_submitter, world.users.reviewer, **{"customer.tenantId": tenant}
    )
    second = approved(
        world.db, world.users.b_submitter, world.users.reviewer, **{"customer.tenantId": tenant}
    )
    start = datetime.now(UTC)
    from app.db import session_scope
    from app.services.forwarding import claim

    with session_scope(get_engine()) as session:
        claim(session, record_id=first.id or 0, now=start, owner="busy", lease_seconds=30)
    result = world.forward(second, at=start)
    assert result.outcome == "deferred"
    assert result.retry_at == start + timedelta(seconds=30)
    assert world.stats(tenant)["posts"] == 0


def test_acceptance_dated_today_ahead_of_utc_waits_for_the_utc_day(world: World) -> None:
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date()
    record = approved(world.db, world.users.a_submitter, world.users.reviewer)
    # Intake takes a date that is already today somewhere (up to UTC+14); before 10:00 UTC no
    # zone is a day ahead, so set the date the way such a submission would have stored it.
    record.date_agreed = tomorrow
    world.db.add(record)
    world.db.commit()
    result = world.forward(record)
    assert result.outcome == "deferred"
    assert result.retry_at == datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=UTC)
    assert world.stats(_tenant(world, record))["posts"] == 0


def test_concurrent_workers_confirm_a_customer_once(world: World) -> None:
    """Eight records of one customer from two resellers, forwarded by eight threads at once."""
    tenant = new_tenant()
    records = [
        approved(
            world.db,
            world.users.a_submitter if i % 2 else world.users.b_submitter,
            world.users.reviewer,
            **{"customer.tenantId": tenant, "contact.email": f"person{i}@contoso.example"},
        )
        for i in range(8)
    ]
    world.fake.store.set_faults({"latencyMs": 100})
    barrier = threading.Barrier(len(records))
    errors: list[BaseException] = []

    def run(record: AcceptanceRecord, index: int) -> None:
        try:
            with world.app.app_context():
                barrier.wait()
                world.forward(record, owner=f"worker-{index}")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(r, i)) for i, r in enumerate(records)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    # Those that waited for the one in flight are forwarded again once it is done.
    later = datetime.now(UTC) + timedelta(minutes=2)
    for record in records:
        world.forward(record, at=later)

    statuses = sorted(world.reload(r).status for r in records)
    assert statuses == ["confirmed"] + ["duplicate"] * 7
    assert world.stats(tenant) == {"posts": 1, "accepted": 1}
    assert len(world.db.exec(select(Confirmation).where(Confirmation.state == "active")).all()) == 1


def _tenant(world: World, record: AcceptanceRecord) -> str:
    from app.models import Customer

    tenant_id = world.db.get_one(Customer, record.customer_id).tenant_id
    world.db.commit()
    return tenant_id


def test_sibling_waits_for_a_record_whose_request_got_no_answer(world: World) -> None:
    """X's request landed but timed out; Y must not claim the customer before X asks again."""
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
    world.fake.store.set_faults({"hangAfterCommitRate": 1.0, "hangSeconds": 2})
    start = datetime.now(UTC)
    assert world.forward(first, at=start).outcome == "retry"
    world.fake.store.set_faults({"hangAfterCommitRate": 0.0})

    waiting = world.forward(second, at=start + timedelta(seconds=1))
    assert waiting.outcome == "deferred"
    assert waiting.wake == [first.id]
    # The first one, woken ahead of its backoff, finds its own confirmation upstream.
    assert world.reload(first).next_attempt_at == start + timedelta(seconds=1)
    assert world.forward(first, at=start + timedelta(seconds=1)).outcome == "already_ours"
    assert world.forward(second, at=start + timedelta(seconds=5)).outcome == "settled"

    assert (world.reload(first).status, world.reload(second).status) == ("confirmed", "duplicate")
    assert world.stats(tenant) == {"posts": 1, "accepted": 1}
