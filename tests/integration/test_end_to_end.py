"""End to end with real processes: web (in-process), Celery worker and beat, the fake over HTTP.

Runs on the embedded default (SQLite + the embedded broker) and on PostgreSQL + Redis.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app.db import get_engine, new_session
from app.models import AcceptanceRecord, Customer, RecordStatus
from app.partner_center.fake_server import FakeServer
from app.services import review
from tests.conftest import AppFactory, login
from tests.integration.processes import celery_beat, celery_worker, running, wait_until
from tests.support import load_users, new_tenant, submit

pytestmark = pytest.mark.slow
FINAL = {RecordStatus.CONFIRMED, RecordStatus.DUPLICATE, RecordStatus.FAILED}


@dataclass
class Stack:
    """The in-process web app and the environment the worker processes share with it."""

    app: Flask
    env: dict[str, str]
    fake: FakeServer
    log_dir: Path

    def statuses(self, ids: list[int]) -> dict[int, str]:
        """Record statuses as the database holds them now."""
        with self.app.app_context():
            session = new_session(get_engine(), read_only=True)
            try:
                rows = session.exec(
                    sa.select(AcceptanceRecord.id, AcceptanceRecord.status).where(
                        AcceptanceRecord.id.in_(ids)  # type: ignore[union-attr]
                    )
                ).all()
                return {row[0]: row[1] for row in rows}
            finally:
                session.close()


@pytest.fixture(params=["embedded", "postgres+redis"])
def stack(request: pytest.FixtureRequest, make_app: AppFactory, tmp_path: Path) -> Iterator[Stack]:
    if request.param == "embedded":
        database_url = request.getfixturevalue("sqlite_url")
        broker_url = f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}"
    else:
        database_url = request.getfixturevalue("postgres_url")
        broker_url = request.getfixturevalue("redis_url")
    with FakeServer() as fake:
        env = {
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": broker_url,
            "PARTNER_CENTER_URL": fake.url,
            "INTAKE_ENV": "testing",
            "SECRET_KEY": "test-secret-key-" + "x" * 32,
            "INSTANCE_DIR": str(tmp_path / "instance"),
            "FORWARD_SWEEP_SECONDS": "2",
            "FORWARD_LEASE_SECONDS": "20",
            "PARTNER_CENTER_FLOW": "legacy",
            "FORWARD_REQUEUE_SECONDS": "3",
        }
        app = make_app(database_url, CELERY_BROKER_URL=broker_url, PARTNER_CENTER_URL=fake.url)
        yield Stack(app=app, env=env, fake=fake, log_dir=tmp_path)


def _approve_in_browser(client: FlaskClient, record: AcceptanceRecord) -> None:
    response = client.post(f"/review/acceptances/{record.public_id}/approve")
    assert response.status_code == 302


def test_two_resellers_same_customer_one_confirmation(stack: Stack) -> None:
    """Records for one customer from two resellers end as one confirmed and one duplicate."""
    tenant = new_tenant()
    with stack.app.app_context():
        session = new_session(get_engine())
        users = load_users(session)
        first = submit(session, users.a_submitter, **{"customer.tenantId": tenant})
        second = submit(
            session,
            users.b_submitter,
            **{"customer.tenantId": tenant, "contact.email": "jae.park@contoso.example"},
        )
        session.close()
    ids = [first.id or 0, second.id or 0]
    client = stack.app.test_client()
    login(client, "reviewer@provider.test")

    worker = celery_worker(stack.env, stack.log_dir)
    beat = celery_beat(stack.env, stack.log_dir)
    with running(worker, beat):
        started = time.monotonic()
        _approve_in_browser(client, first)
        _approve_in_browser(client, second)
        done = wait_until(lambda: set(stack.statuses(ids).values()) <= FINAL, timeout=60)
        elapsed = time.monotonic() - started
        assert done, f"not final after 60 s: {stack.statuses(ids)}\n{worker.log()[-4000:]}"

    assert sorted(stack.statuses(ids).values()) == ["confirmed", "duplicate"]
    # Personal data stays out of the worker's logs (ids and tenant ids only).
    logs = worker.log().lower()
    assert "record" in logs
    assert "@contoso.example" not in logs
    assert "minji" not in logs
    assert "1234 5678" not in logs
    assert "+8221234" not in logs
    stats = stack.fake.store.stats()
    assert stats["byCustomer"][tenant] == {"posts": 1, "accepted": 1}
    print(f"approve to final, two records: {elapsed:.2f} s")  # noqa: T201 (shown with -s)
    if "PRINT_LOGS" in __import__("os").environ:
        print(worker.log())  # noqa: T201


def test_sweeper_sends_an_approval_whose_message_was_lost(stack: Stack) -> None:
    """An approval committed without any message (broker down) is still sent: the outbox."""
    with stack.app.app_context():
        session = new_session(get_engine())
        users = load_users(session)
        record = submit(session, users.a_submitter)
        review.approve(session, actor=users.reviewer, record=record)
        session.commit()  # and no enqueue: as if the broker had been down
        tenant = session.get_one(Customer, record.customer_id).tenant_id
        session.close()

    worker = celery_worker(stack.env, stack.log_dir)
    beat = celery_beat(stack.env, stack.log_dir)
    with running(worker, beat):
        done = wait_until(
            lambda: stack.statuses([record.id or 0]) == {record.id: "confirmed"}, timeout=60
        )
        assert done, (
            f"{stack.statuses([record.id or 0])}\n{beat.log()[-3000:]}\n{worker.log()[-3000:]}"
        )
    assert stack.fake.store.stats()["byCustomer"][tenant] == {"posts": 1, "accepted": 1}


def test_enhanced_loop_link_accept_confirm(stack: Stack) -> None:
    """The 2026 loop (R18-R20) with real processes.

    Approve; the worker creates the attestation; the customer accepts on the (fake) Microsoft
    page; the worker finalizes; a second reseller's record ends duplicate.
    """
    env = {
        **stack.env,
        "PARTNER_CENTER_FLOW": "enhanced",
        "ENHANCED_POLL_BASE_SECONDS": "0.5",
        "ENHANCED_POLL_CAP_SECONDS": "1",
    }
    tenant = new_tenant()
    with stack.app.app_context():
        session = new_session(get_engine())
        users = load_users(session)
        first = submit(session, users.a_submitter, **{"customer.tenantId": tenant})
        second = submit(
            session,
            users.b_submitter,
            **{"customer.tenantId": tenant, "contact.email": "jae.park@contoso.example"},
        )
        session.close()
    ids = [first.id or 0, second.id or 0]
    client = stack.app.test_client()
    login(client, "reviewer@provider.test")
    worker = celery_worker(env, stack.log_dir)
    beat = celery_beat(env, stack.log_dir)
    with running(worker, beat):
        _approve_in_browser(client, first)
        _approve_in_browser(client, second)
        assert wait_until(
            lambda: "awaiting_customer" in stack.statuses(ids).values(), timeout=60
        ), f"{stack.statuses(ids)}\n{worker.log()[-3000:]}"
        (pending,) = [a for a in stack.fake.store.attestations.all() if a.tenant_id == tenant]
        # The customer opens the link and accepts on the page, as a person would.
        page = httpx.get(f"{stack.fake.url}/mca/", params={"attestationid": pending.attestation_id})
        assert page.status_code == 200
        accepted = time.monotonic()
        answer = httpx.post(
            f"{stack.fake.url}/mca/accept", data={"attestationid": pending.attestation_id}
        )
        assert answer.status_code == 200
        done = wait_until(lambda: set(stack.statuses(ids).values()) <= FINAL, timeout=60)
        assert done, f"{stack.statuses(ids)}\n{worker.log()[-3000:]}"
        elapsed = time.monotonic() - accepted
    assert sorted(stack.statuses(ids).values()) == ["confirmed", "duplicate"]
    stats = stack.fake.store.stats()
    assert stats["byCustomer"][tenant] == {"posts": 1, "accepted": 1}
    assert stats["attestations"]["byCustomer"][tenant] == {"created": 1, "live": 0}
    print(f"accepted to confirmed: {elapsed:.2f} s")  # noqa: T201 (shown with -s)
