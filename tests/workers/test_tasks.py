"""Task bodies, called directly inside the app (the queue itself is tested end to end)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlmodel import Session, select

from app.db import get_session
from app.models import AcceptanceRecord, AgreementTemplate, RecordStatus
from app.partner_center.fake_server import FakeServer
from tests.conftest import AppFactory
from tests.support import Users, approved, load_users, reread
from workers import tasks


@pytest.fixture
def worker_app(make_app: AppFactory, sqlite_url: str, fake_pc: FakeServer) -> Iterator[Flask]:
    app = make_app(sqlite_url, PARTNER_CENTER_URL=fake_pc.url, PARTNER_CENTER_TIMEOUT_SECONDS=1)
    with app.app_context():
        yield app


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[tuple[list[int], float | None]]:
    calls: list[tuple[list[int], float | None]] = []

    def capture(ids: list[int], *, countdown: float | None = None) -> int:
        calls.append(([i for i in ids if i is not None], countdown))
        return len(calls[-1][0])

    monkeypatch.setattr(tasks, "enqueue_forwarding", capture)
    return calls


def _setup(worker_app: Flask) -> tuple[Session, Users]:
    session = get_session()
    return session, load_users(session)


def test_forward_task_confirms_and_wakes_the_customers_other_records(
    worker_app: Flask, fake_pc: FakeServer, published: list[tuple[list[int], float | None]]
) -> None:
    session, users = _setup(worker_app)
    first = approved(
        session,
        users.a_submitter,
        users.reviewer,
        **{"customer.tenantId": "11111111-2222-3333-4444-555555555555"},
    )
    second = approved(
        session,
        users.b_submitter,
        users.reviewer,
        **{"customer.tenantId": "11111111-2222-3333-4444-555555555555"},
    )
    session.commit()

    tasks.forward_acceptance.run(first.id)

    assert reread(session, AcceptanceRecord, first.id).status == RecordStatus.CONFIRMED
    assert published == [([second.id], None)]
    tasks.forward_acceptance.run(second.id)
    assert reread(session, AcceptanceRecord, second.id).status == RecordStatus.DUPLICATE
    assert fake_pc.store.stats()["accepted"] == 1


def test_forward_task_schedules_a_short_retry_as_a_countdown(
    worker_app: Flask, fake_pc: FakeServer, published: list[tuple[list[int], float | None]]
) -> None:
    session, users = _setup(worker_app)
    record = approved(session, users.a_submitter, users.reviewer)
    fake_pc.store.set_faults({"error5xxRate": 1.0})

    tasks.forward_acceptance.run(record.id)

    assert reread(session, AcceptanceRecord, record.id).status == RecordStatus.APPROVED
    ((ids, countdown),) = [call for call in published if call[0]]
    assert ids == [record.id]
    assert countdown is not None
    assert 0 <= countdown <= 60


def test_sweeper_enqueues_due_and_lapsed_records_only(
    worker_app: Flask, published: list[tuple[list[int], float | None]]
) -> None:
    session, users = _setup(worker_app)
    due = approved(session, users.a_submitter, users.reviewer)
    later = approved(session, users.a_submitter, users.reviewer)
    lapsed = approved(session, users.b_submitter, users.reviewer)
    now = datetime.now(UTC)
    # Due for longer than the requeue interval (60 s): its first message may have been lost.
    session.get_one(AcceptanceRecord, due.id).next_attempt_at = now - timedelta(minutes=2)
    session.get_one(AcceptanceRecord, later.id).next_attempt_at = now + timedelta(hours=1)
    stale = session.get_one(AcceptanceRecord, lapsed.id)
    stale.status = RecordStatus.FORWARDING.value
    stale.lease_expires_at = now - timedelta(seconds=1)
    session.commit()

    assert tasks.sweep_forwarding.run() == 2
    assert sorted(published[0][0]) == sorted([due.id, lapsed.id])
    # Within the requeue interval the same records are not enqueued again (no queue flood).
    assert tasks.sweep_forwarding.run() == 0


def test_just_approved_records_are_left_to_their_own_message(
    worker_app: Flask, published: list[tuple[list[int], float | None]]
) -> None:
    session, users = _setup(worker_app)
    approved(session, users.a_submitter, users.reviewer)
    assert tasks.sweep_forwarding.run() == 0


def test_embedded_broker_is_compacted(
    make_app: AppFactory, sqlite_url: str, tmp_path: Path
) -> None:
    import sqlite3

    broker = tmp_path / "broker.sqlite"
    app = make_app(sqlite_url, CELERY_BROKER_URL=f"sqla+sqlite:///{broker}")
    with sqlite3.connect(broker) as conn:
        conn.execute(
            "CREATE TABLE kombu_message (id INTEGER PRIMARY KEY, visible BOOLEAN, sent_at DATETIME)"
        )
        conn.executemany(
            "INSERT INTO kombu_message (visible, sent_at) VALUES (?, ?)",
            [(0, "2020-01-01 00:00:00"), (1, "2020-01-01 00:00:00"), (0, "2999-01-01 00:00:00")],
        )
    with app.app_context():
        assert tasks.compact_embedded_broker.run() == 1
    with sqlite3.connect(broker) as conn:
        assert conn.execute("SELECT count(*) FROM kombu_message").fetchone()[0] == 2


def test_template_sync_makes_the_newest_version_current(
    worker_app: Flask, fake_pc: FakeServer
) -> None:
    new_id = "bbbbbbbb-1111-2222-3333-444444444444"
    fake_pc.store.publish_template("MicrosoftCustomerAgreement", new_id, "https://aka.ms/mca-2", 1)

    assert tasks.sync_agreement_templates.run() == new_id

    session = get_session()
    current = session.exec(select(AgreementTemplate).where(AgreementTemplate.current)).all()
    assert [t.template_id for t in current] == [new_id]
