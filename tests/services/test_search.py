"""Search (one box, scoped), the list filters and keyset pages, and the indexes behind them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from app.db import get_session
from app.models import AcceptanceRecord, RecordStatus
from app.services import listing, search
from app.services.listing import CustomerFilter, RecordFilter
from tests.conftest import AppFactory
from tests.support import Users, load_users, pages_touched, submit

TENANT = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"


@pytest.fixture
def session(make_app: AppFactory, database_url: str) -> Iterator[Session]:
    """A session on SQLite and on PostgreSQL."""
    app = make_app(database_url)
    with app.app_context():
        yield get_session()


@pytest.fixture
def people(session: Session) -> Users:
    return load_users(session)


def found(session: Session, actor: object, query: str) -> tuple[set[str], set[str]]:
    """(record public ids, customer tenant ids) the query finds."""
    results = search.search(session, actor=actor, query=query)  # type: ignore[arg-type]
    return {r.public_id for r in results.records}, {c.tenant_id for c in results.customers}


def test_finds_by_record_id_tenant_company_domain_and_contact(
    session: Session, people: Users
) -> None:
    mine = submit(
        session,
        people.a_submitter,
        **{
            "customer.tenantId": TENANT,
            "customer.companyName": "Contoso Korea",
            "customer.domain": "contoso.example",
            "contact.firstName": "Minji",
            "contact.lastName": "Kim",
            "contact.email": "minji.kim@contoso.example",
        },
    )
    other = submit(
        session,
        people.a_submitter,
        **{
            "customer.companyName": "Fabrikam",
            "customer.domain": "fabrikam.example",
            "contact.firstName": "Joon",
            "contact.lastName": "Park",
            "contact.email": "joon@fabrikam.example",
        },
    )
    reviewer = people.reviewer
    assert found(session, reviewer, mine.public_id) == ({mine.public_id}, set())
    assert found(session, reviewer, mine.public_id[:6].upper())[0] >= {mine.public_id}
    for spelling in (TENANT, TENANT.upper(), "{" + TENANT + "}", TENANT.replace("-", "")):
        records, customers = found(session, reviewer, spelling)
        assert customers == {TENANT}, spelling
        assert records == {mine.public_id}, spelling  # the customer's records come along
    assert found(session, reviewer, "ntoso ko")[1] == {TENANT}  # partial, any case
    assert found(session, reviewer, "CONTOSO.EX")[1] == {TENANT}
    assert found(session, reviewer, "minji kim")[0] == {mine.public_id}
    assert found(session, reviewer, "Kim Minji")[0] == {mine.public_id}  # family name first
    assert found(session, reviewer, "JOON@FABRIKAM")[0] == {other.public_id}
    assert found(session, reviewer, "nobody at all") == (set(), set())
    assert found(session, reviewer, "   ") == (set(), set())


def test_like_wildcards_in_the_query_match_themselves(session: Session, people: Users) -> None:
    plain = submit(session, people.a_submitter, **{"customer.companyName": "AxB Trading"})
    underscore = submit(session, people.a_submitter, **{"customer.companyName": "A_B Trading"})
    percent = submit(session, people.a_submitter, **{"customer.companyName": "Save 100% Ltd"})
    slash = submit(session, people.a_submitter, **{"customer.companyName": "Back\\slash Co"})
    tenant = {
        r.public_id: session.get_one(AcceptanceRecord, r.id).customer_id
        for r in (plain, underscore, percent, slash)
    }
    reviewer = people.reviewer
    assert found(session, reviewer, "a_b")[0] == {underscore.public_id}
    assert found(session, reviewer, "100%")[0] == {percent.public_id}
    assert found(session, reviewer, "%%") == (set(), set())
    assert found(session, reviewer, "__") == (set(), set())
    assert found(session, reviewer, "k\\s")[0] == {slash.public_id}
    assert len(tenant) == 4


def test_a_reseller_finds_only_its_own_records_and_customers(
    session: Session, people: Users
) -> None:
    ours = submit(
        session,
        people.a_submitter,
        **{"customer.tenantId": TENANT, "customer.companyName": "Shared as A"},
    )
    theirs = submit(
        session,
        people.b_submitter,
        **{
            "customer.tenantId": TENANT,
            "customer.companyName": "Shared as B",
            "contact.firstName": "Bella",
            "contact.email": "bella@shared.example",
        },
    )
    only_b = submit(
        session,
        people.b_submitter,
        **{"customer.companyName": "Only B Corp", "contact.email": "boris@onlyb.example"},
    )
    a = people.a_submitter
    assert found(session, a, TENANT) == ({ours.public_id}, {TENANT})
    assert found(session, a, "shared as a") == ({ours.public_id}, {TENANT})
    # Another reseller's name for a shared customer, its contacts and its records: nothing.
    assert found(session, a, "Shared as B") == (set(), set())
    assert found(session, a, "bella") == (set(), set())
    assert found(session, a, theirs.public_id) == (set(), set())
    assert found(session, a, "Only B") == (set(), set())
    assert found(session, a, only_b.public_id[:8]) == (set(), set())
    # The provider finds both resellers' records, by either name.
    assert found(session, people.reviewer, "shared as b") == (
        {ours.public_id, theirs.public_id},
        {TENANT},
    )


def test_results_are_capped_and_say_so(session: Session, people: Users) -> None:
    for n in range(4):
        submit(session, people.a_submitter, **{"contact.lastName": f"Capped{n}"})
    results = search.search(session, actor=people.reviewer, query="capped", limit=3)
    assert len(results.records) == 3
    assert results.more_records
    names = [r.contact_last_name for r in results.records]
    assert names == ["Capped3", "Capped2", "Capped1"]  # newest first


def test_record_filters_dates_version_and_keyset_pages(session: Session, people: Users) -> None:
    made = [submit(session, people.a_submitter, **{"contact.lastName": f"N{n}"}) for n in range(5)]
    base = datetime(2026, 3, 1, tzinfo=UTC)
    for n, record in enumerate(made):
        row = session.get_one(AcceptanceRecord, record.id)
        row.created_at = base + timedelta(days=n)
        if n == 4:
            row.template_id = "00000000-0000-4000-8000-000000000004"
        session.add(row)
    session.commit()
    actor = people.reviewer

    def names(filters: RecordFilter, **kwargs: object) -> list[str]:
        page = listing.list_records(session, actor=actor, filters=filters, **kwargs)  # type: ignore[arg-type]
        return [r.contact_last_name for r in page.items]

    assert names(RecordFilter(since=base + timedelta(days=1), until=base + timedelta(days=3))) == [
        "N2",
        "N1",
    ]
    assert names(RecordFilter(template_id="00000000-0000-4000-8000-000000000004")) == ["N4"]
    # Keyset pages, oldest first: every record once, in order, no OFFSET.
    seen: list[str] = []
    after = None
    while True:
        page = listing.list_records(
            session, actor=actor, filters=RecordFilter(), after=after, limit=2, oldest_first=True
        )
        seen += [r.contact_last_name for r in page.items]
        if page.next_after is None:
            break
        after = page.next_after
    assert seen == ["N0", "N1", "N2", "N3", "N4"]


def test_customer_list_pages_by_the_resellers_own_names(session: Session, people: Users) -> None:
    for name in ("Delta", "alpha", "Charlie", "Bravo"):
        submit(session, people.a_submitter, **{"customer.companyName": name})
    submit(session, people.b_submitter, **{"customer.companyName": "Echo of B"})
    submit(
        session,
        people.b_submitter,
        **{"customer.tenantId": TENANT, "customer.companyName": "Zulu as B"},
    )
    submit(
        session,
        people.a_submitter,
        **{"customer.tenantId": TENANT, "customer.companyName": "Foxtrot as A"},
    )
    seen: list[str] = []
    after = None
    while True:
        page = listing.list_customers(
            session, actor=people.a_submitter, filters=CustomerFilter(), after=after, limit=2
        )
        seen += [page.names[c.id or 0] for c in page.items]
        if page.next_after is None:
            break
        after = page.next_after
    assert sorted(seen, key=str) == sorted(
        ["Delta", "alpha", "Charlie", "Bravo", "Foxtrot as A"], key=str
    )
    assert len(seen) == 5  # no page repeats or skips one, B's own customer is absent
    assert "Zulu as B" not in seen
    texts = listing.list_customers(
        session, actor=people.a_submitter, filters=CustomerFilter(text="as b")
    )
    assert texts.items == []
    provider = listing.list_customers(
        session, actor=people.reviewer, filters=CustomerFilter(text="echo")
    )
    assert [c.company_name for c in provider.items] == ["Echo of B"]


# --- 100,000 records: the lists stay index scans ---------------------------------------------

STATUSES = [s.value for s in RecordStatus]
CUSTOMERS_SQL = """
INSERT INTO customer (tenant_id, company_name, cloud, created_at, updated_at)
SELECT md5('tenant' || i)::uuid::text, 'Customer ' || i, 'public', now(), now()
FROM generate_series(1, 2000) AS i
"""
RECORDS_SQL = """
INSERT INTO acceptance_record (
    public_id, customer_id, reseller_id, submitted_by_id, source, agreement_type, template_id,
    date_agreed, contact_first_name, contact_last_name, contact_email, flags, status,
    attempts, version, created_at, updated_at, submitted_at)
