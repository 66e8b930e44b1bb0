"""Writing audit events: in the caller's transaction, chained by hash to the previous event."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlmodel import Session, col, select

from app.models import AuditEvent, User, utcnow

GENESIS_HASH = "0" * 64
SYSTEM_ACTOR = "system"
# A constant key for PostgreSQL's transaction-level advisory lock that serialises the chain.
_CHAIN_LOCK_KEY = 0x1A7E_A0D1


def event_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    """The SHA-256 of the previous hash and the event's canonical JSON."""
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


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
    if session.get_bind().dialect.name == "postgresql":
        # One writer extends the chain at a time; held until this transaction ends.
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CHAIN_LOCK_KEY})
    last = session.exec(
        select(AuditEvent.hash).order_by(col(AuditEvent.id).desc()).limit(1)
    ).first()
    prev_hash = last or GENESIS_HASH
    event = AuditEvent(
        occurred_at=utcnow(),
        actor_user_id=actor.id if actor else None,
        actor_label=actor.email if actor else SYSTEM_ACTOR,
        organization_id=organization_id,
        action=action,
        subject_type=subject_type,
        subject_id=str(subject_id),
        details=details or {},
        prev_hash=prev_hash,
        hash="",
    )
    event.hash = event_hash(prev_hash, hashed_fields(event))
    session.add(event)
    session.flush()
    return event


def events_for(session: Session, *, subject_type: str, subject_id: str | int) -> list[AuditEvent]:
    """A subject's history, oldest first."""
    return list(
        session.exec(
            select(AuditEvent)
            .where(AuditEvent.subject_type == subject_type)
            .where(AuditEvent.subject_id == str(subject_id))
            .order_by(col(AuditEvent.id))
        )
    )
