"""Bulk CSV import of acceptances (R15): read the file, store its rows, process them in batches.

A reseller's upload is read at once (encoding, delimiter, header, at most 10,000 rows) and stored
with its rows in one transaction; a worker then validates and stores the rows with the same rules
as the web form and the API (`acceptance.submit`), a committed batch at a time so the page shows
progress; each batch is set-based (`bulk_import.process_batch`: a few multi-row statements).
Each created record's row key (SHA-256 of the reseller and the normalised row) is kept under a
unique constraint: a re-upload of the same rows, or the task running twice, creates nothing
twice. Upstream there is no bulk channel: every record is reviewed and forwarded alone.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, update
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from app.db import session_scope
from app.markers import M_, N_
from app.models import AcceptanceRecord, User, utcnow
from app.models.imports import (
    ACTIVE_IMPORT_STATUSES,
    DELIMITERS,
    ERROR_COLUMN,
    ImportJob,
    ImportRow,
    ImportStatus,
    RowStatus,
    message_json,
    stored_message,
)
from app.services.audit import record_event
from app.services.bulk_import import process_batch
from app.services.bulk_insert import insert_rows
from app.services.bulk_rows import row_key as row_key  # used to live here
from app.services.errors import NotFound, PermissionDenied
from app.services.import_csv import column_key, parse_csv, safe_cell

# Rows per transaction. A set-based batch of 500 takes a fraction of a second; it holds the
# database's write lock (SQLite) until it commits, and the audit chain's lock (PostgreSQL) only
# while the commit writes its events, so reviewers' approvals wait that long at most.
BATCH_SIZE = 500


# --- the job -------------------------------------------------------------------------------------


def _require_reseller(actor: User) -> None:
    if actor.is_provider:
        raise PermissionDenied("Only resellers import acceptances; the provider reviews them.")


def create_job(session: Session, *, actor: User, filename: str, content: bytes) -> ImportJob:
    """Read an upload and store it with its rows as a queued job (nothing is submitted yet).

    A file that cannot be imported as a whole (encoding, header, more than 10,000 rows) raises
    ValidationFailed before anything is stored.
    """
    _require_reseller(actor)
    parsed = parse_csv(content)
    now = utcnow()
    job = ImportJob(
        reseller_id=actor.organization_id,
        user_id=actor.id or 0,
        filename=(filename or "upload.csv").replace("\\", "/").rsplit("/", 1)[-1][:255],
        rows_total=len(parsed.rows),
        columns=parsed.columns,
        encoding=parsed.encoding,
        delimiter=DELIMITERS[parsed.delimiter],
        errors=[message_json(note) for note in parsed.notes],
        created_at=now,
        touched_at=now,
    )
    session.add(job)
    session.flush()
    width = len(parsed.columns)
    values = []
    for line, cells in parsed.rows:
        extra = [c for c in cells[width:] if c.strip()]
        row: dict[str, Any] = {
            "job_id": job.id,
            "line": line,
            "values": (cells + [""] * width)[:width],
            "status": RowStatus.PENDING.value,
            "errors": [],
        }
        if extra:
            # A separator inside an unquoted value shifts every later cell: refuse the line.
            row["status"] = RowStatus.FAILED.value
            message = M_(
                "This line has %(values)s values but the header has %(columns)s columns. "
                "Put values that contain the separator in double quotes.",
                values=len(cells),
                columns=width,
            )
            row["errors"] = [{"column": "", **message_json(message)}]
        values.append(row)
    # One COPY (PostgreSQL) or multi-row INSERT: 10,000 rows in a fraction of a second.
    insert_rows(session, ImportRow.__table__, values)  # type: ignore[attr-defined]
    _recount(session, job)
    record_event(
        session,
        actor=actor,
        action="import.uploaded",
        subject_type="import",
        subject_id=job.public_id,
        organization_id=job.reseller_id,
        details={
            "filename": job.filename,
            "rows": job.rows_total,
            "encoding": job.encoding,
            "delimiter": job.delimiter,
        },
    )
    return job


def jobs_query(actor: User) -> SelectOfScalar[ImportJob]:
    """A select of the jobs `actor` may see: its reseller's (the provider sees all)."""
    query = select(ImportJob)
    if not actor.is_provider:
        query = query.where(ImportJob.reseller_id == actor.organization_id)
    return query


