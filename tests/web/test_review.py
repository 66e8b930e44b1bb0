"""The provider's review area: the queue, decisions, bulk approval, forwarding monitor."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, col, select
from werkzeug.test import TestResponse

from app.models import AcceptanceRecord, AuditEvent, RecordStatus, utcnow
from app.services import review
from tests.support import Users, submit

TENANT = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"

Seen = list[tuple[int, str, int | None]]


@pytest.fixture
def enqueued(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Seen:
    """Stand-in for the publisher: for each record id it is given, what a separate connection
    sees committed at that moment (status, approving user)."""
    seen: Seen = []
    url = app.config["SETTINGS"].database_url

    def publish(record_ids: list[int], *, countdown: float | None = None) -> int:
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                for record_id in record_ids:
                    row = conn.execute(
                        sa.text(
                            "SELECT status, approved_by_id FROM acceptance_record WHERE id = :id"
                        ),
                        {"id": record_id},
                    ).one()
                    seen.append((record_id, row.status, row.approved_by_id))
        finally:
            engine.dispose()
        return len(record_ids)

    monkeypatch.setattr("app.web.review.views.enqueue_forwarding", publish)
    return seen


def text(response: TestResponse) -> str:
    """The page with HTML entities decoded."""
    return html.unescape(response.get_data(as_text=True))


def status_of(db: Session, record: AcceptanceRecord) -> str:
    db.expire_all()
    return db.get_one(AcceptanceRecord, record.id).status


def test_queue_shows_submitted_records_oldest_first(
    db: Session, users: Users, reviewer: FlaskClient
) -> None:
    for name in ("First", "Second", "Third"):
        submit(
            db,
            users.a_submitter if name != "Second" else users.b_submitter,
            **{"contact.lastName": name},
        )
    done = submit(db, users.a_submitter, **{"contact.lastName": "Decided"})
    review.approve(db, actor=users.reviewer, record=done)
    db.commit()

    page = text(reviewer.get("/review/"))
    positions = [page.index(f"Minji {name}") for name in ("First", "Second", "Third")]
    assert positions == sorted(positions)
    assert "Minji Decided" not in page


def test_queue_filters_by_status_reseller_tenant_and_flag(
    db: Session, users: Users, reviewer: FlaskClient
) -> None:
    submit(db, users.a_submitter, **{"contact.lastName": "Plain"})
    submit(
        db,
        users.a_submitter,
        **{"contact.lastName": "Tenanted", "customer.tenantId": TENANT},
    )
    submit(db, users.b_submitter, **{"contact.lastName": "Bee"})
    approved = submit(db, users.a_submitter, **{"contact.lastName": "Approved"})
    review.approve(db, actor=users.reviewer, record=approved)
    flagged = submit(db, users.a_submitter, **{"contact.lastName": "Flagged"})
    flagged.flags = ["contact_at_reseller_domain"]
    db.add(flagged)
    db.commit()
    names = ("Plain", "Tenanted", "Bee", "Approved", "Flagged")

    def shown(query: str) -> set[str]:
        page = text(reviewer.get(f"/review/?{query}"))
        return {name for name in names if f"Minji {name}" in page}

    assert shown("") == {"Plain", "Tenanted", "Bee", "Flagged"}
    assert shown("status=approved") == {"Approved"}
    assert shown("status=") == set(names)  # "Any"
    assert shown(f"reseller={users.b_submitter.organization_id}") == {"Bee"}
    assert shown(f"reseller={users.a_submitter.organization_id}&status=approved") == {"Approved"}
    assert shown(f"tenant={TENANT}") == {"Tenanted"}
    assert shown("tenant=%7B" + TENANT.upper() + "%7D") == {"Tenanted"}
    assert shown("flagged=1") == {"Flagged"}


def test_detail_shows_the_customers_other_submissions_side_by_side(
    db: Session, users: Users, reviewer: FlaskClient
) -> None:
    mine = submit(
        db,
        users.a_submitter,
        **{"customer.tenantId": TENANT, "contact.email": "minji@tailspin.example"},
    )
    other = submit(
        db,
        users.b_submitter,
        **{
            "customer.tenantId": TENANT,
            "contact.lastName": "Other",
            "contact.email": "other@tailspin.example",
        },
    )
    submit(db, users.b_submitter, **{"contact.email": "unrelated@fabrikam.example"})
    page = text(reviewer.get(f"/review/acceptances/{mine.public_id}"))
    table = page[page.index('<table class="compare">') : page.index("</table>")]
    assert "This record" in table
    assert f'href="/review/acceptances/{other.public_id}"' in table
    assert "Reseller A" in table
    assert "Reseller B" in table
    assert "submitter@b.test" in table
    assert "minji@tailspin.example" in table
    assert "other@tailspin.example" in table
    assert "unrelated@fabrikam.example" not in page


def test_detail_warns_about_a_flagged_contact(
    db: Session, users: Users, reviewer: FlaskClient
) -> None:
    record = submit(db, users.a_submitter)
    record.flags = ["contact_at_reseller_domain"]
    db.add(record)
    db.commit()
    page = text(reviewer.get(f"/review/acceptances/{record.public_id}"))
    assert "⚑ Check the contact." in page
    assert "A reseller may not accept on the customer's behalf (R6)" in page


def test_approve_records_the_reviewer_and_enqueues_after_the_commit(
    db: Session, users: Users, reviewer: FlaskClient, enqueued: Seen
) -> None:
    record = submit(db, users.a_submitter)
    url = f"/review/acceptances/{record.public_id}"
    response = reviewer.post(f"{url}/approve")
    assert response.status_code == 302
    assert response.headers["Location"] == url
    # R9: the approving provider user; and the worker is told only once the approval is durable.
    assert enqueued == [(record.id, "approved", users.reviewer.id)]
    db.expire_all()
    assert record.status == RecordStatus.APPROVED
    assert record.approved_by_id == users.reviewer.id
    assert record.approved_at is not None
    event = db.exec(
        select(AuditEvent)
        .where(AuditEvent.subject_id == record.public_id)
        .order_by(col(AuditEvent.id).desc())
    ).first()
    assert event is not None
    assert (event.action, event.actor_label) == ("acceptance.approved", "reviewer@provider.test")
    assert "Approved. It is being sent to Partner Center." in text(reviewer.get(url))


@pytest.mark.parametrize("action", ["reject", "return"])
@pytest.mark.parametrize("reason", ["", "   "])
def test_reject_and_return_need_a_reason(
    db: Session, users: Users, reviewer: FlaskClient, action: str, reason: str
) -> None:
    record = submit(db, users.a_submitter)
    url = f"/review/acceptances/{record.public_id}"
    response = reviewer.post(f"{url}/{action}", data={"reason": reason})
    assert response.status_code == 302
    assert "Give a reason; the reseller will see it." in text(reviewer.get(url))
    assert status_of(db, record) == RecordStatus.SUBMITTED


@pytest.mark.parametrize(
    ("action", "status"), [("reject", RecordStatus.REJECTED), ("return", RecordStatus.RETURNED)]
)
def test_reject_and_return_show_the_reason_to_the_reseller(
    db: Session,
    users: Users,
    reviewer: FlaskClient,
    client_a: FlaskClient,
    enqueued: Seen,
    action: str,
    status: RecordStatus,
) -> None:
    record = submit(db, users.a_submitter)
    reason = "The contact works for the reseller, not the customer."
    response = reviewer.post(
        f"/review/acceptances/{record.public_id}/{action}", data={"reason": f"  {reason} "}
    )
    assert response.status_code == 302
    db.expire_all()
    assert record.status == status
    assert record.status_reason == reason
    assert record.reviewed_by_id == users.reviewer.id
    assert enqueued == []
    page = text(client_a.get(f"/reseller/acceptances/{record.public_id}"))
    assert reason in page


def test_approving_a_rejected_record_is_refused(
    db: Session, users: Users, reviewer: FlaskClient, enqueued: Seen
) -> None:
    record = submit(db, users.a_submitter)
    review.reject(db, actor=users.reviewer, record=record, reason="No")
    db.commit()
    url = f"/review/acceptances/{record.public_id}"
    response = reviewer.post(f"{url}/approve")
    assert response.headers["Location"] == url
    assert "A record that is rejected cannot be approved." in text(reviewer.get(url))
    assert status_of(db, record) == RecordStatus.REJECTED
    assert enqueued == []


def test_retry_sends_a_failed_record_again(
    db: Session, users: Users, reviewer: FlaskClient, enqueued: Seen
) -> None:
    record = submit(db, users.a_submitter)
    record.status = RecordStatus.FAILED.value
    record.upstream_code = "600040"
    record.upstream_message = "The email address is not valid."
    record.attempts = 3
    db.add(record)
    db.commit()
    response = reviewer.post(f"/review/acceptances/{record.public_id}/retry")
    assert response.status_code == 302
    db.expire_all()
    assert record.status == RecordStatus.APPROVED
    assert record.upstream_code is None
    assert record.attempts == 0
    assert enqueued == [(record.id, "approved", users.reviewer.id)]


def test_retry_of_a_record_that_did_not_fail_is_refused(
    db: Session, users: Users, reviewer: FlaskClient, enqueued: Seen
) -> None:
    record = submit(db, users.a_submitter)
    reviewer.post(f"/review/acceptances/{record.public_id}/retry")
    assert status_of(db, record) == RecordStatus.SUBMITTED
    assert enqueued == []


def test_bulk_approve_approves_only_the_selected_submitted_records(
    db: Session, users: Users, reviewer: FlaskClient, enqueued: Seen
) -> None:
    first, second, unselected = (submit(db, users.a_submitter) for _ in range(3))
    returned = submit(db, users.b_submitter)
    review.return_for_correction(db, actor=users.reviewer, record=returned, reason="Fix")
    db.commit()
    response = reviewer.post(
        "/review/bulk-approve",
        data={"record": [first.public_id, second.public_id, returned.public_id, "nosuchrecord"]},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/review/"
    assert status_of(db, first) == RecordStatus.APPROVED
    assert status_of(db, second) == RecordStatus.APPROVED
    assert status_of(db, unselected) == RecordStatus.SUBMITTED
    assert status_of(db, returned) == RecordStatus.RETURNED
    assert first.approved_by_id == second.approved_by_id == users.reviewer.id
    assert sorted(enqueued) == sorted(
        [(first.id, "approved", users.reviewer.id), (second.id, "approved", users.reviewer.id)]
    )
    page = text(reviewer.get("/review/"))
    assert "Approved 2 record(s)." in page
    assert f"Not approved {returned.public_id[:8]}" in page


def test_forwarding_monitor_shows_failed_and_retrying_records_with_upstream_errors(
    db: Session, users: Users, reviewer: FlaskClient
) -> None:
    failed = submit(db, users.a_submitter, **{"customer.companyName": "Failing Corp"})
    retrying = submit(db, users.b_submitter, **{"customer.companyName": "Throttled Ltd"})
    failed.status = RecordStatus.FAILED.value
    failed.upstream_code = "600040"
    failed.upstream_message = "The email address is not valid."
    retrying.status = RecordStatus.APPROVED.value
    retrying.upstream_code = "429"
    retrying.upstream_message = "Too many requests."
    retrying.attempts = 2
    retrying.next_attempt_at = utcnow() + timedelta(minutes=5)
    db.add(failed)
    db.add(retrying)
    db.commit()

    page = text(reviewer.get("/review/forwarding"))
    failed_part = page[page.index("<h2>Failed</h2>") : page.index("<h2>Retrying</h2>")]
    retrying_part = page[page.index("<h2>Retrying</h2>") : page.index("<h2>In flight</h2>")]
    assert "Failing Corp" in failed_part
    assert "<strong>600040</strong> The email address is not valid." in failed_part
    assert f"/review/acceptances/{failed.public_id}/retry" in failed_part
    assert "Throttled Ltd" in retrying_part
    assert "<strong>429</strong> Too many requests." in retrying_part
    assert "Reseller B" in retrying_part


def test_customer_timeline_lists_records_from_every_reseller(
    db: Session, users: Users, reviewer: FlaskClient
) -> None:
    from_a = submit(
        db,
        users.a_submitter,
        **{
            "customer.tenantId": TENANT,
            "customer.companyName": "Tailspin A",
            "contact.lastName": "FromA",
        },
    )
    submit(
        db,
        users.b_submitter,
        **{
            "customer.tenantId": TENANT,
            "customer.companyName": "Tailspin B",
            "contact.lastName": "FromB",
        },
    )
    page = text(reviewer.get(f"/review/customers/{from_a.customer_id}"))
    assert TENANT in page
    assert "Minji FromA" in page
    assert "Minji FromB" in page
    assert "Reseller A (as “Tailspin A”)" in page
    assert "Reseller B (as “Tailspin B”)" in page
