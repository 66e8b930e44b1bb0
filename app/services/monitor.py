"""What the forwarding pipeline is doing, for the provider's monitor and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
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

    def all_records(self) -> list[AcceptanceRecord]:
        """Every record the snapshot lists."""
        return [*self.failed, *self.in_flight, *self.retrying]


PIPELINE = (RecordStatus.APPROVED, RecordStatus.FORWARDING, RecordStatus.FAILED)


def snapshot(session: Session, *, limit: int = 100) -> Snapshot:
    """The pipeline now (provider-only data: callers check the role)."""
    now = utcnow()
    counts = {status.value: 0 for status in PIPELINE}
    for status, count in session.exec(
        select(AcceptanceRecord.status, func.count())
        .where(col(AcceptanceRecord.status).in_(PIPELINE))
        .group_by(AcceptanceRecord.status)
    ):
        counts[status] = count

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
    )


def _aware(value: datetime | None) -> datetime | None:
    # Aggregates bypass the column type: attach UTC to the naive value the database returns.
    if value is None:
        return None
    from datetime import UTC

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
