"""Evidence files on the record pages and the API (R3): attach, open, remove; who may; what the
download answers."""

from __future__ import annotations

import hashlib
import html
import io
import re
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlmodel import Session, col, select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import TestResponse, encode_multipart

from app.db import get_session
from app.models import AcceptanceRecord, AuditEvent, EvidenceFile, User
from app.services import evidence
from app.services.users import create_api_token
from tests.conftest import AppFactory
from tests.support import PASSWORD, Users, load_users, submit

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(40))
HTML = b"<!doctype html><script>alert(document.cookie)</script>"


def text(response: TestResponse) -> str:
    return html.unescape(response.get_data(as_text=True))


def multipart(**fields: Any) -> dict[str, Any]:
    """A multipart/form-data body, encoded in memory (the test client would spool a large one
    to a temporary file that an app refusing it unread never closes)."""
    values = {
        key: FileStorage(io.BytesIO(value[0].getvalue()), filename=value[1])
        if isinstance(value, tuple)
        else value
        for key, value in fields.items()
    }
    boundary, body = encode_multipart(MultiDict(values))
    return {"data": body, "content_type": f"multipart/form-data; boundary={boundary}"}


def upload(
    client: FlaskClient, record: AcceptanceRecord, content: bytes, name: str = "signed.pdf"
) -> TestResponse:
    """The record page's upload form, as a browser posts it."""
    return client.post(
        f"/reseller/acceptances/{record.public_id}/evidence",
        **multipart(file=(io.BytesIO(content), name)),
    )


def files(db: Session) -> list[EvidenceFile]:
    db.expire_all()
    return list(db.exec(select(EvidenceFile).order_by(col(EvidenceFile.id))))


def attached(db: Session, user: User, record: AcceptanceRecord, content: bytes = PDF) -> str:
    """A file attached through the service; its public id."""
    made = evidence.attach(db, actor=user, record=record, filename="signed.pdf", content=content)
    db.commit()
    return made.public_id


def audit_count(db: Session) -> int:
    db.expire_all()
    return int(db.exec(select(sa.func.count()).select_from(AuditEvent)).one())


# --- attaching through the record page ----------------------------------------------------------


def test_the_reseller_attaches_a_file_and_the_record_page_lists_it(
    client_a: FlaskClient, db: Session, users: Users
) -> None:
    record = submit(db, users.a_submitter)
    response = upload(client_a, record, PDF, "../scans/서명본 signed.pdf")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(
        f"/reseller/acceptances/{record.public_id}#evidence"
    )
    [row] = files(db)
    assert (row.filename, row.content_type, row.size_bytes) == (
        "서명본 signed.pdf",
        "application/pdf",
        len(PDF),
    )
    page = text(client_a.get(f"/reseller/acceptances/{record.public_id}"))
    assert "Attached 서명본 signed.pdf." in page
    assert "Evidence of acceptance" in page
    assert f"/reseller/acceptances/{record.public_id}/evidence/{row.public_id}" in page
    assert row.sha256[:16] in page
    assert "evidence added" in page  # the history shows the audit event
    assert f"{users.a_submitter.email}" in page


def test_a_pdf_that_is_really_html_is_refused_with_a_reason(
    client_a: FlaskClient, db: Session, users: Users
) -> None:
    record = submit(db, users.a_submitter)
    before = audit_count(db)
    response = upload(client_a, record, HTML, "acceptance.pdf")
    assert response.status_code == 302
    page = text(client_a.get(response.headers["Location"]))
    assert "This file is not a PDF, PNG or JPEG" in page
    assert files(db) == []
    assert audit_count(db) == before


def test_an_empty_file_and_no_file_are_refused(
    client_a: FlaskClient, db: Session, users: Users
) -> None:
    record = submit(db, users.a_submitter)
    page = text(client_a.get(upload(client_a, record, b"").headers["Location"]))
    assert "The file is empty" in page
    response = client_a.post(
        f"/reseller/acceptances/{record.public_id}/evidence",
        data={},
        content_type="multipart/form-data",
    )
    assert "Choose a file to attach." in text(client_a.get(response.headers["Location"]))
    assert files(db) == []


def test_a_file_over_the_limit_gets_413_with_a_clear_message(
    client_a: FlaskClient, db: Session, users: Users
) -> None:
    record = submit(db, users.a_submitter)
    response = upload(client_a, record, PDF + bytes(evidence.MAX_BYTES))
    assert response.status_code == 413
    assert "The file is larger than 5 MB" in text(response)
    assert files(db) == []


