"""The provider's side of an acceptance record: approve, reject, return, retry."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlmodel import Session

from app.markers import M_, N_
from app.models import AcceptanceRecord, RecordStatus, User, utcnow
from app.security.scoping import get_record
from app.services.audit import record_event
from app.services.errors import DomainError, InvalidTransition, PermissionDenied, ValidationFailed

MAX_REASON_LENGTH = 1000


# How the refused action reads in "A record that is submitted cannot be approved."
ACTION_WORDS = {
    "approved": N_("approved"),
    "rejected": N_("rejected"),
    "returned": N_("returned"),
    "retried": N_("retried"),
}


def _require_provider(actor: User) -> None:
    if not actor.is_provider:
        raise PermissionDenied(N_("Only the provider's staff review acceptances."))


def clean_reason(reason: str | None) -> str:
    """A required reason, trimmed; a field error when it is missing or too long."""
    text = (reason or "").strip()
    if not text:
        raise ValidationFailed({"reason": [N_("Give a reason; the reseller will see it.")]})
    if len(text) > MAX_REASON_LENGTH:
        raise ValidationFailed(
            {"reason": [M_("Keep the reason under %(max)s characters.", max=MAX_REASON_LENGTH)]}
        )
    if any(ord(ch) < 32 and ch not in "\n\r\t" for ch in text):
        raise ValidationFailed(
            {"reason": [N_("The reason contains control characters; type it as plain text.")]}
        )
    return text


def _transition(
    session: Session,
    *,
    actor: User,
    record: AcceptanceRecord,
    allowed: tuple[RecordStatus, ...],
    to: RecordStatus,
    action: str,
    reason: str | None,
) -> AcceptanceRecord:
    _require_provider(actor)
    if record.status not in allowed:
        raise InvalidTransition(
            M_(
                "A record that is %(status)s cannot be %(action)s.",
                status=M_(record.status_enum.label).lower(),
                action=M_(ACTION_WORDS.get(action, action)),
            )
        )
    now = utcnow()
    previous = record.status
    record.status = to.value
    record.status_reason = reason
    record.reviewed_by_id = actor.id
    record.reviewed_at = now
    record.updated_at = now
    if to in (RecordStatus.REJECTED,):
        record.finished_at = now
    if to == RecordStatus.APPROVED:
        # R9: the approving provider user is recorded with what is forwarded.
        record.approved_by_id = actor.id
        record.approved_at = now
        record.next_attempt_at = now
        record.attempts = 0
        record.lease_owner = None
        record.lease_expires_at = None
        record.pending_request_id = None  # the previous attempt, if any, got an answer
        record.upstream_code = None
        record.upstream_message = None
    session.add(record)
    session.flush()
    record_event(
        session,
        actor=actor,
        action=f"acceptance.{action}",
        subject_type="acceptance",
        subject_id=record.public_id,
        organization_id=record.reseller_id,
        details={"from": previous, "to": to.value, **({"reason": reason} if reason else {})},
    )
    return record


def approve(session: Session, *, actor: User, record: AcceptanceRecord) -> AcceptanceRecord:
    """Approve a submitted record for forwarding to Partner Center."""
    return _transition(
        session,
        actor=actor,
        record=record,
        allowed=(RecordStatus.SUBMITTED,),
        to=RecordStatus.APPROVED,
        action="approved",
        reason=None,
    )


def reject(
    session: Session, *, actor: User, record: AcceptanceRecord, reason: str | None
) -> AcceptanceRecord:
    """Refuse a submitted record for good, with the reason the reseller will read."""
    return _transition(
        session,
        actor=actor,
        record=record,
        allowed=(RecordStatus.SUBMITTED, RecordStatus.FAILED),
        to=RecordStatus.REJECTED,
        action="rejected",
        reason=clean_reason(reason),
    )


def return_for_correction(
    session: Session, *, actor: User, record: AcceptanceRecord, reason: str | None
) -> AcceptanceRecord:
    """Send a record back to the reseller to correct (also after Partner Center refused it)."""
    return _transition(
        session,
        actor=actor,
        record=record,
        allowed=(RecordStatus.SUBMITTED, RecordStatus.FAILED),
        to=RecordStatus.RETURNED,
        action="returned",
        reason=clean_reason(reason),
    )


def retry(session: Session, *, actor: User, record: AcceptanceRecord) -> AcceptanceRecord:
    """Approve a failed record again, e.g. after the cause upstream was fixed."""
    return _transition(
        session,
        actor=actor,
        record=record,
        allowed=(RecordStatus.FAILED,),
        to=RecordStatus.APPROVED,
        action="retried",
        reason=None,
    )


@dataclass
class BulkResult:
    """What a bulk approval did."""

    approved: list[AcceptanceRecord] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (public id, why)


def bulk_approve(session: Session, *, actor: User, public_ids: Iterable[str]) -> BulkResult:
    """Approve each listed record that is still submitted; report the others."""
    _require_provider(actor)
    result = BulkResult()
    for public_id in dict.fromkeys(public_ids):
        try:
            record = get_record(session, actor, public_id, for_update=True)
            result.approved.append(approve(session, actor=actor, record=record))
        except DomainError as exc:
            result.skipped.append((public_id, exc.message))
    return result
