"""The review queue's page: one statement, a row-value keyset, filter choices read once a while."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel import Session, col, update

from app.db import get_session
from app.models import AcceptanceRecord, Organization, User
from app.services import agreements, listing
from app.services.listing import CHOICES_TTL_SECONDS, RecordFilter
from tests.conftest import AppFactory
from tests.services.test_search import CUSTOMERS_SQL, RECORDS_SQL, STATUSES
from tests.support import Users, load_users, pages_touched, submit


@pytest.fixture
def session(make_app: AppFactory, database_url: str) -> Iterator[Session]:
    """A session on SQLite and on PostgreSQL."""
    app = make_app(database_url)
    with app.app_context():
        yield get_session()


@pytest.fixture
def people(session: Session) -> Users:
    return load_users(session)


TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def statements(session: Session) -> list[str]:
    """The SQL statements run on the session's engine from now on (a live list; SQLite's
    explicit BEGIN and other transaction control left out)."""
    seen: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if not statement.lstrip().upper().startswith(TRANSACTION_CONTROL):
            seen.append(statement)

    sa.event.listen(session.get_bind().engine, "before_cursor_execute", note)
    return seen


def test_queue_pages_through_ties_on_the_submission_time_without_repeats(
    session: Session, people: Users
) -> None:
    made = [submit(session, people.a_submitter) for _ in range(4)]
    made += [submit(session, people.b_submitter) for _ in range(3)]
    # Same submission time for all: only the id orders them, as the row value (created_at, id).
    moment = datetime(2026, 3, 2, 9, tzinfo=UTC)
    session.exec(update(AcceptanceRecord).values(created_at=moment))
    session.commit()
    ids: list[int] = []
    after = None
    while True:
        page = listing.queue_page(
            session, actor=people.reviewer, filters=RecordFilter(), after=after, limit=2
        )
        ids += [row.id for row in page.items]
        if page.next_after is None:
            break
        assert page.next_after == (moment, ids[-1])
        after = page.next_after
    assert ids == sorted(r.id or 0 for r in made)
    # Each row carries the names the list shows.
    first = listing.queue_page(session, actor=people.reviewer, filters=RecordFilter(), limit=1)
    row = first.items[0]
    assert row.company_name
    assert row.tenant_id
    assert row.reseller_name == session.get_one(Organization, made[0].reseller_id).name


def test_newest_first_lists_page_by_the_row_value_too(session: Session, people: Users) -> None:
    made = [submit(session, people.a_submitter) for _ in range(5)]
    session.exec(update(AcceptanceRecord).values(created_at=datetime(2026, 3, 2, tzinfo=UTC)))
    session.commit()
    seen: list[int] = []
    after = None
    while True:
        page = listing.list_records(
            session, actor=people.a_submitter, filters=RecordFilter(), after=after, limit=2
        )
        seen += [r.id or 0 for r in page.items]
        if page.next_after is None:
            break
        after = page.next_after
    assert seen == sorted((r.id or 0 for r in made), reverse=True)


def test_the_keyset_condition_is_a_row_value() -> None:
    query = listing.records_page_query(
        actor=_provider(),
        filters=RecordFilter(statuses=("submitted",)),
        after=(datetime(2026, 3, 2, tzinfo=UTC), 7),
        oldest_first=True,
    )
    sql = str(query.compile(dialect=postgresql.dialect()))  # type: ignore[no-untyped-call]
    assert re.search(r"\(acceptance_record\.created_at, acceptance_record\.id\) >", sql), sql
    assert " OR " not in sql


def _provider() -> User:
    return User(
        organization_id=1,
        email="p@provider.test",
        name="P",
        role="provider_reviewer",
        password_hash="-",
    )


def test_queue_page_is_one_statement_whatever_the_filters(session: Session, people: Users) -> None:
    for _ in range(3):
        submit(session, people.a_submitter)
    session.commit()
    seen = statements(session)
    filters = RecordFilter(
        statuses=("submitted",),
        reseller_id=people.a_submitter.organization_id,
        template_id="117a77b0-9360-443b-8795-c6dedc750cf9",
    )
    page = listing.queue_page(session, actor=people.reviewer, filters=filters, limit=2)
    assert len(page.items) == 2
    assert len(seen) == 1, seen


def test_filter_choices_are_read_once_per_interval(session: Session, people: Users) -> None:
    seen = statements(session)
    start = time.monotonic()
    first = listing.filter_choices(session, now=start)
    assert len(seen) == 2  # resellers, agreement versions
    resellers = {people.a_submitter.organization_id, people.b_submitter.organization_id}
    assert {org_id for org_id, _name in first.resellers} == resellers
    session.add(Organization(kind="reseller", name="Zeta Cloud"))
    session.commit()
    seen.clear()
    cached = listing.filter_choices(session, now=start + CHOICES_TTL_SECONDS - 1)
    assert seen == []
    assert cached is first
    fresh = listing.filter_choices(session, now=start + CHOICES_TTL_SECONDS + 1)
    assert len(seen) == 2
    assert "Zeta Cloud" in {name for _id, name in fresh.resellers}
    assert [template_id for template_id, _current in fresh.versions] == [
        t.template_id for t in agreements.all_templates(session)
    ]


# --- 100,000 records: the keyset is an index condition even in a generic plan -----------------


def _literal(value: object) -> str:
    """A test value as an SQL literal (times as stored: naive UTC)."""
    if isinstance(value, datetime):
        return f"'{value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=' ')}'"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _generic_plan(session: Session, query: sa.Select[object]) -> str:
    """EXPLAIN ANALYZE of the query as a prepared statement planned generically (the plan
    PostgreSQL may settle on when psycopg prepares a statement it runs often: parameters
    unknown), with the pages it touched."""
    bind = session.get_bind()
    compiled = query.compile(dialect=bind.dialect, compile_kwargs={"render_postcompile": True})
    names = re.findall(r"%\((\w+)\)s", str(compiled))
    numbered = str(compiled)
    for n, name in enumerate(names, start=1):
        numbered = numbered.replace(f"%({name})s", f"${n}", 1)
    arguments = ", ".join(_literal(compiled.params[name]) for name in names)
    with bind.engine.connect() as conn:
        conn.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
        conn.exec_driver_sql(f"PREPARE queue_page AS {numbered}")
        rows = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) EXECUTE queue_page({arguments})")
        plan = "\n".join(row[0] for row in rows)
        conn.exec_driver_sql("DEALLOCATE queue_page")
        conn.rollback()
    return plan


@pytest.mark.postgres
@pytest.mark.timeout(60)
def test_deep_queue_page_is_an_index_range_at_100000_records(
    make_app: AppFactory, postgres_url: str
) -> None:
    app = make_app(postgres_url)
    with app.app_context():
        session = get_session()
        people = load_users(session)
        with app.extensions["db_engine"].begin() as conn:
            conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
            conn.execute(sa.text(CUSTOMERS_SQL))
            conn.execute(
                sa.text(RECORDS_SQL),
                {
                    "a": people.a_submitter.organization_id,
                    "b": people.b_submitter.organization_id,
                    "a_user": people.a_submitter.id,
                    "b_user": people.b_submitter.id,
                    "statuses": STATUSES,
                },
            )
            conn.execute(sa.text("ANALYZE acceptance_record"))
            conn.execute(sa.text("ANALYZE customer"))
        # About 2,000 pages of the 100,000 records in; the queue's own filter (submitted).
        deep = session.exec(
            sa.select(AcceptanceRecord.created_at, AcceptanceRecord.id)  # type: ignore[call-overload]
            .where(col(AcceptanceRecord.id) > 0)
            .order_by(col(AcceptanceRecord.created_at), col(AcceptanceRecord.id))
            .offset(99_000)
            .limit(1)
        ).one()
        for filters in (
            RecordFilter(statuses=("submitted",)),
            RecordFilter(),
            RecordFilter(statuses=("submitted",), reseller_id=people.a_submitter.organization_id),
        ):
            query = listing.queue_page_query(
                actor=people.reviewer, filters=filters, after=(deep[0], deep[1])
            )
            plan = _generic_plan(session, query)
            scan = next(line for line in plan.splitlines() if "on acceptance_record" in line)
            assert "Index" in scan, plan
            assert re.search(r"Index Cond: .*ROW\(created_at, id\) > ROW\(\$\d+, \$\d+\)", plan), (
                plan
            )
            assert "Filter: ((created_at" not in plan, plan
            # Pages, not seconds: a range read touches a few dozen whatever the depth.
            assert pages_touched(plan) < 200, plan
            page = listing.queue_page(
                session, actor=people.reviewer, filters=filters, after=(deep[0], deep[1])
            )
            assert page.items
