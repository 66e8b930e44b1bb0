"""The rows of the audit exports (app/services/export.py): their columns, the names each batch
needs, and one builder per kind that turns a ledger entry or a record into a row.

Evidence files (R3) join through one hook: `EVIDENCE_COLUMNS` and `evidence_fields` below;
every row builder merges what `evidence_fields` returns for its record.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from app.models import AcceptanceRecord, Confirmation, Customer, CustomerReseller, User
from app.services.evidence import evidence_by_record
from app.services.listing import organizations_by_id, users_by_id

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


@dataclass(frozen=True)
class Lookups:
    """Names for one batch: organizations, users, and the actor's names for customers."""

    orgs: dict[int, str]
    users: dict[int, str]
    customer_names: dict[int, str]
    evidence: dict[int, dict[str, Any]]


def batch_lookups(
    session: Session,
    actor: User,
    records: Iterable[AcceptanceRecord | None],
    customers: Iterable[Customer],
    extra_users: Iterable[int | None] = (),
) -> Lookups:
    """The names and evidence a batch of rows shows, read in one query per kind."""
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