def test_the_413_message_comes_before_the_csrf_check_too(
    make_app: AppFactory, sqlite_url: str
) -> None:
    # With CSRF on (as in production) the oversized body is refused while the token is read.
    app = make_app(sqlite_url, WTF_CSRF_ENABLED=True)
    browser = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', text(browser.get("/login")))
    assert token is not None
    with app.app_context():
        db = get_session()
        users = load_users(db)
        signed_in = browser.post(
            "/login",
            data={"email": users.a_submitter.email, "password": PASSWORD, "csrf_token": token[1]},
        )
        assert signed_in.status_code == 302
        record = submit(db, users.a_submitter)
        response = upload(browser, record, PDF + bytes(evidence.MAX_BYTES))
        assert response.status_code == 413
        assert "The file is larger than 5 MB" in text(response)
        assert files(db) == []


def test_the_sixth_file_is_refused(client_a: FlaskClient, db: Session, users: Users) -> None:
    record = submit(db, users.a_submitter)
    for _ in range(evidence.MAX_FILES_PER_RECORD):
        attached(db, users.a_submitter, record)
    page = text(client_a.get(f"/reseller/acceptances/{record.public_id}"))
    assert 'type="file"' not in page
    assert "holds the most files allowed (5)" in page
    response = upload(client_a, record, PDF)
    assert "at most 5 files" in text(client_a.get(response.headers["Location"]))
    assert len(files(db)) == evidence.MAX_FILES_PER_RECORD


def test_a_rejected_record_offers_no_upload(
    client_a: FlaskClient, db: Session, users: Users
) -> None:
    record = submit(db, users.a_submitter)
    record.status = "rejected"
    db.commit()
    page = text(client_a.get(f"/reseller/acceptances/{record.public_id}"))
    assert 'type="file"' not in page
    assert "rejected or withdrawn: no evidence can be added" in page
    response = upload(client_a, record, PDF)
    assert "rejected or withdrawn" in text(client_a.get(response.headers["Location"]))
    assert files(db) == []


# --- opening -----------------------------------------------------------------------------------


