"""What the forwarding pipeline is doing, for the provider's monitor and the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, func, select

from app.models import AcceptanceRecord, RecordStatus, utcnow
from app.services.forwarding import upstream_paused_until


@dataclass(frozen=True)
class Snapshot:
    """Counts and the records that need eyes."""

    counts: dict[str, int]
    failed: list[AcceptanceRecord]
    in_flight: list[AcceptanceRecord]
    retrying: list[AcceptanceRecord]
    paused_until: datetime | None
    oldest_due: datetime | None
    expired_leases: int
    # Every status (zeros included), the approved records due now, and when all this was read.
    counts_by_status: dict[str, int] = field(default_factory=dict)
    due_now: int = 0
    taken_at: datetime = field(default_factory=utcnow)

    def all_records(self) -> list[AcceptanceRecord]:
        """Every record the snapshot lists."""
        return [*self.failed, *self.in_flight, *self.retrying]


PIPELINE = (RecordStatus.APPROVED, RecordStatus.FORWARDING, RecordStatus.FAILED)


def snapshot(session: Session, *, limit: int = 100) -> Snapshot:
    """The pipeline now (provider-only data: callers check the role)."""
    now = utcnow()
    by_status = {status.value: 0 for status in RecordStatus}
    for status, count in session.exec(
        select(AcceptanceRecord.status, func.count()).group_by(AcceptanceRecord.status)
    ):
        by_status[status] = int(count)
    counts = {status.value: by_status[status.value] for status in PIPELINE}

    def of(status: RecordStatus, order: object) -> list[AcceptanceRecord]:
        return list(
            session.exec(
                select(AcceptanceRecord)
                .where(AcceptanceRecord.status == status)
                .order_by(order)  # type: ignore[arg-type]
                .limit(limit)
            )
        )

    retrying = [
        r
        for r in of(RecordStatus.APPROVED, col(AcceptanceRecord.next_attempt_at))
        if r.upstream_code is not None
    ]
    oldest_due = session.exec(
        select(func.min(AcceptanceRecord.next_attempt_at))
        .where(AcceptanceRecord.status == RecordStatus.APPROVED)
        .where(col(AcceptanceRecord.next_attempt_at) <= now)
    ).one()
    # "Due" as the sweeper reads it (state.due_record_ids): no next attempt time counts as now.
    due_now = session.exec(
        select(func.count())
        .select_from(AcceptanceRecord)
        .where(AcceptanceRecord.status == RecordStatus.APPROVED)
        .where(
            col(AcceptanceRecord.next_attempt_at).is_(None)
            | (col(AcceptanceRecord.next_attempt_at) <= now)
        )
    ).one()
    expired = session.exec(
        select(func.count())
        .select_from(AcceptanceRecord)
        .where(AcceptanceRecord.status == RecordStatus.FORWARDING)
        .where(col(AcceptanceRecord.lease_expires_at) <= now)
    ).one()
    return Snapshot(
        counts=counts,
        failed=of(RecordStatus.FAILED, col(AcceptanceRecord.updated_at).desc()),
        in_flight=of(RecordStatus.FORWARDING, col(AcceptanceRecord.lease_expires_at)),
        retrying=retrying,
        paused_until=upstream_paused_until(session, now),
        oldest_due=_aware(oldest_due),
        expired_leases=int(expired),
        counts_by_status=by_status,
        due_now=int(due_now),
        taken_at=now,
    )


def _aware(value: datetime | None) -> datetime | None:
    # Aggregates bypass the column type: attach UTC to the naive value the database returns.
    if value is None:
        return None
    from datetime import UTC

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
