"""The record lifecycle rules in the services themselves (behind every view and the API)."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from app.models import AcceptanceRecord, AuditEvent, RecordStatus
from app.models.acceptance_input import parse_submission
from app.services import acceptance as submissions
from app.services import review
from app.services.errors import InvalidTransition, PermissionDenied, ValidationFailed
from tests.support import Users, submission, submit


def test_only_resellers_submit_and_only_the_provider_reviews(db: Session, users: Users) -> None:
    data = parse_submission(submission(), phone_region="KR")
    with pytest.raises(PermissionDenied):
        submissions.submit(db, actor=users.reviewer, data=data)
    db.rollback()
    record = submit(db, users.a_submitter)
    with pytest.raises(PermissionDenied):
        review.approve(db, actor=users.a_admin, record=record)
    assert record.status == RecordStatus.SUBMITTED


@pytest.mark.parametrize(
    ("start", "action"),
    [
        ("rejected", "approve"),
        ("approved", "approve"),
        ("confirmed", "reject"),
        ("withdrawn", "return"),
        ("submitted", "retry"),
    ],
)
def test_transitions_not_in_the_lifecycle_are_refused(
    db: Session, users: Users, start: str, action: str
) -> None:
    record = submit(db, users.a_submitter)
    record.status = start
    db.commit()
    calls = {
        "approve": lambda: review.approve(db, actor=users.reviewer, record=record),
        "reject": lambda: review.reject(db, actor=users.reviewer, record=record, reason="x"),
        "return": lambda: review.return_for_correction(
            db, actor=users.reviewer, record=record, reason="x"
        ),
        "retry": lambda: review.retry(db, actor=users.reviewer, record=record),
    }
    with pytest.raises(InvalidTransition):
        calls[action]()
    db.rollback()
    assert db.get_one(AcceptanceRecord, record.id).status == start


def test_every_transition_writes_its_audit_event_in_the_same_transaction(
    db: Session, users: Users
) -> None:
    record = submit(db, users.a_submitter)
    review.return_for_correction(db, actor=users.reviewer, record=record, reason="Fix the phone")
    db.rollback()  # not committed: neither the change nor its event exists
    events = db.exec(select(AuditEvent.action).where(AuditEvent.subject_id == record.public_id))
    assert list(events) == ["acceptance.submitted"]
    assert db.get_one(AcceptanceRecord, record.id).status == RecordStatus.SUBMITTED

    review.return_for_correction(db, actor=users.reviewer, record=record, reason="Fix the phone")
    corrected = submission(**{"customer.tenantId": _tenant(db, record)})
    submissions.resubmit(
        db,
        actor=users.a_submitter,
        record=record,
        data=parse_submission(corrected, phone_region="KR"),
    )
    review.approve(db, actor=users.reviewer, record=record)
    db.commit()
    events = db.exec(
        select(AuditEvent.action, AuditEvent.actor_label)
        .where(AuditEvent.subject_id == record.public_id)
        .order_by(AuditEvent.id)  # type: ignore[arg-type]
    )
    assert list(events) == [
        ("acceptance.submitted", users.a_submitter.email),
        ("acceptance.returned", users.reviewer.email),
        ("acceptance.resubmitted", users.a_submitter.email),
        ("acceptance.approved", users.reviewer.email),
    ]
    assert record.approved_by_id == users.reviewer.id


def test_reason_is_required_to_reject(db: Session, users: Users) -> None:
    record = submit(db, users.a_submitter)
    with pytest.raises(ValidationFailed) as failure:
        review.reject(db, actor=users.reviewer, record=record, reason="   ")
    assert "reason" in failure.value.errors


def test_a_replaced_agreement_version_is_refused_with_the_current_one_named(
    db: Session, users: Users
) -> None:
    data = parse_submission(
        submission(templateId="998b88de-aa99-4388-a42c-1b3517d49490"), phone_region="KR"
    )
    with pytest.raises(ValidationFailed) as failure:
        submissions.submit(db, actor=users.a_submitter, data=data)
    assert "117a77b0-9360-443b-8795-c6dedc750cf9" in failure.value.errors["templateId"][0]


def _tenant(db: Session, record: AcceptanceRecord) -> str:
    from app.models import Customer

    return db.get_one(Customer, record.customer_id).tenant_id