def get_job(session: Session, actor: User, public_id: str) -> ImportJob:
    """The job if `actor` may see it; NotFound otherwise (another reseller's too)."""
    job = session.exec(jobs_query(actor).where(ImportJob.public_id == public_id)).first()
    if job is None:
        raise NotFound("No such import.")
    return job


def list_jobs(session: Session, *, actor: User, limit: int = 50) -> list[ImportJob]:
    """The actor's reseller's imports, newest first."""
    return list(
        session.exec(
            jobs_query(actor)
            .order_by(col(ImportJob.created_at).desc(), col(ImportJob.id).desc())
            .limit(limit)
        )
    )


def rows_with_status(
    session: Session, job: ImportJob, status: RowStatus, *, limit: int | None = None
) -> list[ImportRow]:
    """The job's rows with one outcome, in file order."""
    query = (
        select(ImportRow)
        .where(ImportRow.job_id == job.id)
        .where(ImportRow.status == status)
        .order_by(col(ImportRow.line))
    )
    if limit is not None:
        query = query.limit(limit)
    return list(session.exec(query))


def record_ids(session: Session, rows: Sequence[ImportRow]) -> dict[int, str]:
    """Record id -> public id for the records rows point at (all the reseller's own)."""
    ids = {row.record_id for row in rows if row.record_id is not None}
    if not ids:
        return {}
    found = session.exec(
        select(AcceptanceRecord.id, AcceptanceRecord.public_id).where(
            col(AcceptanceRecord.id).in_(ids)
        )
    )
    return {record_id or 0: public_id for record_id, public_id in found}


def failed_rows_csv(
    session: Session, job: ImportJob, *, render: Callable[[str], str] = str
) -> Iterator[str]:
    """The failed rows in the file's own columns plus `error`, ready to correct and re-upload.

    UTF-8 with a BOM, so Excel shows Korean names; the upload reads it back. `render` shows a
    kept message (the web passes its translation).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    columns = [c for c in job.columns if column_key(c) != ERROR_COLUMN]
    keep = [i for i, c in enumerate(job.columns) if column_key(c) != ERROR_COLUMN]
    writer.writerow([*columns, ERROR_COLUMN])
    yield "\ufeff" + buffer.getvalue()
    last_line = 0
    while True:
        batch = list(
            session.exec(
                select(ImportRow)
                .where(ImportRow.job_id == job.id)
                .where(ImportRow.status == RowStatus.FAILED)
                .where(col(ImportRow.line) > last_line)
                .order_by(col(ImportRow.line))
                .limit(500)
            )
        )
        if not batch:
            return
        buffer.seek(0)
        buffer.truncate()
        for row in batch:
            cells = [row.values[i] if i < len(row.values) else "" for i in keep]
            reasons = error_text(row, render=render)
            writer.writerow([*(safe_cell(c) for c in cells), safe_cell(reasons)])
            last_line = row.line
        yield buffer.getvalue()


def error_text(row: ImportRow, *, render: Callable[[str], str] = str) -> str:
    """A failed row's reasons on one line: "email: Enter a valid email address ..."."""
    reasons = [(e.get("column") or "", render(stored_message(e))) for e in row.errors]
    return " ".join(f"{column}: {text}" if column else text for column, text in reasons)


# --- processing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunResult:
    """What one run of the task did."""

    status: str
    batches: int
    rows: int


def run_import(
    job_id: int,
    *,
    engine: Engine,
    phone_region: str,
    default_country: str | None,
    batch_size: int = BATCH_SIZE,
) -> RunResult:
    """Process a job's pending rows, one committed batch at a time (safe to run twice).

    Each batch starts by locking the job row (PostgreSQL's row lock; SQLite's write lock), so
    two runs of the same job take turns and the second finds the first one's rows done.
    """
    batches = rows = 0
    while True:
        with session_scope(engine) as session:
            job = _lock_job(session, job_id)
            if job is None or job.status not in ACTIVE_IMPORT_STATUSES:
                return RunResult(job.status if job else "missing", batches, rows)
            done = _run_batch(
                session,
                job,
                phone_region=phone_region,
                default_country=default_country,
                batch_size=batch_size,
            )
            status = job.status
        if done == 0:
            return RunResult(status, batches, rows)
        batches += 1
        rows += done


