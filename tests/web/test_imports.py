"""The reseller's bulk import pages (R15): template, upload, live progress, failed rows."""

from __future__ import annotations

import csv
import html
import io
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import TestResponse, encode_multipart

from app.models import AcceptanceRecord, CustomerReseller
from app.models.imports import COLUMNS, MAX_IMPORT_ROWS, ImportJob
from tests.conftest import AppFactory
from tests.security.test_csrf import scrape, sign_in
from tests.services.test_imports import csv_bytes, row
from tests.support import Users
from workers import tasks


def text(response: TestResponse) -> str:
    return html.unescape(response.get_data(as_text=True))


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[int | None]:
    """The job ids the upload hands to the worker."""
    seen: list[int | None] = []

    def publish(job_id: int | None) -> int:
        seen.append(job_id)
        return 1

    monkeypatch.setattr("app.web.reseller.imports.enqueue_import", publish)
    return seen


def upload(client: FlaskClient, content: bytes, name: str = "customers.csv") -> TestResponse:
    return client.post(
        "/reseller/imports",
        data={"file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )


def run_worker(db: Session, job_id: int | None) -> None:
    """What the worker does with the published id (the task body, in the test's app)."""
    db.commit()  # end the test session's transaction: the task writes on its own sessions
    assert job_id is not None
    tasks.import_acceptances.run(job_id)
    db.expire_all()  # the test's requests share this session: read what the task wrote


def count(db: Session, model: type[Any]) -> int:
    db.expire_all()
    value = db.exec(select(sa.func.count()).select_from(model)).one()
    db.commit()
    return int(value)


def test_the_template_downloads_as_excel_ready_csv(client_a: FlaskClient) -> None:
    response = client_a.get("/reseller/imports/template.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.data.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert lines[0] == list(COLUMNS)
    assert len(lines) == 2


def test_upload_progress_failed_rows_and_their_download(
    app: Flask, client_a: FlaskClient, db: Session, users: Users, published: list[int | None]
) -> None:
    content = csv_bytes(
        [row(company_name="콘토소 코리아"), row(email="nope"), row(cloud="germany")],
        delimiter=";",
        encoding="cp949",
    )
    response = upload(client_a, content, name="고객 목록.csv")

    assert response.status_code == 302
    job = db.exec(select(ImportJob)).one()
    db.commit()
    assert response.headers["Location"] == f"/reseller/imports/{job.public_id}"
    assert published == [job.id]
    page = text(client_a.get(response.headers["Location"]))
    assert "File received: 3 rows are being imported." in page
    assert "Queued" in page
    assert '<progress id="import-bar" max="3" value="0">' in page
    assert 'data-active="true"' in page
    assert "imports.js" in page
    assert "CP949 (Korean)" in page
    assert "semicolon" in page
    progress = client_a.get(f"/reseller/imports/{job.public_id}/progress").get_json()
    assert (progress["status"], progress["active"], progress["done"]) == ("queued", True, 0)

    run_worker(db, job.id)

    progress = client_a.get(f"/reseller/imports/{job.public_id}/progress").get_json()
    assert progress == {
        "status": "finished",
        "label": "Finished",
        "active": False,
        "total": 3,
        "done": 3,
        "created": 1,
        "duplicate": 0,
        "failed": 2,
        "percent": 100,
        "text": "3 of 3 rows processed",
    }
    page = text(client_a.get(f"/reseller/imports/{job.public_id}"))
    assert 'data-active="false"' in page
    assert "1 acceptance was submitted for the provider's review." in page
    assert "Rows not imported (2)" in page
    failed = page.split('id="failed-rows"', 1)[1]
    assert '<td rowspan="1">3</td>' in failed
    assert '<td class="mono">email</td>' in failed
    assert '<td rowspan="1">4</td>' in failed
    assert "public cloud" in failed
    link = db.exec(select(CustomerReseller)).one()
    assert link.company_name == "콘토소 코리아"
    db.commit()

    download = client_a.get(f"/reseller/imports/{job.public_id}/failed.csv")
    assert download.status_code == 200
    assert download.mimetype == "text/csv"
    lines = list(csv.reader(io.StringIO(download.data.decode("utf-8-sig"))))
    assert lines[0] == [*COLUMNS, "error"]
    assert [line[COLUMNS.index("email")] for line in lines[1:]] == ["nope", row()["email"]]
    assert lines[1][-1].startswith("email: Enter a valid email address")

    listing = text(client_a.get("/reseller/imports"))
    assert "고객 목록.csv" in listing
    assert "Finished" in listing


def test_a_reupload_reports_rows_already_imported_with_their_record(
    client_a: FlaskClient, db: Session, published: list[int | None]
) -> None:
    content = csv_bytes([row(), row()])
    upload(client_a, content)
    run_worker(db, published[-1])
    upload(client_a, content)
    run_worker(db, published[-1])

    assert count(db, AcceptanceRecord) == 2
    second = db.get_one(ImportJob, published[-1])
    record = db.exec(select(AcceptanceRecord).order_by(AcceptanceRecord.id)).first()
    db.commit()
    assert record is not None
    page = text(client_a.get(f"/reseller/imports/{second.public_id}"))
    assert "Rows already imported (2)" in page
    assert f'href="/reseller/acceptances/{record.public_id}"' in page
    assert "Rows not imported" not in page


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"a;b\r\n1;2\r\n", "The first line must name the columns"),
        (b"tenant_id,company_name\r\nx,y\r\n", "Required columns are missing"),
        (
            ",".join(COLUMNS).encode() + b"\r\n" + b"x\r\n" * (MAX_IMPORT_ROWS + 1),
            "more than 10,000 rows",
        ),
    ],
)
def test_a_file_that_cannot_be_imported_is_refused_with_its_reason(
    client_a: FlaskClient, db: Session, published: list[int | None], content: bytes, message: str
) -> None:
    response = upload(client_a, content)
    assert response.status_code == 422
    assert message in text(response)
    assert count(db, ImportJob) == 0
    assert published == []


