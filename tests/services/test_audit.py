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


def test_postgres_appends_the_chain_in_one_call(make_app: AppFactory, postgres_url: str) -> None:
    """On PostgreSQL the commit appends the chain with one call (lock, last hash, events) that
    hashes as Python does, whatever the details hold; its read of the last hash never plans a
    sequential scan (a plan made while the table is small would grow with the chain)."""
    engine = make_app(postgres_url).extensions["db_engine"]
    details = {"이름": "김민지", "nested": {"b": [1, 2.5, None, True]}, "a": 'é\n"q"'}
    sent: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        sent.append(statement)

    with new_session(engine) as session:
        for n in range(2):
            record_event(
                session,
                actor=None,
                action="test.event",
                subject_type="test",
                subject_id=f"one-call-{n}",
                organization_id=None,
                details=details,
            )
        sa.event.listen(engine, "before_cursor_execute", note)
        try:
            session.commit()
        finally:
            sa.event.remove(engine, "before_cursor_execute", note)
    assert len(sent) == 1, sent
    assert "audit_append(" in sent[0]
    with new_session(engine, read_only=True) as session:
        stored = session.exec(
            select(AuditEvent).where(col(AuditEvent.subject_id).like("one-call-%"))
        ).all()
        assert [e.details for e in stored] == [details, details]
        assert verify_chain(session).ok
    with engine.connect() as conn:
        config = conn.execute(
            sa.text("SELECT proconfig FROM pg_proc WHERE proname = 'audit_append'")
        ).scalar_one()
    assert config == ["enable_seqscan=off"]
