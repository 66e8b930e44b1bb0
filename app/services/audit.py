"""Writing audit events: in the caller's transaction, chained by hash to the previous event.

The chain is extended when the transaction commits, not when an event is recorded: extending it
means one writer at a time (PostgreSQL's advisory lock, held until commit), so taking the lock
at the first event would serialise everything the transaction does after it. `record_event`
keeps the event with the session; a `before_commit` hook takes the lock, reads the last hash,
hashes and adds the transaction's events in the order they were recorded. On PostgreSQL that is
one call of the `audit_append` function (migration 0012), so the lock is held for one round
trip and the commit. Reading audit events in the same transaction writes the pending ones
first, so the caller sees its own events, and a rolled-back savepoint drops the events recorded
inside it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import text
from sqlalchemy.orm import ORMExecuteState, SessionTransaction, make_transient_to_detached
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from app.models import AuditEvent, User, utcnow

GENESIS_HASH = "0" * 64
SYSTEM_ACTOR = "system"
# A constant key for PostgreSQL's transaction-level advisory lock that serialises the chain.
_CHAIN_LOCK_KEY = 0x1A7E_A0D1
# session.info key: the events recorded in this transaction, each with the savepoint it was
# recorded in (None outside savepoints), waiting for the commit.
_PENDING = "audit_events_pending"
# An execution option: this read of audit events takes the pending ones from the session itself.
_UNWRITTEN_OK = "audit_unwritten_ok"


def canonical_json(fields: dict[str, Any]) -> str:
    """The event's fields as the hash covers them: sorted keys, no spaces, ASCII only."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)


def event_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    """The SHA-256 of the previous hash and the event's canonical JSON."""
    return hashlib.sha256((prev_hash + canonical_json(fields)).encode()).hexdigest()


def hashed_fields(event: AuditEvent) -> dict[str, Any]:
    """The fields of an event that its hash covers."""
    occurred: datetime = event.occurred_at
    return {
        "occurred_at": occurred.isoformat(),
        "actor_user_id": event.actor_user_id,
        "actor_label": event.actor_label,
        "organization_id": event.organization_id,
        "action": event.action,
        "subject_type": event.subject_type,
        "subject_id": event.subject_id,
        "details": event.details,
    }


def record_event(
    session: Session,
    *,
    actor: User | None,
    action: str,
    subject_type: str,
    subject_id: str | int,
    organization_id: int | None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an audit event; `actor=None` means the system (the forwarding worker)."""
    event = AuditEvent(
        occurred_at=utcnow(),
        actor_user_id=actor.id if actor else None,
        actor_label=actor.email if actor else SYSTEM_ACTOR,
        organization_id=organization_id,
        action=action,
        subject_type=subject_type,
        subject_id=str(subject_id),
        details=details or {},
        prev_hash="",
        hash="",
    )
    if not session.in_transaction():
        session.begin()  # so that closing the session without a commit drops the event
    session.info.setdefault(_PENDING, []).append((event, session.get_nested_transaction()))
    return event


def write_pending(session: OrmSession) -> None:
    """Chain and add the events recorded in this transaction (the commit does it by itself)."""
    pending: list[tuple[AuditEvent, SessionTransaction | None]] = session.info.pop(_PENDING, [])
    if not pending:
        return
    events = [event for event, _savepoint in pending]
    if session.get_bind().dialect.name == "postgresql":
        _append_in_one_call(session, events)
        return
    prev_hash = lock_chain(session)
    for event in events:
        event.prev_hash = prev_hash
        event.hash = event_hash(prev_hash, hashed_fields(event))
        prev_hash = event.hash
        session.add(event)
    session.flush()


_APPEND = text(
    "SELECT out_id, out_prev_hash, out_hash FROM audit_append("
    "CAST(:lock_key AS bigint), CAST(:genesis AS text), CAST(:occurred AS timestamp[]), "
    "CAST(:actor_ids AS integer[]), CAST(:actor_labels AS text[]), "
    "CAST(:organization_ids AS integer[]), CAST(:actions AS text[]), "
    "CAST(:subject_types AS text[]), CAST(:subject_ids AS text[]), CAST(:details AS text[]), "
    "CAST(:canonicals AS text[]))"
)


def _append_in_one_call(session: OrmSession, events: list[AuditEvent]) -> None:
    """PostgreSQL: lock, last hash, hashes and inserts in one round trip (migration 0012); the
    events become the session's persistent rows, as a flush would have made them."""
    rows = session.execute(
        _APPEND,
        {
            "lock_key": _CHAIN_LOCK_KEY,
            "genesis": GENESIS_HASH,
            # Stored as naive UTC, as the UTCDateTime column type stores them.
            "occurred": [e.occurred_at.astimezone(UTC).replace(tzinfo=None) for e in events],
            "actor_ids": [e.actor_user_id for e in events],
            "actor_labels": [e.actor_label for e in events],
            "organization_ids": [e.organization_id for e in events],
            "actions": [e.action for e in events],
            "subject_types": [e.subject_type for e in events],
            "subject_ids": [e.subject_id for e in events],
            "details": [json.dumps(e.details) for e in events],
            "canonicals": [canonical_json(hashed_fields(e)) for e in events],
        },
    ).all()
    for event, (event_id, prev_hash, chained_hash) in zip(events, rows, strict=True):
        event.id, event.prev_hash, event.hash = event_id, prev_hash, chained_hash
        make_transient_to_detached(event)
        session.add(event)


def lock_chain(session: OrmSession) -> str:
    """Take the chain for this transaction (until it ends); the hash to extend it from."""
    if session.get_bind().dialect.name == "postgresql":
        # One writer extends the chain at a time.
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CHAIN_LOCK_KEY})
    last = session.execute(
        select(AuditEvent.hash).order_by(col(AuditEvent.id).desc()).limit(1)
    ).scalar()
    return last or GENESIS_HASH