def test_an_upload_without_a_file_asks_for_one(
    client_a: FlaskClient, published: list[int | None]
) -> None:
    response = client_a.post("/reseller/imports", data={})
    assert response.status_code == 422
    assert "Choose a CSV file to upload." in text(response)


def test_a_file_over_five_megabytes_is_refused_on_the_upload_page(
    client_a: FlaskClient, db: Session, published: list[int | None]
) -> None:
    # Encoded in memory: the test client would spool a large body to a file nobody reads.
    boundary, body = encode_multipart(
        {"file": FileStorage(io.BytesIO(b"x" * (5 * 1024 * 1024 + 1)), "big.csv")}
    )
    response = client_a.post(
        "/reseller/imports",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert response.status_code == 413
    page = text(response)
    assert "The file is larger than 5 MB" in page
    assert 'enctype="multipart/form-data"' in page  # the form, to try again
    assert count(db, ImportJob) == 0
    # Elsewhere in the reseller's area the other handlers still answer (chained, not replaced).
    other = client_a.post(
        "/reseller/acceptances/new",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert other.status_code == 413
    assert "What you sent is too large." in text(other)
    assert "10,000 rows" not in text(other)


def test_another_resellers_import_is_not_found_and_never_listed(
    client_a: FlaskClient, client_b: FlaskClient, db: Session, published: list[int | None]
) -> None:
    upload(client_a, csv_bytes([row()]), name="only-a.csv")
    job = db.get_one(ImportJob, published[-1])
    db.commit()
    for suffix in ("", "/progress", "/failed.csv"):
        assert client_b.get(f"/reseller/imports/{job.public_id}{suffix}").status_code == 404
    assert "only-a.csv" not in text(client_b.get("/reseller/imports"))
    assert "only-a.csv" in text(client_a.get("/reseller/imports"))


def test_the_provider_has_no_import_pages_and_no_import_link(
    reviewer: FlaskClient, client_a: FlaskClient
) -> None:
    for url in ("/reseller/imports", "/reseller/imports/template.csv"):
        assert reviewer.get(url).status_code == 403
    assert upload(reviewer, csv_bytes([row()])).status_code == 403
    assert 'href="/reseller/imports"' not in text(reviewer.get("/review/"))
    assert 'href="/reseller/imports"' in text(client_a.get("/reseller/imports"))


def test_with_csrf_on_the_upload_needs_its_token_and_a_large_file_still_gets_its_page(
    make_app: AppFactory, sqlite_url: str, published: list[int | None]
) -> None:
    app = make_app(sqlite_url, WTF_CSRF_ENABLED=True)
    browser = sign_in(app, "submitter@a.test")
    token = scrape(browser, "/reseller/imports", "/reseller/imports")
    file = (io.BytesIO(csv_bytes([row()])), "a.csv")

    refused = browser.post("/reseller/imports", data={"file": file})
    assert refused.status_code == 400
    assert published == []

    file = (io.BytesIO(csv_bytes([row()])), "a.csv")
    accepted = browser.post("/reseller/imports", data={"file": file, "csrf_token": token})
    assert accepted.status_code == 302
    assert len(published) == 1

    # CSRF protection reads the form before the view: the size limit trips there, and the
    # reseller still sees the upload page with the reason.
    boundary, body = encode_multipart(
        {
            "csrf_token": token,
            "file": FileStorage(io.BytesIO(b"x" * (5 * 1024 * 1024 + 1)), "big.csv"),
        }
    )
    response = browser.post(
        "/reseller/imports", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert response.status_code == 413
    assert "The file is larger than 5 MB" in text(response)
    assert 'enctype="multipart/form-data"' in text(response)
