"""The audit trail: every event chained to the previous one; the database refuses edits."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlmodel import Session, col, select

from app.db import get_session, new_session
from app.models import AuditEvent
from app.services.audit import GENESIS_HASH, event_hash, hashed_fields, record_event
from app.services.audit_log import verify_chain
from tests.conftest import AppFactory
from tests.support import load_users, submit


@pytest.fixture
def session_on(make_app: AppFactory, database_url: str) -> Session:
    app: Flask = make_app(database_url)
    ctx = app.app_context()
    ctx.push()
    yield get_session()
    get_session().rollback()
    ctx.pop()


def test_events_form_an_unbroken_hash_chain(session_on: Session) -> None:
    users = load_users(session_on)
    for _ in range(3):
        submit(session_on, users.a_submitter)
    events = list(session_on.exec(select(AuditEvent).order_by(col(AuditEvent.id))))
    assert len(events) >= 6  # customer created + linked + submitted, three times
    previous = GENESIS_HASH
    for event in events:
        assert event.prev_hash == previous
        assert event.hash == event_hash(previous, hashed_fields(event))
        previous = event.hash


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_event SET action = 'x'", "DELETE FROM audit_event"]
)
def test_database_refuses_to_change_or_delete_events(session_on: Session, statement: str) -> None:
    users = load_users(session_on)
    submit(session_on, users.a_submitter)
    with pytest.raises(sa.exc.DatabaseError, match="append-only"):
        session_on.execute(sa.text(statement))
    session_on.rollback()
    assert session_on.exec(select(sa.func.count()).select_from(AuditEvent)).one() > 0


def _event(session: Session, subject: str) -> None:
    record_event(
        session,
        actor=None,
        action="test.event",
        subject_type="test",
        subject_id=subject,
        organization_id=None,
    )


def _subjects(session: Session) -> list[str]:
    return list(
        session.exec(select(AuditEvent.subject_id).where(AuditEvent.subject_type == "test"))
    )


def test_a_transaction_reads_its_own_events_before_commit(session_on: Session) -> None:
    _event(session_on, "mine")
    assert _subjects(session_on) == ["mine"]
    session_on.rollback()
    assert _subjects(session_on) == []


def test_a_rolled_back_savepoint_drops_only_its_events(session_on: Session) -> None:
    _event(session_on, "kept")
    savepoint = session_on.begin_nested()
    _event(session_on, "dropped")
    savepoint.rollback()
    with session_on.begin_nested():
        _event(session_on, "released")
    session_on.commit()
    assert sorted(_subjects(session_on)) == ["kept", "released"]
    assert verify_chain(session_on).ok


def test_closing_without_commit_writes_nothing(session_on: Session) -> None:
    _event(session_on, "abandoned")
    session_on.close()
    session_on.commit()  # a later transaction of the same session must not carry it
    assert _subjects(session_on) == []


def test_the_chain_lock_is_not_held_before_commit(make_app: AppFactory, postgres_url: str) -> None:
    """An open transaction with an event must not make another writer wait (the lock is taken
    at commit), and concurrent writers still form one unbroken chain."""
    app = make_app(postgres_url)
    engine = app.extensions["db_engine"]
    with new_session(engine) as waiting:
        _event(waiting, "open")
        waiting.execute(sa.text("SELECT 1"))  # the transaction is open
        with new_session(engine) as other:
            other.execute(sa.text("SET LOCAL lock_timeout = '2s'"))
            _event(other, "other")
            other.commit()  # before the change this waited for `waiting` and timed out

        def write(n: int) -> None:
            with new_session(engine) as session:
                for i in range(5):
                    _event(session, f"t{n}-{i}")
                session.commit()

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(write, range(16)))
        waiting.commit()
    with new_session(engine, read_only=True) as session:
        assert len(_subjects(session)) == 2 + 16 * 5
        assert verify_chain(session).ok