def test_the_provider_sees_and_opens_the_file_with_safe_headers(
    reviewer: FlaskClient, db: Session, users: Users
) -> None:
    record = submit(db, users.a_submitter)
    file_id = attached(db, users.a_submitter, record)
    page = text(reviewer.get(f"/review/acceptances/{record.public_id}"))
    url = f"/review/acceptances/{record.public_id}/evidence/{file_id}"
    assert url in page
    assert 'type="file"' not in page  # the provider adds nothing
    assert "/remove" not in page

    response = reviewer.get(url)

    assert response.status_code == 200
    assert response.data == PDF
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Length"] == str(len(PDF))
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "filename=signed.pdf;" in response.headers["Content-Disposition"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response.headers["Cache-Control"]
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert "ETag" not in response.headers


def test_a_non_ascii_name_is_sent_in_both_forms(
    client_a: FlaskClient, db: Session, users: Users
) -> None:
    record = submit(db, users.a_submitter)
    upload(client_a, record, PNG, "계약서 (서명).png")
    [row] = files(db)
    response = client_a.get(f"/reseller/acceptances/{record.public_id}/evidence/{row.public_id}")
    disposition = response.headers["Content-Disposition"]
    assert response.headers["Content-Type"] == "image/png"
    assert "filename*=UTF-8''%EA%B3%84%EC%95%BD%EC%84%9C%20%28%EC%84%9C%EB%AA%85%29.png" in (
        disposition
    )
    assert "filename=evidence.png;" in disposition  # nothing ASCII was left of the name


def test_a_stored_type_outside_the_list_is_never_served_as_a_page(
    client_a: FlaskClient, db: Session, users: Users
) -> None:
    # Defence in depth: even a row changed behind the service's back is only ever bytes.
    record = submit(db, users.a_submitter)
    file_id = attached(db, users.a_submitter, record)
    db.execute(sa.update(EvidenceFile).values(content_type="text/html", content=HTML))
    db.commit()
    response = client_a.get(f"/reseller/acceptances/{record.public_id}/evidence/{file_id}")
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Disposition"].startswith("attachment;")


def test_another_reseller_gets_404_everywhere(
    client_b: FlaskClient, db: Session, users: Users
) -> None:
    record = submit(db, users.a_submitter)
    file_id = attached(db, users.a_submitter, record)
    base = f"/reseller/acceptances/{record.public_id}"
    assert client_b.get(f"{base}/evidence/{file_id}").status_code == 404
    assert upload(client_b, record, PDF).status_code == 404
    assert client_b.post(f"{base}/evidence/{file_id}/remove").status_code == 404
    [row] = files(db)
    assert (row.removed_at, row.record_id) == (None, record.id)
    assert len(files(db)) == 1


def test_a_file_is_not_reachable_through_another_record(
    client_a: FlaskClient, db: Session, users: Users
) -> None:
    record = submit(db, users.a_submitter)
    other = submit(db, users.a_submitter)
    file_id = attached(db, users.a_submitter, record)
    url = f"/reseller/acceptances/{other.public_id}/evidence/{file_id}"
    assert client_a.get(url).status_code == 404


def test_the_provider_cannot_upload(reviewer: FlaskClient, db: Session, users: Users) -> None:
    record = submit(db, users.a_submitter)
    assert upload(reviewer, record, PDF).status_code == 403
    assert files(db) == []


# --- removing ----------------------------------------------------------------------------------


def test_the_uploader_removes_a_wrong_file_before_review(
    client_a: FlaskClient, db: Session, users: Users
) -> None:
    record = submit(db, users.a_submitter)
    file_id = attached(db, users.a_submitter, record)
    base = f"/reseller/acceptances/{record.public_id}"
    assert f"{base}/evidence/{file_id}/remove" in text(client_a.get(base))

    response = client_a.post(f"{base}/evidence/{file_id}/remove")

    assert response.status_code == 302
    page = text(client_a.get(base))
    assert "Removed signed.pdf." in page
    assert "evidence removed" in page
    assert "No file is attached to this record." in page
    assert client_a.get(f"{base}/evidence/{file_id}").status_code == 404
    [row] = files(db)
    assert row.content == b""


def test_after_the_decision_the_file_stays(
    client_a: FlaskClient, db: Session, users: Users
) -> None:
    record = submit(db, users.a_submitter)
    file_id = attached(db, users.a_submitter, record)
    record.status = "approved"
    db.commit()
    base = f"/reseller/acceptances/{record.public_id}"
    page = text(client_a.get(base))
    assert "/remove" not in page
    assert 'type="file"' in page  # more evidence may still come
    response = client_a.post(f"{base}/evidence/{file_id}/remove")
    assert "Files stay with the record" in text(client_a.get(response.headers["Location"]))
    assert files(db)[0].content == PDF


# --- the API -----------------------------------------------------------------------------------


def bearer(db: Session, user: User) -> dict[str, str]:
    _row, secret = create_api_token(db, actor=None, user=user, label="tests")
    db.commit()
    return {"Authorization": f"Bearer {secret}"}


def api_upload(
    client: FlaskClient, record: AcceptanceRecord, headers: dict[str, str], **data: Any
) -> TestResponse:
    return client.post(
        f"/api/v1/acceptances/{record.public_id}/evidence", headers=headers, **multipart(**data)
    )


def test_the_api_attaches_lists_and_downloads(
    client: FlaskClient, db: Session, users: Users
) -> None:
    record = submit(db, users.a_submitter)
    as_a = bearer(db, users.a_submitter)
    response = api_upload(client, record, as_a, file=(io.BytesIO(PNG), "scan.png"))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["filename"] == "scan.png"
    assert body["contentType"] == "image/png"
    assert body["size"] == len(PNG)
    assert body["sha256"] == hashlib.sha256(PNG).hexdigest()
    assert response.headers["Location"] == body["download"]

    listed = client.get(f"/api/v1/acceptances/{record.public_id}/evidence", headers=as_a)
    assert [item["id"] for item in listed.get_json()["items"]] == [body["id"]]
    as_reviewer = bearer(db, users.reviewer)
    download = client.get(body["download"], headers=as_reviewer)
    assert (download.status_code, download.data) == (200, PNG)
    assert download.headers["Content-Type"] == "image/png"


def test_the_api_refuses_bad_files_with_422_and_other_resellers_with_404(
    client: FlaskClient, db: Session, users: Users
) -> None:
    record = submit(db, users.a_submitter)
    as_a, as_b = bearer(db, users.a_submitter), bearer(db, users.b_submitter)
    html_pdf = api_upload(client, record, as_a, file=(io.BytesIO(HTML), "x.pdf"))
    assert html_pdf.status_code == 422
    assert "not a PDF, PNG or JPEG" in html_pdf.get_json()["errors"]["file"][0]
    missing = api_upload(client, record, as_a)
    assert missing.status_code == 422
    assert "file" in missing.get_json()["errors"]
    other = api_upload(client, record, as_b, file=(io.BytesIO(PDF), "x.pdf"))
    assert other.status_code == 404
    listed = client.get(f"/api/v1/acceptances/{record.public_id}/evidence", headers=as_b)
    assert listed.status_code == 404
    too_big = api_upload(client, record, as_a, file=(io.BytesIO(PDF + bytes(5 << 20)), "x.pdf"))
    assert too_big.status_code == 413
    assert files(db) == []


@pytest.mark.parametrize("status", ["withdrawn", "rejected"])
def test_the_api_answers_409_on_a_dismissed_record(
    client: FlaskClient, db: Session, users: Users, status: str
) -> None:
    record = submit(db, users.a_submitter)
    record.status = status
    db.commit()
    response = api_upload(
        client, record, bearer(db, users.a_submitter), file=(io.BytesIO(PDF), "x.pdf")
    )
    assert response.status_code == 409
    assert files(db) == []