SELECT md5('record' || i),
       (SELECT min(id) FROM customer) + (i % 2000),
       CASE WHEN i % 2 = 0 THEN :a ELSE :b END,
       CASE WHEN i % 2 = 0 THEN :a_user ELSE :b_user END,
       'api', 'MicrosoftCustomerAgreement', '117a77b0-9360-443b-8795-c6dedc750cf9',
       DATE '2026-03-02', 'First' || i, 'Last' || i, 'c' || i || '@customer.example', '[]',
       (CAST(:statuses AS text[]))[1 + (i % 12)], 0, 1,
       TIMESTAMP '2025-01-01' + i * INTERVAL '1 minute',
       TIMESTAMP '2025-01-01' + i * INTERVAL '1 minute',
       TIMESTAMP '2025-01-01' + i * INTERVAL '1 minute'
FROM generate_series(1, 100000) AS i
"""


def _plan(session: Session, query: object, *, analyze: bool = False) -> str:
    """EXPLAIN of a SQLAlchemy select as the app runs it (times bound as stored: naive UTC).

    With ``analyze`` the query runs and the plan carries the pages it touched.
    """
    bind = session.get_bind()
    compiled = query.compile(  # type: ignore[attr-defined]
        dialect=bind.dialect, compile_kwargs={"render_postcompile": True}
    )
    params = {
        name: (value.astimezone(UTC).replace(tzinfo=None) if isinstance(value, datetime) else value)
        for name, value in compiled.params.items()
    }
    with bind.connect() as conn:  # type: ignore[union-attr]
        explain = "EXPLAIN (ANALYZE, BUFFERS) " if analyze else "EXPLAIN "
        rows = conn.exec_driver_sql(explain + str(compiled), params)
        return "\n".join(row[0] for row in rows)


@pytest.mark.postgres
@pytest.mark.timeout(300)
def test_lists_use_indexes_at_100000_records(make_app: AppFactory, postgres_url: str) -> None:
    app = make_app(postgres_url)
    with app.app_context():
        session = get_session()
        people = load_users(session)
        with app.extensions["db_engine"].begin() as conn:
            # Bulk rows of known-good keys: skip the per-row foreign-key triggers (superuser).
            conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
            conn.execute(sa.text(CUSTOMERS_SQL))
            # Building the indexes once after the load is many times faster than updating
            # them row by row; the same definitions come back, so the test reads real ones.
            indexes = conn.execute(
                sa.text(
                    "SELECT indexname, indexdef FROM pg_indexes "
                    "WHERE tablename = 'acceptance_record' "
                    "AND indexname NOT IN (SELECT conname FROM pg_constraint)"
                )
            ).all()
            assert "ix_acceptance_record_created" in {name for name, _sql in indexes}
            for name, _sql in indexes:
                conn.execute(sa.text(f'DROP INDEX "{name}"'))
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
            for _name, sql in indexes:
                conn.execute(sa.text(sql))
            conn.execute(sa.text("ANALYZE customer"))
            conn.execute(sa.text("ANALYZE acceptance_record"))
        total = session.exec(sa.select(sa.func.count()).select_from(AcceptanceRecord)).one()
        assert total[0] == 100_000
        middle = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=50_000)
        provider, reseller = people.reviewer, people.a_submitter
        cases = {
            "queue": (provider, RecordFilter(statuses=("submitted",)), True),
            "queue-any-status": (provider, RecordFilter(), True),
            "queue-reseller": (
                provider,
                RecordFilter(statuses=("submitted",), reseller_id=reseller.organization_id),
                True,
            ),
            "reseller-records": (reseller, RecordFilter(), False),
            "reseller-by-status": (reseller, RecordFilter(statuses=("failed",)), False),
            "customer": (provider, RecordFilter(customer_id=1), False),
        }
        for name, (actor, filters, oldest_first) in cases.items():
            for after in (None, (middle, 50_000)):
                query = listing.records_page_query(
                    actor=actor, filters=filters, after=after, oldest_first=oldest_first
                )
                plan = _plan(session, query, analyze=True)
                assert "Seq Scan on acceptance_record" not in plan, (name, after, plan)
                assert "Index" in plan, (name, after, plan)
                # A page touches a few dozen pages of the table and its indexes whatever the
                # depth; a scan of the 100,000 rows would touch thousands. Counting pages, not
                # seconds, keeps the check true on a loaded machine.
                assert pages_touched(plan) < 200, (name, after, plan)
                page = listing.list_records(
                    session, actor=actor, filters=filters, after=after, oldest_first=oldest_first
                )
                assert page.items or name == "customer"
