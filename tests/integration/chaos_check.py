"""The checker of a fault run: what the database, the audit trail and the fake say, as figures."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from app.models import AcceptanceRecord, AuditEvent, Confirmation, Customer

FINAL = {"confirmed", "duplicate"}

# Every move the lifecycle allows (DESIGN.md). Anything else is a status moving backwards.
ALLOWED = {
    (None, "submitted"),
    ("submitted", "approved"),
    ("submitted", "rejected"),
    ("submitted", "returned"),
    ("submitted", "withdrawn"),
    ("returned", "submitted"),
    ("returned", "withdrawn"),
    ("approved", "forwarding"),
    ("approved", "confirmed"),
    ("approved", "duplicate"),
    ("approved", "failed"),
    ("forwarding", "confirmed"),
    ("forwarding", "duplicate"),
    ("forwarding", "failed"),
    ("forwarding", "approved"),  # a retry later, or a lease lapsed with the worker
    ("forwarding", "forwarding"),  # a lapsed lease taken over by another worker
    ("failed", "approved"),
    ("failed", "returned"),
    ("failed", "rejected"),
    ("forwarding", "awaiting_customer"),  # enhanced flow: the attestation exists
    ("awaiting_customer", "confirmed"),
    ("awaiting_customer", "duplicate"),
    ("awaiting_customer", "expired"),
    ("awaiting_customer", "failed"),
    ("expired", "approved"),  # R19: a lapsed link issued again
    ("confirmed", "revoked"),  # R13: the customer withdrew its acceptance
    ("duplicate", "revoked"),
}


@dataclass
class Findings:
    """Invariants and figures of one run."""

    figures: dict[str, Any] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no invariant broke."""
        return not self.violations


def check(session: Session, *, approved_ids: set[int], fake_stats: dict[str, Any]) -> Findings:
    """Compare the records, the ledger, the audit trail and what the fake accepted."""
    found = Findings()
    records = list(session.exec(select(AcceptanceRecord)))
    statuses = Counter(r.status for r in records)
    found.figures["statuses"] = dict(sorted(statuses.items()))
    lost = [r.id for r in records if r.id in approved_ids and r.status not in FINAL]
    found.figures["approved_records"] = len(approved_ids)
    found.figures["lost"] = len(lost)
    if lost:
        detail = [
            (r.id, r.status, r.upstream_code, r.status_reason) for r in records if r.id in lost[:10]
        ]
        found.violations.append(f"{len(lost)} approved records not final: {detail}")
        for record in [r for r in records if r.id in lost[:3]]:
            trail = session.exec(
                select(AuditEvent.action, AuditEvent.details)
                .where(AuditEvent.subject_id == record.public_id)
                .order_by(sa.asc(AuditEvent.id))
            ).all()
            found.violations.append(f"trail of record {record.id}: {trail}")

    tenants = {c.id: c.tenant_id for c in session.exec(select(Customer))}
    customers = {r.customer_id for r in records if r.id in approved_ids}
    by_customer: dict[str, Any] = fake_stats["byCustomer"]
    accepted = Counter(
        {tenants[c]: by_customer.get(tenants[c], {}).get("accepted", 0) for c in customers}
    )
    not_once = {t: n for t, n in accepted.items() if n != 1}
    found.figures["customers"] = len(customers)
    found.figures["upstream_accepted_total"] = sum(accepted.values())
    found.figures["customers_confirmed_not_exactly_once"] = len(not_once)
    if not_once:
        found.violations.append(
            f"customers not confirmed exactly once upstream: {dict(list(not_once.items())[:10])}"
        )
    found.figures["upstream_posts"] = fake_stats["posts"]

    active = Counter(
        session.exec(select(Confirmation.customer_id).where(Confirmation.state == "active")).all()
    )
    wrong_ledger = [c for c in customers if active.get(c, 0) != 1]
    found.figures["ledger_active_entries"] = sum(active.values())
    if wrong_ledger:
        found.violations.append(f"{len(wrong_ledger)} customers without exactly one ledger entry")
    confirmed_by_customer = Counter(r.customer_id for r in records if r.status == "confirmed")
    found.figures["customers_with_own_confirmed_record"] = sum(
        1 for c in customers if confirmed_by_customer.get(c, 0) == 1
    )
    doubled = [c for c in customers if confirmed_by_customer.get(c, 0) > 1]
    if doubled:
        found.violations.append(f"{len(doubled)} customers with two confirmed records")

    _check_transitions(session, found)
    return found


def _check_transitions(session: Session, found: Findings) -> None:
    """Every audited move is allowed, and each starts where the previous one ended."""
    moves: dict[str, list[tuple[str | None, str]]] = defaultdict(list)
    rows = session.exec(
        select(AuditEvent.subject_id, AuditEvent.details)
        .where(AuditEvent.subject_type == "acceptance")
        .order_by(sa.asc(AuditEvent.id))
    )
    for subject, details in rows:
        if "to" in details:
            moves[subject].append((details.get("from"), details["to"]))
    backwards = gaps = 0
    for subject, sequence in moves.items():
        previous: str | None = None
        for origin, target in sequence:
            if (origin, target) not in ALLOWED:
                backwards += 1
                found.violations.append(f"record {subject}: {origin} -> {target} is not allowed")
            if origin != previous:
                gaps += 1
                found.violations.append(
                    f"record {subject}: moved from {origin} but was {previous} (unaudited change)"
                )
            previous = target
    found.figures["audited_moves"] = sum(len(s) for s in moves.values())
    found.figures["moves_backwards"] = backwards
    found.figures["unaudited_changes"] = gaps