def _lock_job(session: Session, job_id: int) -> ImportJob | None:
    # The UPDATE takes the lock on both databases (and keeps the sweeper off a live job).
    session.execute(
        update(ImportJob).where(col(ImportJob.id) == job_id).values(touched_at=utcnow())
    )
    return session.exec(select(ImportJob).where(ImportJob.id == job_id)).first()


def _run_batch(
    session: Session,
    job: ImportJob,
    *,
    phone_region: str,
    default_country: str | None,
    batch_size: int,
) -> int:
    """Process up to `batch_size` pending rows; finish the job when none are left."""
    now = utcnow()
    user = session.get(User, job.user_id)
    if user is None or not user.active or user.is_provider:
        _fail_job(
            session,
            job,
            N_(
                "The account that uploaded the file was disabled; "
                "the rows not yet processed were not imported."
            ),
        )
        return 0
    if job.status == ImportStatus.QUEUED:
        job.status = ImportStatus.RUNNING.value
        job.started_at = now
    rows = rows_with_status(session, job, RowStatus.PENDING, limit=batch_size)
    process_batch(
        session, job, user, rows, phone_region=phone_region, default_country=default_country
    )
    _recount(session, job)
    if not rows:
        job.status = ImportStatus.FINISHED.value
        job.finished_at = now
        record_event(
            session,
            actor=None,
            action="import.finished",
            subject_type="import",
            subject_id=job.public_id,
            organization_id=job.reseller_id,
            details={
                "created": job.rows_created,
                "duplicate": job.rows_duplicate,
                "failed": job.rows_failed,
            },
        )
    session.add(job)
    session.flush()
    return len(rows)


def _fail_job(session: Session, job: ImportJob, message: str) -> None:
    job.status = ImportStatus.FAILED.value
    job.finished_at = utcnow()
    job.errors = [*job.errors, message_json(message)]
    session.add(job)
    record_event(
        session,
        actor=None,
        action="import.stopped",
        subject_type="import",
        subject_id=job.public_id,
        organization_id=job.reseller_id,
        details={"reason": message},
    )


def _recount(session: Session, job: ImportJob) -> None:
    """The job's counts from its rows (exact however often a batch ran)."""
    counts = dict(
        session.exec(
            select(ImportRow.status, func.count())
            .where(ImportRow.job_id == job.id)
            .group_by(ImportRow.status)
        ).all()
    )
    job.rows_created = counts.get(RowStatus.CREATED.value, 0)
    job.rows_duplicate = counts.get(RowStatus.DUPLICATE.value, 0)
    job.rows_failed = counts.get(RowStatus.FAILED.value, 0)
    job.rows_done = job.rows_created + job.rows_duplicate + job.rows_failed
    session.add(job)


def stale_job_ids(
    session: Session, *, now: datetime, requeue_after: timedelta, limit: int = 100
) -> list[int]:
    """Queued or running jobs with no sign of life for `requeue_after`; marks them touched.

    The sweeper's query: a job whose message was lost (broker down at upload) or whose worker
    died is sent again, each at most once per interval.
    """
    since = now - requeue_after
    ids = [
        job_id
        for job_id in session.exec(
            select(ImportJob.id)
            .where(col(ImportJob.status).in_(ACTIVE_IMPORT_STATUSES))
            .where(col(ImportJob.touched_at).is_(None) | (col(ImportJob.touched_at) <= since))
            .order_by(col(ImportJob.id))
            .limit(limit)
        )
        if job_id is not None
    ]
    if ids:
        session.execute(update(ImportJob).where(col(ImportJob.id).in_(ids)).values(touched_at=now))
    return ids
