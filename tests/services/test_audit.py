"""The audit trail: every event chained to the previous one; the database refuses edits."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlmodel import Session, col, select

from app.db import get_session
from app.models import AuditEvent
from app.services.audit import GENESIS_HASH, event_hash, hashed_fields
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
