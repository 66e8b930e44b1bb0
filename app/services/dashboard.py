"""The dashboard: counts by status, what waits longest, what needs attention, confirmations per
day and customers needing re-confirmation, scoped to the acting user like every read.

The provider sees every reseller's data and the forwarding pipeline's health; a reseller sees
its own records, the ledger entries that came from them, and the records it must act on.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, func
from sqlmodel import Session, col, select

from app.models import AcceptanceRecord, Confirmation, Customer, RecordStatus, User, utcnow
from app.security.scoping import customers_query, records_query, scoped_filter
from app.services.forwarding import upstream_paused_until
from app.services.listing import outdated_customer_ids, status_counts

# The records still on their way: waiting for the review, for the worker, for the customer.
OPEN_STATUSES = (
    RecordStatus.SUBMITTED,
    RecordStatus.APPROVED,
    RecordStatus.AWAITING_CUSTOMER,
)
# What a reseller must act on itself: correct a returned record, re-issue a lapsed link.
RESELLER_ACTION_STATUSES = (RecordStatus.RETURNED, RecordStatus.EXPIRED, RecordStatus.FAILED)
# An approved record due this long ago means the sweeper or the workers are not running.
OVERDUE_AFTER = timedelta(minutes=15)
AUTH_FAILED_CODE = "auth_failed"
CHART_DAYS = 30
LIST_SIZE = 10


@dataclass(frozen=True)
class Attention:
    """Failures that need someone: failed records, authentication errors, stuck forwarding.

    For a reseller: its failed, returned and expired records (the last three counts are the
    provider's and stay zero).
    """

    failed: int = 0
    auth_errors: int = 0
    stalled: int = 0  # forwarding, but the worker's lease ran out (the worker died)
    overdue: int = 0  # approved and due for a while, nobody sent it
    returned: int = 0
    expired: int = 0
    paused_until: datetime | None = None
    records: list[AcceptanceRecord] = field(default_factory=list)

    @property
    def total(self) -> int:
        """How many things need attention."""
        return (
            self.failed
            + self.auth_errors
            + self.stalled
            + self.overdue
            + self.returned
            + self.expired
        )


@dataclass(frozen=True)
class DayCount:
    """Confirmations recorded on one day (the viewer's calendar)."""

    day: date
    count: int


@dataclass(frozen=True)
class Dashboard:
    """Everything the dashboard page shows."""

    counts: dict[str, int]
    waiting: list[AcceptanceRecord]
    attention: Attention
    per_day: list[DayCount]
    reconfirmation: int
    taken_at: datetime

    @property
    def confirmations_in_period(self) -> int:
        """The chart's total."""
        return sum(d.count for d in self.per_day)

    def chart_data(self) -> dict[str, Any]:
        """The chart's numbers as JSON-ready data (read by dashboard.js)."""
        return {
            "labels": [d.day.isoformat() for d in self.per_day],
            "counts": [d.count for d in self.per_day],
        }


def _count(session: Session, query: Any) -> int:
    return int(session.exec(query).one())


def _records_count(actor: User, *conditions: Any) -> Any:
    query = select(func.count()).select_from(AcceptanceRecord).where(*conditions)
    return scoped_filter(query, actor)


def waiting_longest(session: Session, *, actor: User, limit: int = LIST_SIZE) -> list[Any]:
    """The open records submitted longest ago (submitted, approved, waiting for the customer)."""
    query = (
        records_query(actor)
        .where(col(AcceptanceRecord.status).in_(OPEN_STATUSES))
        .order_by(col(AcceptanceRecord.created_at), col(AcceptanceRecord.id))
        .limit(limit)
    )
    return list(session.exec(query))


def attention(session: Session, *, actor: User, now: datetime, limit: int = LIST_SIZE) -> Attention:
    """What needs attention, counted, with the most recent such records."""
    status = col(AcceptanceRecord.status)
    listed: ColumnElement[bool]
    if actor.is_provider:
        auth = (status == RecordStatus.APPROVED, AcceptanceRecord.upstream_code == AUTH_FAILED_CODE)
        listed = (status == RecordStatus.FAILED) | (
            (status == RecordStatus.APPROVED) & (AcceptanceRecord.upstream_code == AUTH_FAILED_CODE)
        )
        result = Attention(
            failed=_count(session, _records_count(actor, status == RecordStatus.FAILED)),
            auth_errors=_count(session, _records_count(actor, *auth)),
            stalled=_count(
                session,
                _records_count(
                    actor,
                    status == RecordStatus.FORWARDING,
                    col(AcceptanceRecord.lease_expires_at) <= now,
                ),
            ),
            overdue=_count(
                session,
                _records_count(
                    actor,
                    status == RecordStatus.APPROVED,
                    col(AcceptanceRecord.next_attempt_at) <= now - OVERDUE_AFTER,
                ),
            ),
            paused_until=upstream_paused_until(session, now),
        )
    else:
        counts = status_counts(session, actor=actor)
        listed = status.in_(RESELLER_ACTION_STATUSES)
        result = Attention(
            failed=counts[RecordStatus.FAILED],
            returned=counts[RecordStatus.RETURNED],
            expired=counts[RecordStatus.EXPIRED],
        )
    records = list(
        session.exec(
            records_query(actor)
            .where(listed)
            .order_by(col(AcceptanceRecord.updated_at).desc(), col(AcceptanceRecord.id).desc())
            .limit(limit)
        )
    )
    return replace(result, records=records)


def _hour_bucket(session: Session) -> Any:
    """The hour (UTC) of a ledger entry, on both databases."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date_trunc("hour", Confirmation.created_at)
    return func.strftime("%Y-%m-%d %H:00:00", Confirmation.created_at)


def _as_utc(value: Any) -> datetime:
    moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def confirmations_per_day(
    session: Session, *, actor: User, zone: tzinfo, now: datetime, days: int = CHART_DAYS
) -> list[DayCount]:
    """Ledger entries recorded per day of the viewer's calendar, the last `days` days, oldest
    first, zeros included. A reseller counts the entries of its own records.

    Counted per UTC hour in the database (a portable GROUP BY) and put on the viewer's days
    here; zones whose offset is not whole hours put up to half an hour on the neighbouring day.
    """
    today = now.astimezone(zone).date()
    first = today - timedelta(days=days - 1)
    since = datetime.combine(first, time.min, tzinfo=zone).astimezone(UTC)
    bucket = _hour_bucket(session).label("hour")
    query = select(bucket, func.count()).where(Confirmation.created_at >= since).group_by(bucket)
    if not actor.is_provider:
        own = select(AcceptanceRecord.id).where(
            AcceptanceRecord.reseller_id == actor.organization_id
        )
        query = query.where(col(Confirmation.record_id).in_(own))
    per_day = {first + timedelta(days=n): 0 for n in range(days)}
    for hour, count in session.exec(query):
        day = _as_utc(hour).astimezone(zone).date()
        if day in per_day:
            per_day[day] += int(count)
    return [DayCount(day, count) for day, count in per_day.items()]


def reconfirmation_count(session: Session, *, actor: User) -> int:
    """How many visible customers are confirmed only on an older agreement version (R12)."""
    visible = customers_query(actor).with_only_columns(col(Customer.id))
    query = (
        select(func.count())
        .select_from(Customer)
        .where(col(Customer.id).in_(outdated_customer_ids(session)))
        .where(col(Customer.id).in_(visible))
    )
    return _count(session, query)


def build(session: Session, *, actor: User, zone: tzinfo, now: datetime | None = None) -> Dashboard:
    """The whole dashboard for `actor`, days on `zone`'s calendar."""
    moment = now or utcnow()
    return Dashboard(
        counts=status_counts(session, actor=actor),
        waiting=waiting_longest(session, actor=actor),
        attention=attention(session, actor=actor, now=moment),
        per_day=confirmations_per_day(session, actor=actor, zone=zone, now=moment),
        reconfirmation=reconfirmation_count(session, actor=actor),
        taken_at=moment,
    )