@sa_event.listens_for(OrmSession, "before_commit")
def _write_on_commit(session: OrmSession) -> None:
    if not session.in_nested_transaction():  # releasing a savepoint is not the commit
        write_pending(session)


@sa_event.listens_for(OrmSession, "do_orm_execute")
def _write_before_reading(state: ORMExecuteState) -> None:
    if (
        state.session.info.get(_PENDING)
        and not state.execution_options.get(_UNWRITTEN_OK)
        and any(mapper.class_ is AuditEvent for mapper in state.all_mappers)
    ):
        write_pending(state.session)


@sa_event.listens_for(OrmSession, "after_soft_rollback")
def _drop_rolled_back(session: OrmSession, previous: SessionTransaction) -> None:
    pending = session.info.get(_PENDING)
    if not pending:
        return
    if previous.parent is None:
        session.info.pop(_PENDING, None)
        return
    session.info[_PENDING] = [
        (event, savepoint) for event, savepoint in pending if not _within(savepoint, previous)
    ]


@sa_event.listens_for(OrmSession, "after_transaction_end")
def _drop_unwritten(session: OrmSession, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # closed without a commit: nothing of it was written
        session.info.pop(_PENDING, None)


def _within(savepoint: SessionTransaction | None, ended: SessionTransaction) -> bool:
    while savepoint is not None:
        if savepoint is ended:
            return True
        savepoint = savepoint.parent
    return False


def pending_events(
    session: Session, *, subject_type: str, subject_id: str | int
) -> list[AuditEvent]:
    """A subject's events recorded in this transaction and not written yet, in order."""
    return [
        event
        for event, _savepoint in session.info.get(_PENDING, [])
        if event.subject_type == subject_type and event.subject_id == str(subject_id)
    ]


def events_for(session: Session, *, subject_type: str, subject_id: str | int) -> list[AuditEvent]:
    """A subject's history, oldest first, with the events this transaction will write.

    Reading it does not write the pending events (which would take the chain's lock early):
    they come last, not yet chained (no id nor hash).
    """
    written = session.exec(
        select(AuditEvent)
        .where(AuditEvent.subject_type == subject_type)
        .where(AuditEvent.subject_id == str(subject_id))
        .order_by(col(AuditEvent.id))
        .execution_options(**{_UNWRITTEN_OK: True})
    )
    pending = pending_events(session, subject_type=subject_type, subject_id=subject_id)
    return [*written, *pending]
