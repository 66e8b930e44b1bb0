"""One row of a CSV import (R15): its key, its validation, its failure, and the row-by-row path.

The set-based batch (`bulk_import.process_batch`) and its fallback share these, so a row gets
the same key and the same messages whichever path stores it.
"""

from __future__ import annotations

import hashlib
import json
import logging

from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import Session, col, select

from app.markers import N_
from app.models import Source, User
from app.models.acceptance_input import AcceptanceSubmission, parse_submission
from app.models.imports import (
    EXAMPLE_TENANT_ID,
    ImportedAcceptance,
    ImportJob,
    ImportRow,
    RowStatus,
    message_json,
)
from app.services import acceptance, agreements
from app.services.errors import DomainError, ValidationFailed
from app.services.import_csv import column_for_path, row_input

log = logging.getLogger(__name__)


def row_key(reseller_id: int, data: AcceptanceSubmission, template_id: str) -> str:
    """SHA-256 of the reseller and the row as validated (so spelling differences collapse)."""
    content = data.model_dump(mode="json")
    content["template_id"] = data.template_id or template_id
    # Mail systems treat the local part's case alike; people retype it differently.
    content["contact"]["email"] = data.contact.email.lower()
    canonical = json.dumps([reseller_id, content], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def parse_row(cells: dict[str, str], *, phone_region: str) -> AcceptanceSubmission:
    """A row's cells (by column name) validated like the form and the API; ValidationFailed."""
    if (cells.get("tenant_id") or "").strip().lower() == EXAMPLE_TENANT_ID:
        raise ValidationFailed(
            {"customer.tenantId": [N_("This is the template's example row: delete it.")]}
        )
    return parse_submission(row_input(cells), phone_region=phone_region)


def fail_row(row: ImportRow, exc: DomainError) -> None:
    """Mark a row failed with the error's messages, each under its CSV column."""
    row.status = RowStatus.FAILED.value
    if isinstance(exc, ValidationFailed):
        row.errors = [
            {"column": column_for_path(path), **message_json(message)}
            for path, messages in exc.errors.items()
            for message in messages
        ]
    else:
        row.errors = [{"column": "", **message_json(exc.message)}]


def imported_keys(session: Session, reseller_id: int, keys: set[str]) -> dict[str, int]:
    """Row key -> record for the keys this reseller imported before."""
    if not keys:
        return {}
    found = session.exec(
        select(ImportedAcceptance.row_key, ImportedAcceptance.record_id)
        .where(ImportedAcceptance.reseller_id == reseller_id)
        .where(col(ImportedAcceptance.row_key).in_(keys))
    )
    return dict(found.all())


def submit_row(
    session: Session,
    job: ImportJob,
    user: User,
    row: ImportRow,
    cells: dict[str, str],
    *,
    phone_region: str,
    default_country: str | None,
) -> None:
    """One row through `acceptance.submit` in its own savepoint (the batch's fallback)."""
    try:
        data = parse_row(cells, phone_region=phone_region)
        current = agreements.current_template(session, data.agreement_type.value).template_id
        key = row_key(job.reseller_id, data, current)
        earlier = imported_keys(session, job.reseller_id, {key}).get(key)
        if earlier is None:
            try:
                with session.begin_nested():
                    record = acceptance.submit(
                        session,
                        actor=user,
                        data=data,
                        source=Source.CSV,
                        default_country=default_country,
                    )
                    session.add(
                        ImportedAcceptance(
                            reseller_id=job.reseller_id,
                            row_key=key,
                            record_id=record.id or 0,
                            job_id=job.id or 0,
                        )
                    )
                    session.flush()
            except IntegrityError as exc:
                # Another run imported the same row a moment ago: its record stands.
                earlier = imported_keys(session, job.reseller_id, {key}).get(key)
                if earlier is None:
                    _unstorable(job, row, exc)
            except SQLAlchemyError as exc:
                # Only this row's savepoint is lost. Failing the row (not the task) keeps one
                # bad row from stopping the import and from being retried by every sweep.
                _unstorable(job, row, exc)
            else:
                row.status, row.record_id = RowStatus.CREATED.value, record.id
        if earlier is not None:
            row.status, row.record_id = RowStatus.DUPLICATE.value, earlier
    except DomainError as exc:
        fail_row(row, exc)
    session.add(row)


def _unstorable(job: ImportJob, row: ImportRow, exc: SQLAlchemyError) -> None:
    # The class only: the error's text holds the row's values (personal data).
    cause = type(getattr(exc, "orig", None) or exc).__name__
    log.error("import job %s: line %s could not be stored (%s)", job.id, row.line, cause)
    row.status = RowStatus.FAILED.value
    row.errors = [
        {
            "column": "",
            **message_json(
                N_("This row could not be stored. Check its values; if it fails again, tell us.")
            ),
        }
    ]
