"""Exports for audits (R3): confirmations (the ledger) and records with their history, as CSV or
JSON, filtered, streamed in keyset batches, scoped to the acting user.

- CSV: UTF-8 with a byte-order mark (Excel opens it as UTF-8), one header line of stable
  machine-readable column names, cells that a spreadsheet would run as a formula (= + - @ tab
  CR) prefixed with a quote.
- JSON: one streamed JSON array of objects (not NDJSON), the same keys as the CSV columns; the
  record export's `history` is a list of {at, action, actor} objects there.

A reseller exports its own records and the ledger entries that came from them; the provider
exports everything. Taking an export writes an audit event (who, what, which filters).

Evidence files (R3) join through one hook: `EVIDENCE_COLUMNS` and `evidence_fields` below;
every row builder merges what `evidence_fields` returns for its record.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlmodel import Session, col, select

from app.models import (
    AcceptanceRecord,
    AuditEvent,
    Confirmation,
    ConfirmationState,
    Customer,
    CustomerReseller,
    RecordStatus,
    User,
)
from app.services.audit import record_event
from app.services.audit_log import safe_cell
from app.services.errors import ValidationFailed
from app.services.evidence import evidence_by_record
from app.services.listing import organizations_by_id, users_by_id
from app.services.timeline import actor_labeller

BATCH = 500
BOM = "\ufeff"


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


# --- evidence hook ---------------------------------------------------------------------------

# The columns evidence files (R3) add to both exports: how many, and each file's name, type, size
# and SHA-256, so an auditor can match a file kept elsewhere to the record.
EVIDENCE_COLUMNS: tuple[str, ...] = ("evidence_files", "evidence")


def evidence_fields(session: Session, record_ids: set[int]) -> dict[int, dict[str, Any]]:
    """The evidence columns of each record (by record row id) that has files.

    Called once per batch; returns only keys listed in EVIDENCE_COLUMNS (removed files left out).
    """
    found = evidence_by_record(session, record_ids)
    return {
        record_id: {
            "evidence_files": len(files),
            "evidence": "; ".join(
                f"{f.filename} ({f.content_type}, {f.size_bytes} bytes, sha256 {f.sha256})"
                for f in files
            ),
        }
        for record_id, files in found.items()
    }


# --- rows ------------------------------------------------------------------------------------

CONFIRMATION_COLUMNS = (
    "confirmation_id",
    "recorded_at",
    "customer_tenant_id",
    "customer_name",
    "agreement_type",
    "template_id",
    "date_agreed",
    "contact_first_name",
    "contact_last_name",
    "contact_email",
    "contact_phone",
    "source",
    "state",
    "state_reason",
    "state_changed_at",
    "approved_by",
    "reseller",
    "record_id",
    "record_status",
    "submitted_by",
    "upstream_request_id",
    "partner_center_outcome",
    "partner_center_code",
    "partner_center_message",
)

RECORD_COLUMNS = (
    "record_id",
    "status",
    "status_reason",
    "created_at",
    "submitted_at",
    "customer_tenant_id",
    "customer_name",
    "reseller",
    "submitted_by",
    "source",
    "agreement_type",
    "template_id",
    "date_agreed",
    "contact_first_name",
    "contact_last_name",
    "contact_email",
    "contact_phone",
    "language",
    "flags",
    "reviewed_by",
    "reviewed_at",
    "approved_by",
    "approved_at",
    "attempts",
    "partner_center_code",
    "partner_center_message",
    "confirmation_id",
    "finished_at",
    "anonymised_at",
    "history",
)

OUTCOMES = {
    "sent": "confirmed by the portal",
    "upstream": "already held by Partner Center",
    "direct": "accepted directly by the customer",
}


def columns(kind: ExportKind) -> tuple[str, ...]:
    """The columns (and JSON keys) of an export, evidence columns included."""
    base = CONFIRMATION_COLUMNS if kind == ExportKind.CONFIRMATIONS else RECORD_COLUMNS
    return base + EVIDENCE_COLUMNS


@dataclass(frozen=True)
class Lookups:
    """Names for one batch: organizations, users, and the actor's names for customers."""

    orgs: dict[int, str]
    users: dict[int, str]
    customer_names: dict[int, str]
    evidence: dict[int, dict[str, Any]]


def _lookups(
    session: Session,
    actor: User,
    records: Iterable[AcceptanceRecord | None],
    customers: Iterable[Customer],
    extra_users: Iterable[int | None] = (),
) -> Lookups:
    known = [r for r in records if r is not None]
    user_ids = {
        uid
        for r in known
        for uid in (r.submitted_by_id, r.reviewed_by_id, r.approved_by_id)
        if uid is not None
    } | {uid for uid in extra_users if uid is not None}
    resellers = {r.reseller_id for r in known}
    customer_list = list(customers)
    names = {c.id or 0: c.company_name for c in customer_list}
    if not actor.is_provider and names:
        # A reseller's own name for each customer, never the one another reseller gave it.
        for cid, name in session.exec(
            select(CustomerReseller.customer_id, CustomerReseller.company_name)
            .where(col(CustomerReseller.customer_id).in_(names))
            .where(CustomerReseller.reseller_id == actor.organization_id)
        ):
            names[cid] = name
    return Lookups(
        orgs={k: o.name for k, o in organizations_by_id(session, resellers).items()},
        users={k: u.email for k, u in users_by_id(session, user_ids).items()},
        customer_names=names,
        evidence=evidence_fields(session, {r.id for r in known if r.id is not None}),
    )


