"""Exports for audits (R3): confirmations (the ledger) and records with their history, as CSV or
JSON, filtered, streamed in keyset batches, scoped to the acting user.

- CSV: UTF-8 with a byte-order mark (Excel opens it as UTF-8), one header line of stable
  machine-readable column names, cells that a spreadsheet would run as a formula (= + - @ tab
  CR) prefixed with a quote.
- JSON: one streamed JSON array of objects (not NDJSON), the same keys as the CSV columns; the
  record export's `history` is a list of {at, action, actor} objects there.

A reseller exports its own records and the ledger entries that came from them; the provider
exports everything. Taking an export writes an audit event (who, what, which filters).

This module holds the kinds, filters, audit event and queries; the columns and row builders
(with the evidence hook, R3) are in export_rows.py, the CSV and JSON writing in export_text.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlmodel import Session, col, select

from app.models import (
    AcceptanceRecord,
    AuditEvent,
    Confirmation,
    ConfirmationState,
    Customer,
    RecordStatus,
    User,
)
from app.services.audit import record_event
from app.services.errors import ValidationFailed
from app.services.export_rows import (
    CONFIRMATION_COLUMNS,
    EVIDENCE_COLUMNS,
    RECORD_COLUMNS,
    batch_lookups,
    confirmation_row,
    record_row,
)
from app.services.export_text import csv_lines, json_chunks
from app.services.timeline import actor_labeller

BATCH = 500


class ExportKind(StrEnum):
    """What is exported."""

    CONFIRMATIONS = "confirmations"
    RECORDS = "records"


class ExportFormat(StrEnum):
    """How it is written."""

    CSV = "csv"
    JSON = "json"


@dataclass(frozen=True)
class ExportFilter:
    """What an export is narrowed to. Times are UTC, `until` exclusive; `statuses` are record
    statuses for the record export and ledger states (active, superseded, revoked) for the
    confirmation export."""

    since: datetime | None = None
    until: datetime | None = None
    reseller_id: int | None = None
    tenant_id: str | None = None
    statuses: tuple[str, ...] = ()
    template_id: str | None = None

    def as_details(self) -> dict[str, Any]:
        """The filters as the audit event keeps them (only those set)."""
        values = {
            key: (value.isoformat() if isinstance(value, datetime) else value)
            for key, value in asdict(self).items()
        }
        values["statuses"] = list(self.statuses)
        return {key: value for key, value in values.items() if value not in (None, [], "")}


def validate(kind: ExportKind, filters: ExportFilter) -> None:
    """Refuse filters that cannot apply, with a person-readable message per field."""
    errors: dict[str, list[str]] = {}
    allowed = (
        {s.value for s in RecordStatus}
        if kind == ExportKind.RECORDS
        else {s.value for s in ConfirmationState}
    )
    wrong = [s for s in filters.statuses if s not in allowed]
    if wrong:
        what = "record statuses" if kind == ExportKind.RECORDS else "confirmation states"
        errors["status"] = [f"Choose among the {what}: {', '.join(sorted(allowed))}."]
    if filters.since and filters.until and filters.since >= filters.until:
        errors["until"] = ["The end date must not be before the start date."]
    if errors:
        raise ValidationFailed(errors)


def record_export(
    session: Session, *, actor: User, kind: ExportKind, fmt: ExportFormat, filters: ExportFilter
) -> AuditEvent:
    """Write the audit event of an export being taken (in the caller's transaction)."""
    validate(kind, filters)
    return record_event(
        session,
        actor=actor,
        action="export.taken",
        subject_type="export",
        subject_id=kind.value,
        organization_id=None if actor.is_provider else actor.organization_id,
        details={"format": fmt.value, "filters": filters.as_details()},
    )


def columns(kind: ExportKind) -> tuple[str, ...]:
    """The columns (and JSON keys) of an export, evidence columns included."""
    base = CONFIRMATION_COLUMNS if kind == ExportKind.CONFIRMATIONS else RECORD_COLUMNS
    return base + EVIDENCE_COLUMNS


# --- the queries -----------------------------------------------------------------------------


def confirmation_rows(
    session: Session, *, actor: User, filters: ExportFilter
) -> Iterator[dict[str, Any]]:
    """Every ledger entry the filters select, oldest first, as rows (keyset batches)."""
    query = (
        select(Confirmation, Customer, AcceptanceRecord)
        .join(Customer, col(Customer.id) == col(Confirmation.customer_id))
        .outerjoin(AcceptanceRecord, col(AcceptanceRecord.id) == col(Confirmation.record_id))
    )
    if not actor.is_provider:
        # The entries that came from the reseller's own records (another reseller's contact
        # for a shared customer is not its to see).
        query = query.where(AcceptanceRecord.reseller_id == actor.organization_id)
    query = _filtered(query, filters, Confirmation.state, Confirmation)
    last_id = 0
    while True:
        batch = list(
            session.exec(
                query.where(col(Confirmation.id) > last_id)
                .order_by(col(Confirmation.id))
                .limit(BATCH)
            )
        )
        if not batch:
            return
        lookups = batch_lookups(
            session,
            actor,
            (record for _e, _c, record in batch),
            (customer for _e, customer, _r in batch),
            extra_users=(entry.approved_by_id for entry, _c, _r in batch),
        )
        for entry, customer, record in batch:
            yield confirmation_row(entry, customer, record, lookups)
        last_id = batch[-1][0].id or 0
        _release(session, [obj for row in batch for obj in row])


def _filtered(
    query: Any,
    filters: ExportFilter,
    status: Any,
    table: type[Confirmation] | type[AcceptanceRecord],
) -> Any:
    """`query` narrowed by the filters; `status`, template and creation time are `table`'s."""
    if filters.reseller_id is not None:
        query = query.where(AcceptanceRecord.reseller_id == filters.reseller_id)
    if filters.tenant_id:
        query = query.where(Customer.tenant_id == filters.tenant_id)
    if filters.statuses:
        query = query.where(col(status).in_(filters.statuses))
    if filters.template_id:
        query = query.where(col(table.template_id) == filters.template_id)
    if filters.since is not None:
        query = query.where(col(table.created_at) >= filters.since)
    if filters.until is not None:
        query = query.where(col(table.created_at) < filters.until)
    return query


def _release(session: Session, objects: Iterable[object | None]) -> None:
    """Forget a batch's rows so a long export keeps memory flat (the caller's own objects,
    such as the acting user, stay in the session)."""
    for obj in {id(o): o for o in objects if o is not None}.values():
        if obj in session:
            session.expunge(obj)


def _histories(
    session: Session, actor: User, records: Sequence[AcceptanceRecord]
) -> dict[str, list[dict[str, Any]]]:
    ids = [r.public_id for r in records]
    events = list(
        session.exec(
            select(AuditEvent)
            .where(AuditEvent.subject_type == "acceptance")
            .where(col(AuditEvent.subject_id).in_(ids))
            .order_by(col(AuditEvent.id))
        )
    )
    label = actor_labeller(session, actor, events)
    histories: dict[str, list[dict[str, Any]]] = {public_id: [] for public_id in ids}
    for event in events:
        item: dict[str, Any] = {
            "at": event.occurred_at,
            "action": event.action,
            "actor": label(event),
        }
        if event.details.get("reason"):
            item["reason"] = event.details["reason"]
        histories[event.subject_id].append(item)
    return histories


def record_rows(
    session: Session, *, actor: User, filters: ExportFilter
) -> Iterator[dict[str, Any]]:
    """Every record the filters select with its history, oldest first (keyset batches)."""
    query = select(AcceptanceRecord, Customer).join(
        Customer, col(Customer.id) == col(AcceptanceRecord.customer_id)
    )
    if not actor.is_provider:
        query = query.where(AcceptanceRecord.reseller_id == actor.organization_id)
    query = _filtered(query, filters, AcceptanceRecord.status, AcceptanceRecord)
    last_id = 0
    while True:
        batch = list(
            session.exec(
                query.where(col(AcceptanceRecord.id) > last_id)
                .order_by(col(AcceptanceRecord.id))
                .limit(BATCH)
            )
        )
        if not batch:
            return
        records = [record for record, _c in batch]
        lookups = batch_lookups(session, actor, records, (customer for _r, customer in batch))
        histories = _histories(session, actor, records)
        for record, customer in batch:
            yield record_row(record, customer, histories[record.public_id], lookups)
        last_id = batch[-1][0].id or 0
        _release(session, [obj for row in batch for obj in row])


def rows(
    session: Session, *, actor: User, kind: ExportKind, filters: ExportFilter
) -> Iterator[dict[str, Any]]:
    """The rows of an export of `kind`."""
    if kind == ExportKind.CONFIRMATIONS:
        return confirmation_rows(session, actor=actor, filters=filters)
    return record_rows(session, actor=actor, filters=filters)


def stream(
    session: Session, *, actor: User, kind: ExportKind, fmt: ExportFormat, filters: ExportFilter
) -> Iterator[str]:
    """The whole export as text chunks, in `fmt`."""
    header = columns(kind)
    found = rows(session, actor=actor, kind=kind, filters=filters)
    if fmt == ExportFormat.CSV:
        return csv_lines(found, header)
    return json_chunks(found, header)
