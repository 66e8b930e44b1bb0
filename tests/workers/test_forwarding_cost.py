"""What forwarding one record costs (issue 7): statements per transaction, the database pool.

The forwarder runs 32 threads on one interpreter; every statement costs CPU under one GIL and a
round trip, so the counts here are budgets: a change that adds a statement to the hot path
must say why (docs/PERFORMANCE.md, "Forwarding").
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event

from app.db import get_engine, get_session
from app.models import AcceptanceRecord, RecordStatus
from app.partner_center.fake_server import FakeServer
from app.partner_center.runtime import gateway
from app.services.forwarding import ForwardingPolicy, forward_record
from tests.conftest import AppFactory
from tests.support import approved, load_users, reread

POLICY = ForwardingPolicy(lease_seconds=30, retry_base_seconds=1, retry_cap_seconds=4)
# Claim: the customer's lock, the record, the current version, the version's ledger entries,
# the upstream pause, the customer's other records, the update, and the audit chain (one call:
# lock, last hash, insert). Record: the lock, the record, the ledger entry (a savepoint around
# the insert), the attestation, the update, the customer's requests, the records to wake, and
# the audit chain.
CLAIM_BUDGET = 8
RECORD_BUDGET = 11


@pytest.fixture
def pg_app(make_app: AppFactory, postgres_url: str, fake_pc: FakeServer) -> Iterator[Flask]:
    app = make_app(postgres_url, PARTNER_CENTER_URL=fake_pc.url)
    with app.app_context():
        yield app


def _transactions(run: Any) -> list[list[str]]:
    """The statements each transaction of `run()` sent, in order."""
    engine = get_engine()
    transactions: list[list[str]] = []

    def begin(_conn: Any) -> None:
        transactions.append([])

    def execute(*args: Any) -> None:
        transactions[-1].append(" ".join(str(args[2]).split()))

    event.listen(engine, "begin", begin)
    event.listen(engine, "before_cursor_execute", execute)
    try:
        run()
    finally:
        event.remove(engine, "begin", begin)
        event.remove(engine, "before_cursor_execute", execute)
    return transactions


def test_forwarding_a_record_stays_within_its_statement_budget(pg_app: Flask) -> None:
    session = get_session()
    users = load_users(session)
    record = approved(session, users.a_submitter, users.reviewer)
    session.commit()

    claim, outcome = _transactions(
        lambda: forward_record(
            record.id or 0,
            engine=get_engine(),
            gateway=gateway(),
            policy=POLICY,
            owner="cost-test",
            clock=lambda: datetime.now(UTC),
        )
    )

    assert reread(session, AcceptanceRecord, record.id).status == RecordStatus.CONFIRMED
    assert len(claim) <= CLAIM_BUDGET, claim
    assert len(outcome) <= RECORD_BUDGET, outcome
    for statements in (claim, outcome):
        # The customer's lock comes first (the record is read once, under it) ...
        assert statements[0].startswith("SELECT customer.")
        assert "FOR UPDATE" in statements[0]
        assert statements[1].startswith("SELECT acceptance_record.")
        # ... and the record is written by one UPDATE per transaction.
        updates = [s for s in statements if s.startswith("UPDATE acceptance_record SET")]
        assert len(updates) == 1, updates
    assert sum("FROM confirmation" in s for s in claim) == 1


def test_the_worker_pool_holds_a_connection_per_thread(
    make_app: AppFactory, postgres_url: str
) -> None:
    from app.db import pool_size_for

    app = make_app(postgres_url, DB_POOL_SIZE=32)
    pool = app.extensions["db_engine"].pool
    assert (pool.size(), pool._max_overflow) == (32, 4)
    web = make_app(postgres_url).extensions["db_engine"].pool
    assert (web.size(), web._max_overflow) == (5, 10)
    assert pool_size_for(None) == pool_size_for(4) == (5, 10)
    assert pool_size_for(8) == (8, 4)
