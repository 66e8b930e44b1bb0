"""What one page of the review queue costs the database: a fixed, small number of statements,
none of them a count or aggregate over the records table."""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session

from app.models import AcceptanceRecord, Organization
from tests.conftest import login
from tests.support import Users, submit

TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
AGGREGATE = re.compile(r"\b(count|sum|avg|min|max)\s*\(|\bGROUP BY\b", re.IGNORECASE)


def page_statements(app: Flask, client: FlaskClient, path: str) -> list[str]:
    """The statements one GET of `path` runs (transaction control left out)."""
    seen: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if not statement.lstrip().upper().startswith(TRANSACTION_CONTROL):
            seen.append(statement)

    engine = app.extensions["db_engine"]
    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        response = client.get(path)
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)
    assert response.status_code == 200
    return seen


def copy_records(db: Session, record: AcceptanceRecord, copies: int) -> None:
    """`copies` more submitted records like `record`, one second apart after it."""
    fields = record.model_dump(exclude={"id", "public_id", "version"})
    for n in range(copies):
        moment = record.created_at + timedelta(seconds=n + 1)
        db.add(AcceptanceRecord(**{**fields, "created_at": moment, "submitted_at": moment}))
    db.commit()


def test_a_queue_page_runs_two_statements_however_many_rows_it_shows(
    app: Flask, db: Session, users: Users, reviewer: FlaskClient
) -> None:
    first = submit(db, users.a_submitter, **{"contact.lastName": "Single"})
    db.commit()
    # The first page a process shows also reads the filter choices (resellers, versions) ...
    warm = page_statements(app, reviewer, "/review/")
    assert len(warm) <= 4, warm
    # ... then every page: the signed-in user, and the page with its names.
    one_row = page_statements(app, reviewer, "/review/")
    assert len(one_row) == 2, one_row

    copy_records(db, first, 60)
    full = page_statements(app, reviewer, "/review/")
    page = reviewer.get("/review/").get_data(as_text=True)
    assert page.count('name="record"') == 50  # a full page, and a next one
    assert "after=" in page
    assert len(full) == len(one_row), full
    filtered = page_statements(
        app,
        reviewer,
        f"/review/?status=submitted&reseller={users.a_submitter.organization_id}&flagged=1",
    )
    assert len(filtered) == len(one_row), filtered

    for statement in warm + full + filtered:
        # No statement counts or aggregates over the records (lists never count the table).
        if "acceptance_record" in statement:
            assert not AGGREGATE.search(statement), statement


def test_queue_rows_show_names_links_and_selection_labels(
    app: Flask, db: Session, users: Users, reviewer: FlaskClient
) -> None:
    record = submit(
        db,
        users.b_submitter,
        **{"customer.companyName": "Fabrikam & Sons", "contact.lastName": "Rowe"},
    )
    db.commit()
    reseller = db.get_one(Organization, users.b_submitter.organization_id).name
    page = reviewer.get("/review/").get_data(as_text=True)
    # The link is the detail page's URL; the name is escaped in the text and in the label.
    assert f'<a href="/review/acceptances/{record.public_id}">Fabrikam &amp; Sons</a>' in page
    assert f'value="{record.public_id}" aria-label="Select Fabrikam &amp; Sons"' in page
    assert f"<td>{reseller}</td>" in page
    assert "Minji Rowe" in page
    assert '<span class="badge badge-info">Submitted</span>' in page
    # The label's words are the translation's, around the name, in the reader's language.
    korean = app.test_client()
    korean.environ_base["HTTP_ACCEPT_LANGUAGE"] = "ko"
    login(korean, users.reviewer.email)
    page = korean.get("/review/").get_data(as_text=True)
    assert 'aria-label="Fabrikam &amp; Sons 선택"' in page
    assert '<option value="submitted" selected>제출됨</option>' in page
