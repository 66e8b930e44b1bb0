"""Reading the audit trail: verify the hash chain, search it, export it safely."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from app.markers import N_
from app.models import AuditEvent, User
from app.services.audit import GENESIS_HASH, event_hash, hashed_fields
from app.services.errors import PermissionDenied

BATCH = 1000
# A cell starting with one of these is a formula in spreadsheet programs (ASVS 1.2.10).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ChainReport:
    """What `verify_chain` found."""

    events: int
    first_broken_id: int | None
    reason: str | None

    @property
    def ok(self) -> bool:
        """True when every link holds."""
        return self.first_broken_id is None


def verify_chain(session: Session) -> ChainReport:
    """Recompute every hash in order; report the first event whose link is broken."""
    previous = GENESIS_HASH
    count = 0
    last_id = 0
    while True:
        batch = list(
            session.exec(
                select(AuditEvent)
                .where(col(AuditEvent.id) > last_id)
                .order_by(col(AuditEvent.id))
                .limit(BATCH)
            )
        )
        if not batch:
            return ChainReport(events=count, first_broken_id=None, reason=None)
        for event in batch:
            count += 1
            if event.prev_hash != previous:
                return ChainReport(
                    count, event.id, "its previous-hash does not match the event before it"
                )
            if event.hash != event_hash(previous, hashed_fields(event)):
                return ChainReport(count, event.id, "its content does not match its hash")
            previous = event.hash
            last_id = event.id or 0
        session.expunge_all()  # keep memory flat on long trails


@dataclass(frozen=True)
class AuditFilter:
    """What the provider narrows the trail to."""

    action: str | None = None
    actor: str | None = None
    subject_id: str | None = None
    organization_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None


def _require_provider(actor: User) -> None:
    if not actor.is_provider:
        raise PermissionDenied(N_("Only the provider's staff read the audit trail."))


def _query(filters: AuditFilter) -> SelectOfScalar[AuditEvent]:
    query = select(AuditEvent)
    if filters.action:
        query = query.where(col(AuditEvent.action).startswith(filters.action))
    if filters.actor:
        query = query.where(AuditEvent.actor_label == filters.actor.strip().lower())
    if filters.subject_id:
        query = query.where(AuditEvent.subject_id == filters.subject_id.strip())
    if filters.organization_id is not None:
        query = query.where(AuditEvent.organization_id == filters.organization_id)
    if filters.since is not None:
        query = query.where(AuditEvent.occurred_at >= filters.since)
    if filters.until is not None:
        query = query.where(AuditEvent.occurred_at < filters.until)
    return query


def search(
    session: Session, *, actor: User, filters: AuditFilter, before_id: int | None, limit: int = 100
) -> tuple[list[AuditEvent], int | None]:
    """A page of events, newest first, and the id to continue before (keyset)."""
    _require_provider(actor)
    query = _query(filters)
    if before_id is not None:
        query = query.where(col(AuditEvent.id) < before_id)
    rows = list(session.exec(query.order_by(col(AuditEvent.id).desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more and rows else None)


def safe_cell(value: object) -> str:
    """A CSV cell that a spreadsheet shows as text, never runs as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def export_csv(session: Session, *, actor: User, filters: AuditFilter) -> Iterator[str]:
    """The filtered trail as CSV lines, oldest first, streamed in batches."""
    _require_provider(actor)
    header = [
        "id",
        "occurred_at",
        "actor",
        "organization_id",
        "action",
        "subject_type",
        "subject_id",
        "details",
        "prev_hash",
        "hash",
    ]
    yield _line(header)
    last_id = 0
    while True:
        batch = list(
            session.exec(
                _query(filters)
                .where(col(AuditEvent.id) > last_id)
                .order_by(col(AuditEvent.id))
                .limit(BATCH)
            )
        )
        if not batch:
            return
        for event in batch:
            yield _line(
                [
                    event.id,
                    event.occurred_at.isoformat(),
                    event.actor_label,
                    event.organization_id,
                    event.action,
                    event.subject_type,
                    event.subject_id,
                    event.details,
                    event.prev_hash,
                    event.hash,
                ]
            )
            last_id = event.id or 0


def _line(values: Sequence[object]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow([safe_cell(v) for v in values])
    return buffer.getvalue()