def confirmation_row(
    entry: Confirmation,
    customer: Customer,
    record: AcceptanceRecord | None,
    lookups: Lookups,
) -> dict[str, Any]:
    """One ledger entry as an export row (keys: CONFIRMATION_COLUMNS + EVIDENCE_COLUMNS)."""
    row: dict[str, Any] = {
        "confirmation_id": entry.id,
        "recorded_at": entry.created_at,
        "customer_tenant_id": customer.tenant_id,
        "customer_name": lookups.customer_names.get(customer.id or 0, customer.company_name),
        "agreement_type": entry.agreement_type,
        "template_id": entry.template_id,
        "date_agreed": entry.date_agreed,
        "contact_first_name": entry.contact_first_name,
        "contact_last_name": entry.contact_last_name,
        "contact_email": entry.contact_email,
        "contact_phone": entry.contact_phone,
        "source": entry.source,
        "state": entry.state,
        "state_reason": entry.state_reason,
        "state_changed_at": entry.state_changed_at,
        "approved_by": lookups.users.get(entry.approved_by_id or 0),
        "reseller": lookups.orgs.get(record.reseller_id) if record else None,
        "record_id": record.public_id if record else None,
        "record_status": record.status if record else None,
        "submitted_by": lookups.users.get(record.submitted_by_id) if record else None,
        "upstream_request_id": entry.upstream_request_id,
        "partner_center_outcome": OUTCOMES.get(entry.source, entry.source),
        "partner_center_code": record.upstream_code if record else None,
        "partner_center_message": record.upstream_message if record else None,
    }
    row.update(_evidence(record, lookups))
    return row


def record_row(
    record: AcceptanceRecord,
    customer: Customer,
    history: list[dict[str, Any]],
    lookups: Lookups,
) -> dict[str, Any]:
    """One record with its history as an export row (keys: RECORD_COLUMNS + EVIDENCE_COLUMNS)."""
    row: dict[str, Any] = {
        "record_id": record.public_id,
        "status": record.status,
        "status_reason": record.status_reason,
        "created_at": record.created_at,
        "submitted_at": record.submitted_at,
        "customer_tenant_id": customer.tenant_id,
        "customer_name": lookups.customer_names.get(customer.id or 0, customer.company_name),
        "reseller": lookups.orgs.get(record.reseller_id),
        "submitted_by": lookups.users.get(record.submitted_by_id),
        "source": record.source,
        "agreement_type": record.agreement_type,
        "template_id": record.template_id,
        "date_agreed": record.date_agreed,
        "contact_first_name": record.contact_first_name,
        "contact_last_name": record.contact_last_name,
        "contact_email": record.contact_email,
        "contact_phone": record.contact_phone,
        "language": record.language,
        "flags": list(record.flags),
        "reviewed_by": lookups.users.get(record.reviewed_by_id or 0),
        "reviewed_at": record.reviewed_at,
        "approved_by": lookups.users.get(record.approved_by_id or 0),
        "approved_at": record.approved_at,
        "attempts": record.attempts,
        "partner_center_code": record.upstream_code,
        "partner_center_message": record.upstream_message,
        "confirmation_id": record.confirmation_id,
        "finished_at": record.finished_at,
        "anonymised_at": record.anonymised_at,
        "history": history,
    }
    row.update(_evidence(record, lookups))
    return row


def _evidence(record: AcceptanceRecord | None, lookups: Lookups) -> dict[str, Any]:
    found = lookups.evidence.get(record.id or 0, {}) if record is not None else {}
    return {name: found.get(name) for name in EVIDENCE_COLUMNS}


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
        lookups = _lookups(
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
        lookups = _lookups(session, actor, records, (customer for _r, customer in batch))
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


# --- writing ---------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A value as JSON holds it: times and dates in ISO 8601 (UTC), nested lists kept."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _cell(value: Any) -> str:
    """A value as one CSV cell (history as "time action by actor" lines)."""
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list):
        parts = []
        for item in value:
            if isinstance(item, dict):
                text = f"{_cell(item.get('at'))} {item.get('action')} by {item.get('actor')}"
                if item.get("reason"):
                    text += f" ({item['reason']})"
                parts.append(text)
            else:
                parts.append(str(item))
        return "\n".join(parts) if value and isinstance(value[0], dict) else "; ".join(parts)
    return str(value)


def _csv_line(values: Sequence[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([safe_cell(v) for v in values])
    return buffer.getvalue()


def csv_lines(rows: Iterable[dict[str, Any]], header: Sequence[str]) -> Iterator[str]:
    """CSV text: a byte-order mark and the header, then one line per row, formula-safe."""
    yield BOM + _csv_line(list(header))
    for row in rows:
        yield _csv_line([_cell(row.get(name)) for name in header])


def json_chunks(rows: Iterable[dict[str, Any]], keys: Sequence[str]) -> Iterator[str]:
    """One JSON array, streamed: an object per line, keys in column order."""
    yield "["
    first = True
    for row in rows:
        item = {key: _plain(row.get(key)) for key in keys}
        yield ("\n" if first else ",\n") + json.dumps(item, ensure_ascii=False)
        first = False
    yield "\n]\n"


def stream(
    session: Session, *, actor: User, kind: ExportKind, fmt: ExportFormat, filters: ExportFilter
) -> Iterator[str]:
    """The whole export as text chunks, in `fmt`."""
    header = columns(kind)
    found = rows(session, actor=actor, kind=kind, filters=filters)
    if fmt == ExportFormat.CSV:
        return csv_lines(found, header)
    return json_chunks(found, header)
