"""The dashboard's numbers: counts, waiting longest, attention, confirmations per day, R12."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from app.db import get_session
from app.models import (
    AcceptanceRecord,
    AgreementTemplate,
    Confirmation,
    RecordStatus,
)
from app.services import dashboard
from tests.conftest import AppFactory
from tests.support import Users, approved, load_users, submit

SEOUL = ZoneInfo("Asia/Seoul")
NOW = datetime(2026, 3, 31, 3, 0, tzinfo=UTC)  # 12:00 in Seoul


@pytest.fixture
def session(make_app: AppFactory, database_url: str) -> Iterator[Session]:
    app = make_app(database_url)
    with app.app_context():
        yield get_session()


@pytest.fixture
def people(session: Session) -> Users:
    return load_users(session)


def set_fields(session: Session, record: AcceptanceRecord, **values: object) -> None:
    row = session.get_one(AcceptanceRecord, record.id)
    for key, value in values.items():
        setattr(row, key, value)
    session.add(row)
    session.commit()


def confirm(session: Session, record: AcceptanceRecord, at: datetime, template: str) -> None:
    session.add(
        Confirmation(
            customer_id=record.customer_id,
            agreement_type=record.agreement_type,
            template_id=template,
            source="sent",
            record_id=record.id,
            created_at=at,
        )
    )
    session.commit()


def test_counts_waiting_and_attention_for_the_provider(session: Session, people: Users) -> None:
    old = submit(session, people.a_submitter, **{"contact.lastName": "Oldest"})
    set_fields(session, old, created_at=NOW - timedelta(days=9))
    newer = submit(session, people.b_submitter, **{"contact.lastName": "Newer"})
    set_fields(session, newer, created_at=NOW - timedelta(days=2))
    failed = approved(session, people.a_submitter, people.reviewer)
    set_fields(session, failed, status=RecordStatus.FAILED.value, upstream_code="invalid")
    auth = approved(session, people.b_submitter, people.reviewer)
    set_fields(session, auth, upstream_code="auth_failed", next_attempt_at=NOW + timedelta(hours=1))
    stalled = approved(session, people.a_submitter, people.reviewer)
    set_fields(
        session,
        stalled,
        status=RecordStatus.FORWARDING.value,
        lease_expires_at=NOW - timedelta(minutes=1),
    )
    overdue = approved(session, people.a_submitter, people.reviewer)
    set_fields(session, overdue, next_attempt_at=NOW - timedelta(hours=1))
    rejected = submit(session, people.a_submitter)
    set_fields(session, rejected, status=RecordStatus.REJECTED.value)

    board = dashboard.build(session, actor=people.reviewer, zone=SEOUL, now=NOW)
    assert board.counts["submitted"] == 2
    assert board.counts["approved"] == 2
    assert board.counts["rejected"] == 1
    waiting = [r.contact_last_name for r in board.waiting]
    assert waiting[:2] == ["Oldest", "Newer"]
    assert rejected.id not in {r.id for r in board.waiting}
    attention = board.attention
    assert (attention.failed, attention.auth_errors, attention.stalled, attention.overdue) == (
        1,
        1,
        1,
        1,
    )
    assert {r.id for r in attention.records} == {failed.id, auth.id}
    assert attention.total == 4


def test_a_reseller_sees_its_own_numbers_and_what_it_must_do(
    session: Session, people: Users
) -> None:
    submit(session, people.a_submitter)
    returned = submit(session, people.a_submitter)
    set_fields(session, returned, status=RecordStatus.RETURNED.value, status_reason="Fix it")
    theirs = submit(session, people.b_submitter)
    set_fields(session, theirs, status=RecordStatus.FAILED.value)
    board = dashboard.build(session, actor=people.a_submitter, zone=SEOUL, now=NOW)
    assert board.counts["submitted"] == 1
    assert board.counts["failed"] == 0  # B's failure is not A's
    assert (board.attention.returned, board.attention.failed, board.attention.stalled) == (1, 0, 0)
    assert [r.id for r in board.attention.records] == [returned.id]
    assert theirs.id not in {r.id for r in board.waiting}


def test_confirmations_per_day_on_the_viewers_calendar(session: Session, people: Users) -> None:
    ours = submit(session, people.a_submitter)
    theirs = submit(session, people.b_submitter)
    template = ours.template_id
    # 20:30 UTC on the 29th is 05:30 on the 30th in Seoul.
    confirm(session, ours, datetime(2026, 3, 29, 20, 30, tzinfo=UTC), template)
    confirm(session, theirs, datetime(2026, 3, 30, 1, 0, tzinfo=UTC), "other-template")
    session.add(
        Confirmation(
            customer_id=ours.customer_id,
            agreement_type=ours.agreement_type,
            template_id="older",
            source="sent",
            record_id=ours.id,
            created_at=NOW - timedelta(days=40),  # before the chart's period
            state="superseded",
        )
    )
    session.commit()
    provider = dashboard.confirmations_per_day(session, actor=people.reviewer, zone=SEOUL, now=NOW)
    assert len(provider) == 30
    assert provider[-1].day == date(2026, 3, 31)
    assert provider[0].day == date(2026, 3, 2)
    by_day = {d.day: d.count for d in provider}
    assert by_day[date(2026, 3, 30)] == 2
    assert sum(by_day.values()) == 2
    in_utc = dashboard.confirmations_per_day(
        session, actor=people.reviewer, zone=ZoneInfo("UTC"), now=NOW
    )
    assert {d.day: d.count for d in in_utc if d.count} == {
        date(2026, 3, 29): 1,
        date(2026, 3, 30): 1,
    }
    reseller = dashboard.confirmations_per_day(
        session, actor=people.a_submitter, zone=SEOUL, now=NOW
    )
    assert sum(d.count for d in reseller) == 1


def test_customers_needing_reconfirmation_are_counted_per_viewer(
    session: Session, people: Users
) -> None:
    ours = submit(session, people.a_submitter)
    theirs = submit(session, people.b_submitter)
    current = ours.template_id
    confirm(session, ours, NOW, current)
    confirm(session, theirs, NOW, current)
    assert dashboard.reconfirmation_count(session, actor=people.reviewer) == 0
    # A new version becomes current: both customers are now on an older one (R12).
    for template in session.exec(select(AgreementTemplate)):
        template.current = False
        session.add(template)
    session.add(
        AgreementTemplate(
            agreement_type=ours.agreement_type,
            template_id="22222222-2222-4222-8222-222222222222",
            version_rank=9,
            current=True,
        )
    )
    session.commit()
    assert dashboard.reconfirmation_count(session, actor=people.reviewer) == 2
    assert dashboard.reconfirmation_count(session, actor=people.a_submitter) == 1
