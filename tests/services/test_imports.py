"""Bulk CSV import (R15): reading files, row validation with line numbers, idempotency, runs
that repeat or crash, and the sweeper's query; on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlmodel import Session, col, select

from app.db import get_engine, get_session
from app.models import (
    AcceptanceRecord,
    AuditEvent,
    Customer,
    CustomerReseller,
    User,
    utcnow,
)
from app.models.imports import (
    COLUMNS,
    EXAMPLE_ROW,
    MAX_IMPORT_ROWS,
    ImportedAcceptance,
    ImportJob,
    ImportRow,
    ImportStatus,
    RowStatus,
)
from app.services import bulk_import, imports
from app.services.errors import NotFound, PermissionDenied, ValidationFailed
from app.services.import_csv import column_key, parse_csv, template_csv
from tests.conftest import AppFactory
from tests.support import Users, load_users, new_tenant
from workers import tasks

HEADER = list(COLUMNS)


def row(**overrides: str) -> dict[str, str]:
    """A valid row for a fresh customer; `overrides` by column name."""
    values = {**EXAMPLE_ROW, "tenant_id": new_tenant(), "date_agreed": "2026-03-02"}
    values.update(overrides)
    return values


def csv_bytes(
    rows: list[dict[str, str]],
    *,
    header: list[str] | None = None,
    delimiter: str = ",",
    encoding: str = "utf-8",
) -> bytes:
    """A CSV file with `header` (default: the template's columns) and `rows`."""
    names = header or HEADER
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(names)
    for values in rows:
        writer.writerow([values.get(column_key(name), "") for name in names])
    return buffer.getvalue().encode(encoding)


@dataclass
class World:
    """An app on one database, its session and users."""

    app: Flask
    db: Session
    users: Users

    def upload(self, content: bytes, *, user: User | None = None, name: str = "f.csv") -> int:
        """Store a job (committed) and return its id."""
        job = imports.create_job(
            self.db, actor=user or self.users.a_submitter, filename=name, content=content
        )
        self.db.commit()
        return job.id or 0

    def run(self, job_id: int, **kwargs: Any) -> imports.RunResult:
        """Run the worker's service for a job."""
        return imports.run_import(
            job_id, engine=get_engine(), phone_region="KR", default_country="KR", **kwargs
        )

    def job(self, job_id: int) -> ImportJob:
        """The job as committed now."""
        self.db.expire_all()
        job = self.db.get_one(ImportJob, job_id)
        self.db.commit()
        return job

    def rows(self, job_id: int) -> list[ImportRow]:
        """The job's rows in file order, as committed now."""
        self.db.expire_all()
        found = list(
            self.db.exec(
                select(ImportRow).where(ImportRow.job_id == job_id).order_by(col(ImportRow.line))
            )
        )
        self.db.commit()
        return found

    def count(self, model: type[Any]) -> int:
        """Rows of a table."""
        value = self.db.exec(select(sa.func.count()).select_from(model)).one()
        self.db.commit()
        return int(value)


@pytest.fixture
def world(make_app: AppFactory, database_url: str) -> Iterator[World]:
    app = make_app(database_url)
    with app.app_context():
        session = get_session()
        yield World(app=app, db=session, users=load_users(session))
        session.rollback()


@pytest.fixture
def sqlite_world(make_app: AppFactory, sqlite_url: str) -> Iterator[World]:
    app = make_app(sqlite_url)
    with app.app_context():
        session = get_session()
        yield World(app=app, db=session, users=load_users(session))
        session.rollback()


# --- reading files -------------------------------------------------------------------------------


def test_the_template_opens_in_excel_and_reads_back_as_one_example_row() -> None:
    content = template_csv()
    assert content.startswith(b"\xef\xbb\xbf")
    parsed = parse_csv(content)
    assert parsed.columns == HEADER
    assert parsed.encoding == "utf-8-sig"
    assert [cells[0] for _line, cells in parsed.rows] == [EXAMPLE_ROW["tenant_id"]]


@pytest.mark.parametrize(
    ("encoding", "delimiter", "expected"),
    [
        ("utf-8-sig", ",", "utf-8-sig"),
        ("utf-8", ";", "utf-8"),
        ("cp949", ",", "cp949"),
        ("euc-kr", "\t", "cp949"),
        ("utf-16", "\t", "utf-16"),
    ],
)
def test_encodings_and_delimiters_are_detected(
    encoding: str, delimiter: str, expected: str
) -> None:
    content = csv_bytes(
        [row(company_name="콘토소 코리아 주식회사"), row(company_name="Fabrikam; Inc, Korea")],
        delimiter=delimiter,
        encoding=encoding,
    )
    parsed = parse_csv(content)
    assert (parsed.encoding, parsed.delimiter) == (expected, delimiter)
    names = [cells[HEADER.index("company_name")] for _line, cells in parsed.rows]
    assert names == ["콘토소 코리아 주식회사", "Fabrikam; Inc, Korea"]


def test_header_names_ignore_case_spaces_and_camel_case() -> None:
    header = [
        " Tenant ID ",
        "Company Name",
        "DATE-AGREED",
        "firstName",
        "Last name",
        "Email address",
        "Phone",
        "Notes",
    ]
    assert [column_key(h) for h in header] == [
        "tenant_id",
        "company_name",
        "date_agreed",
        "first_name",
        "last_name",
        "email",
        "phone_number",
        "notes",
    ]
    parsed = parse_csv(csv_bytes([row()], header=header))
    assert [str(n) for n in parsed.notes] == ["Columns not used: Notes."]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The file is empty"),
        (b"\xef\xbb\xbf\r\n\r\n", "The file is empty"),
        (b"PK\x03\x04rest-of-a-zip", "Excel workbook"),
        (b"a,b,c\r\n1,2,3\r\n", "must name the columns"),
        (b"tenant_id,email\r\nx,y\r\n", "Required columns are missing: company_name, date_agreed"),
        (b"tenant_id,Tenant ID,company_name\r\n", "more than once: tenant_id"),
        (",".join(COLUMNS).encode() + b"\r\n\r\n", "no rows under it"),
        (b"\xff\xff\xff\xfe\x00\x41", "could not be read"),
    ],
)
def test_files_that_cannot_be_imported_say_why(content: bytes, message: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_csv(content)
    assert message in caught.value.errors["file"][0]


def test_line_numbers_count_the_header_blank_lines_and_quoted_line_breaks() -> None:
    two_lines = row(company_name="Two\r\nlines")
    content = csv_bytes([row(), two_lines, {}, row()])  # {} is a line of empty cells
    text = content.decode().replace("\r\n", "\r\n\r\n", 1)  # a blank line after the header
    parsed = parse_csv(text.encode())
    # header 1, blank 2, row 3, two-line row 4-5, empty cells 6 (skipped), row 7
    assert [line for line, _cells in parsed.rows] == [3, 4, 7]
    assert parsed.rows[1][1][1] == "Two\r\nlines"


def test_more_than_ten_thousand_rows_are_refused_before_anything_is_stored(
    sqlite_world: World,
) -> None:
    line = ",".join(row().values()).encode() + b"\r\n"
    header = ",".join(COLUMNS).encode() + b"\r\n"
    assert len(parse_csv(header + line * MAX_IMPORT_ROWS).rows) == MAX_IMPORT_ROWS
    with pytest.raises(ValidationFailed) as caught:
        sqlite_world.upload(header + line * (MAX_IMPORT_ROWS + 1))
    assert "more than 10,000 rows" in caught.value.errors["file"][0]
    sqlite_world.db.rollback()
    assert sqlite_world.count(ImportJob) == sqlite_world.count(ImportRow) == 0


def test_the_provider_cannot_upload(sqlite_world: World) -> None:
    with pytest.raises(PermissionDenied):
        sqlite_world.upload(csv_bytes([row()]), user=sqlite_world.users.reviewer)


# --- processing ----------------------------------------------------------------------------------


def test_rows_are_submitted_and_failures_name_line_column_and_reason(world: World) -> None:
    future = (datetime.now(UTC).date() + timedelta(days=3)).isoformat()
    content = csv_bytes(
        [
            row(company_name="콘토소 코리아", email="Minji.Kim@Contoso.Example"),  # line 2
            row(email="not-an-email"),  # line 3
            row(date_agreed=future),  # line 4
            row(cloud="usgov"),  # line 5
            EXAMPLE_ROW,  # line 6: the template's example left in
            row(first_name="", phone_number="12"),  # line 7
            row(date_agreed="2026. 3. 4."),  # line 8: Korean Excel's date format
        ]
    )
    job_id = world.upload(content, name="C:\\Users\\me\\고객.csv")
    job = world.job(job_id)
    assert (job.status, job.rows_total, job.rows_done, job.filename) == (
        ImportStatus.QUEUED,
        7,
        0,
        "고객.csv",
    )

    result = world.run(job_id, batch_size=3)

    assert (result.status, result.rows, result.batches) == (ImportStatus.FINISHED, 7, 3)
    job = world.job(job_id)
    assert (job.rows_done, job.rows_created, job.rows_duplicate, job.rows_failed) == (7, 2, 0, 5)
    assert job.started_at is not None
    assert job.finished_at is not None
    rows = world.rows(job_id)
    failures = {
        r.line: [(e["column"], e["message"]) for e in r.errors]
        for r in rows
        if r.status == RowStatus.FAILED
    }
    assert failures[3][0][0] == "email"
    assert "valid email address" in failures[3][0][1]
    assert failures[4] == [("date_agreed", "The acceptance date cannot be in the future.")]
    assert failures[5][0][0] == "cloud"
    assert "public cloud" in failures[5][0][1]
    assert failures[6] == [("tenant_id", "This is the template's example row: delete it.")]
    assert sorted(column for column, _m in failures[7]) == ["first_name", "phone_number"]

    created = [r for r in rows if r.status == RowStatus.CREATED]
    assert [r.line for r in created] == [2, 8]
    records = [world.db.get_one(AcceptanceRecord, r.record_id) for r in created]
    assert [(r.source, r.status, r.reseller_id) for r in records] == [
        ("csv", "submitted", world.users.a_submitter.organization_id)
    ] * 2
    assert records[0].contact_email == "Minji.Kim@contoso.example"
    assert records[1].date_agreed == date(2026, 3, 4)
    link = world.db.exec(
        select(CustomerReseller).where(CustomerReseller.customer_id == records[0].customer_id)
    ).one()
    assert link.company_name == "콘토소 코리아"
    # The failed national-cloud row left no customer behind (its savepoint was rolled back).
    assert world.count(Customer) == 2
    actions = world.db.exec(
        select(AuditEvent.action).where(AuditEvent.subject_id == job.public_id)
    ).all()
    assert actions == ["import.uploaded", "import.finished"]
    # Error messages keep their template so pages can show them translated.
    email_error = next(r for r in rows if r.line == 3).errors[0]
    assert email_error["msgid"].startswith("Enter a valid email address")


def test_a_reupload_of_the_same_rows_creates_nothing_twice(world: World) -> None:
    rows = [row(), row(), row(email="bad")]
    first = world.upload(csv_bytes(rows))
    world.run(first)
    records = world.count(AcceptanceRecord)
    assert records == 2

    # The same rows again, spelled differently (case, spaces, phone format, date format),
    # with one row repeated inside the file and a new one.
    again = [
        {**rows[0], "email": rows[0]["email"].upper().replace("CONTOSO", "contoso")},
        {**rows[1], "tenant_id": rows[1]["tenant_id"].upper(), "phone_number": "02-1234-5678"},
        {**rows[1], "date_agreed": "2026/3/2", "company_name": f" {rows[1]['company_name']} "},
        row(),
    ]
    second = world.upload(csv_bytes(again), user=world.users.a_admin)
    world.run(second)

    job = world.job(second)
    assert (job.rows_created, job.rows_duplicate, job.rows_failed) == (1, 3, 0)
    assert world.count(AcceptanceRecord) == records + 1
    first_rows = {r.line: r.record_id for r in world.rows(first)}
    second_rows = world.rows(second)
    assert [r.record_id for r in second_rows[:3]] == [first_rows[2], first_rows[3], first_rows[3]]
    assert [r.status for r in second_rows] == ["duplicate", "duplicate", "duplicate", "created"]

    # Another reseller's identical rows are its own acceptances.
    third = world.upload(csv_bytes(rows[:1]), user=world.users.b_submitter)
    world.run(third)
    assert world.job(third).rows_created == 1


def test_a_second_run_of_a_finished_job_does_nothing(world: World) -> None:
    job_id = world.upload(csv_bytes([row(), row()]))
    world.run(job_id)
    before = (world.count(AcceptanceRecord), world.count(AuditEvent))

    result = world.run(job_id)

    assert (result.status, result.rows) == (ImportStatus.FINISHED, 0)
    assert (world.count(AcceptanceRecord), world.count(AuditEvent)) == before


def test_a_run_that_crashes_mid_way_is_finished_by_the_next_without_duplicates(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = world.upload(csv_bytes([row() for _ in range(5)]))
    real_values = bulk_import.acceptance.new_record_values
    calls = {"n": 0}

    def crashing_values(*args: Any, **kwargs: Any) -> dict[str, Any]:
        calls["n"] += 1
        if calls["n"] == 4:  # the second batch's second row
            raise RuntimeError("worker lost")
        return real_values(*args, **kwargs)

    monkeypatch.setattr(bulk_import.acceptance, "new_record_values", crashing_values)
    with pytest.raises(RuntimeError):
        world.run(job_id, batch_size=2)
    # The first batch was committed; the crashed one was rolled back as a whole.
    job = world.job(job_id)
    assert (job.status, job.rows_done, job.rows_created) == (ImportStatus.RUNNING, 2, 2)
    assert world.count(AcceptanceRecord) == 2

    monkeypatch.setattr(bulk_import.acceptance, "new_record_values", real_values)
    world.run(job_id, batch_size=2)

    job = world.job(job_id)
    assert (job.status, job.rows_created, job.rows_failed) == (ImportStatus.FINISHED, 5, 0)
    assert world.count(AcceptanceRecord) == world.count(ImportedAcceptance) == 5
    assert world.count(Customer) == 5


@pytest.mark.postgres
def test_two_runs_at_once_take_turns_and_create_each_record_once(
    make_app: AppFactory, postgres_url: str
) -> None:
    app = make_app(postgres_url)
    with app.app_context():
        session = get_session()
        w = World(app=app, db=session, users=load_users(session))
        job_id = w.upload(csv_bytes([row() for _ in range(40)]))
        errors: list[BaseException] = []

        def run() -> None:
            try:
                with app.app_context():
                    w.run(job_id, batch_size=5)
            except BaseException as exc:  # noqa: BLE001 (reported below)
                errors.append(exc)

        threads = [threading.Thread(target=run) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        job = w.job(job_id)
        assert (job.status, job.rows_created, job.rows_done) == (ImportStatus.FINISHED, 40, 40)
        assert w.count(AcceptanceRecord) == w.count(ImportedAcceptance) == 40


def test_a_disabled_uploader_stops_the_job(world: World) -> None:
    job_id = world.upload(csv_bytes([row()]), user=world.users.a_admin)
    admin = world.db.get_one(User, world.users.a_admin.id)
    admin.active = False
    world.db.add(admin)
    world.db.commit()

    assert world.run(job_id).status == ImportStatus.FAILED
    job = world.job(job_id)
    assert "disabled" in job.errors[-1]["message"]
    assert world.count(AcceptanceRecord) == 0


def test_lines_with_too_many_values_fail_at_upload(world: World) -> None:
    good = ",".join(row().values())
    content = (",".join(COLUMNS) + "\r\n" + good + "\r\n" + good + ",extra\r\n").encode()
    job_id = world.upload(content)
    job = world.job(job_id)
    assert (job.rows_total, job.rows_failed) == (2, 1)
    world.run(job_id)
    rows = world.rows(job_id)
    assert [r.status for r in rows] == ["created", "failed"]
    assert "14 values but the header has 13 columns" in rows[1].errors[0]["message"]


def test_failed_rows_come_back_in_the_files_columns_and_reimport_once_fixed(
    world: World,
) -> None:
    header = ["Tenant ID", "Company name", "Date agreed", "First name", "Last name", "Email"]
    header += ["Phone", "Notes"]
    bad = row(email="=HYPERLINK(1)", phone_number="+82 2 1234 5678", company_name="콘토소")
    content = csv_bytes([row(), bad], header=header, delimiter=";", encoding="cp949")
    job_id = world.upload(content)
    world.run(job_id)
    job = world.job(job_id)

    download = "".join(imports.failed_rows_csv(world.db, job))

    assert download.startswith("\ufeff")
    lines = list(csv.reader(io.StringIO(download.lstrip("\ufeff"))))
    assert lines[0] == [*header, "error"]
    assert len(lines) == 2
    values = dict(zip(lines[0], lines[1], strict=True))
    assert values["Email"] == "'=HYPERLINK(1)"  # shown as text, never run as a formula
    assert values["Phone"] == "+82 2 1234 5678"
    assert values["Company name"] == "콘토소"
    assert values["error"].startswith("email: Enter a valid email address")

    # The person corrects the email in the downloaded file and uploads it again.
    lines[1][header.index("Email")] = "fixed@contoso.example"
    buffer = io.StringIO()
    csv.writer(buffer).writerows(lines)
    again = world.upload(("\ufeff" + buffer.getvalue()).encode())
    world.run(again)
    fixed = world.job(again)
    assert (fixed.rows_created, fixed.rows_failed) == (1, 0)
    # The added "error" column is expected back: only the file's own extra column is noted.
    assert [e["message"] for e in fixed.errors] == ["Columns not used: Notes."]


def test_another_resellers_job_is_not_found(world: World) -> None:
    job_id = world.upload(csv_bytes([row()]))
    public_id = world.job(job_id).public_id
    assert imports.get_job(world.db, world.users.a_admin, public_id).id == job_id
    with pytest.raises(NotFound):
        imports.get_job(world.db, world.users.b_submitter, public_id)
    assert imports.list_jobs(world.db, actor=world.users.b_submitter) == []


def test_the_sweeper_resends_only_stalled_active_jobs(world: World) -> None:
    stalled = world.upload(csv_bytes([row()]))
    fresh = world.upload(csv_bytes([row()]))
    done = world.upload(csv_bytes([row()]))
    world.run(done)
    now = utcnow()
    old = now - timedelta(minutes=5)
    for job_id in (stalled, done):
        world.db.execute(
            sa.update(ImportJob).where(col(ImportJob.id) == job_id).values(touched_at=old)
        )
    world.db.commit()

    ids = imports.stale_job_ids(world.db, now=now, requeue_after=timedelta(seconds=60))
    world.db.commit()

    assert ids == [stalled]
    assert fresh not in ids
    # Touched: the next sweep within the interval leaves it alone.
    assert imports.stale_job_ids(world.db, now=now, requeue_after=timedelta(seconds=60)) == []


def test_the_beat_sweeper_publishes_stalled_jobs_and_the_task_runs_them(
    sqlite_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    published: list[int] = []
    monkeypatch.setattr(tasks, "enqueue_import", published.append)
    monkeypatch.setattr(tasks, "enqueue_forwarding", lambda _ids, **_kw: 0)
    job_id = sqlite_world.upload(csv_bytes([row()]))
    sqlite_world.db.execute(
        sa.update(ImportJob)
        .where(col(ImportJob.id) == job_id)
        .values(touched_at=utcnow() - timedelta(minutes=5))
    )
    sqlite_world.db.commit()

    tasks.sweep_forwarding.run()
    tasks.sweep_forwarding.run()  # within the interval: not sent twice

    assert published == [job_id]
    assert tasks.import_acceptances.run(job_id) == ImportStatus.FINISHED
    assert sqlite_world.job(job_id).rows_created == 1


def test_a_row_the_database_refuses_fails_alone_and_the_import_goes_on(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = world.upload(csv_bytes([row(), row(), row()]))
    real_insert, real_submit = bulk_import._insert, bulk_import.acceptance.submit
    calls = {"n": 0}

    def refused_insert(*args: Any, **kwargs: Any) -> None:
        real_insert(*args, **kwargs)
        # As a database constraint would: after the batch's writes, which the savepoint undoes.
        raise sa.exc.DataError("INSERT ...", {}, Exception("value too long"))

    def refusing_submit(session: Session, **kwargs: Any) -> AcceptanceRecord:
        calls["n"] += 1
        record = real_submit(session, **kwargs)
        if calls["n"] == 2:
            # Row by row now: after the record's own writes, inside the row's savepoint.
            raise sa.exc.DataError("INSERT ...", {}, Exception("value too long"))
        return record

    monkeypatch.setattr(bulk_import, "_insert", refused_insert)
    monkeypatch.setattr(bulk_import.acceptance, "submit", refusing_submit)
    assert world.run(job_id).status == ImportStatus.FINISHED

    rows = world.rows(job_id)
    assert [r.status for r in rows] == ["created", "failed", "created"]
    assert rows[1].errors[0]["message"].startswith("This row could not be stored.")
    # The refused batch's and row's writes were rolled back with their savepoints.
    assert world.count(AcceptanceRecord) == world.count(ImportedAcceptance) == 2
    assert world.count(Customer) == 2
    assert calls["n"] == 3
