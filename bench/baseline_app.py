"""The bare baseline web app: what Flask + SQLAlchemy do with no portal around them.

Served by the same gunicorn settings as the portal (`gunicorn bench.baseline_app:app`), on the
same database (BENCH_DATABASE_URL):

- `POST /acceptances` validates the fields the portal's API validates (a tenant GUID, company
  name, domain, cloud, date agreed, names, e-mail address, phone number) and inserts one row
  into `bench_baseline_submission`; no tokens, no audit trail, no customer register.
- `GET /queue[?after=cursor]` is a keyset-paginated list of the portal's own `acceptance_record`
  table (submitted records, oldest first, 50 a page, with the customer and reseller names),
  rendered by `render_template`; no count, no layout, no session.
"""

from __future__ import annotations

import base64
import os
import threading
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from flask import Flask, jsonify, render_template, request
from sqlalchemy import Engine, create_engine, text

PAGE = 50
INSERT = text(
    "INSERT INTO bench_baseline_submission (tenant_id, company_name, domain, cloud, date_agreed, "
    "first_name, last_name, email, phone, created_at) VALUES (:tenant_id, :company_name, "
    ":domain, :cloud, :date_agreed, :first_name, :last_name, :email, :phone, :created_at) "
    "RETURNING id"
)
QUEUE = (
    "SELECT r.id, r.public_id, r.created_at, r.submitted_at, r.status, r.date_agreed, "
    "r.contact_first_name, r.contact_last_name, r.contact_email, c.company_name, c.tenant_id, "
    "o.name AS reseller_name FROM acceptance_record r JOIN customer c ON c.id = r.customer_id "
    "JOIN organization o ON o.id = r.reseller_id WHERE r.status = 'submitted' {after} "
    "ORDER BY r.created_at, r.id LIMIT :limit"
)
CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS bench_baseline_submission (
    id SERIAL PRIMARY KEY,
    tenant_id VARCHAR(36) NOT NULL,
    company_name VARCHAR(200) NOT NULL,
    domain VARCHAR(253),
    cloud VARCHAR(16) NOT NULL,
    date_agreed DATE NOT NULL,
    first_name VARCHAR(100) NOT NULL,
    last_name VARCHAR(100) NOT NULL,
    email VARCHAR(254) NOT NULL,
    phone VARCHAR(20),
    created_at TIMESTAMPTZ NOT NULL
)
"""


def _database_url() -> str:
    url = os.environ["BENCH_DATABASE_URL"]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


app = Flask(__name__, template_folder=str(Path(__file__).parent / "templates"))
_engines: list[Engine] = []
_lock = threading.Lock()


def engine() -> Engine:
    """This process's engine, made on first use (gunicorn workers each make their own)."""
    with _lock:
        if not _engines:
            # The portal's pool settings (app/db.py), so the two compete for connections alike.
            _engines.append(
                create_engine(_database_url(), pool_size=5, max_overflow=10, pool_pre_ping=True)
            )
        return _engines[0]


def _text(errors: dict[str, str], data: dict[str, Any], key: str, path: str, size: int) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        errors[path] = "Required."
        return ""
    if len(value.strip()) > size:
        errors[path] = f"At most {size} characters."
    return value.strip()


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def validate(body: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """The submission's values, and the errors by field path."""
    errors: dict[str, str] = {}
    if not isinstance(body, dict):
        return {}, {"body": "Send a JSON object."}
    customer = _object(body.get("customer"))
    contact = _object(body.get("contact"))
    values: dict[str, Any] = {}
    try:
        values["tenant_id"] = str(uuid.UUID(str(customer.get("tenantId", ""))))
    except ValueError:
        errors["customer.tenantId"] = "A GUID."
    values["company_name"] = _text(errors, customer, "companyName", "customer.companyName", 200)
    values["domain"] = (customer.get("domain") or "").strip()[:253] or None
    values["cloud"] = customer.get("cloud") or "public"
    if values["cloud"] != "public":
        errors["customer.cloud"] = "Only the public cloud."
    try:
        agreed = date.fromisoformat(str(body.get("dateAgreed", "")))
        if not date(2018, 1, 1) <= agreed <= datetime.now(UTC).date():
            errors["dateAgreed"] = "Between 2018 and today."
        values["date_agreed"] = agreed
    except ValueError:
        errors["dateAgreed"] = "A date (YYYY-MM-DD)."
    values["first_name"] = _text(errors, contact, "firstName", "contact.firstName", 100)
    values["last_name"] = _text(errors, contact, "lastName", "contact.lastName", 100)
    try:
        email = validate_email(str(contact.get("email", "")), check_deliverability=False)
        values["email"] = email.normalized
    except EmailNotValidError:
        errors["contact.email"] = "An e-mail address."
    values["phone"] = None
    if contact.get("phoneNumber"):
        try:
            number = phonenumbers.parse(str(contact["phoneNumber"]), "KR")
            if not phonenumbers.is_valid_number(number):
                raise ValueError("invalid")
            values["phone"] = phonenumbers.format_number(
                number, phonenumbers.PhoneNumberFormat.E164
            )
        except (phonenumbers.NumberParseException, ValueError):
            errors["contact.phoneNumber"] = "A phone number."
    return values, errors


@app.post("/acceptances")
def create() -> Any:
    """Validate and insert one row."""
    values, errors = validate(request.get_json(silent=True))
    if errors:
        return jsonify({"errors": errors}), 422
    with engine().begin() as conn:
        row_id = conn.execute(INSERT, {**values, "created_at": datetime.now(UTC)}).scalar_one()
    return jsonify({"id": row_id}), 201


def _cursor(created_at: datetime, row_id: int) -> str:
    raw = f"{created_at.isoformat()}|{row_id}".encode()
    return base64.urlsafe_b64encode(raw).decode()


def _after(cursor: str | None) -> tuple[datetime, int] | None:
    if not cursor:
        return None
    try:
        moment, row_id = base64.urlsafe_b64decode(cursor).decode().split("|")
        return datetime.fromisoformat(moment), int(row_id)
    except ValueError:
        return None


@app.get("/queue")
def queue() -> Any:
    """One keyset page of the submitted records."""
    after = _after(request.args.get("after"))
    params: dict[str, Any] = {"limit": PAGE + 1}
    condition = ""
    if after is not None:
        condition = "AND (r.created_at, r.id) > (:at, :id)"
        params.update(at=after[0], id=after[1])
    with engine().connect() as conn:
        rows = list(conn.execute(text(QUEUE.format(after=condition)), params))
    next_cursor = (
        _cursor(rows[PAGE - 1].created_at, rows[PAGE - 1].id) if len(rows) > PAGE else None
    )
    return render_template("baseline_queue.html", rows=rows[:PAGE], next_cursor=next_cursor)


def cursor_for(created_at: datetime, row_id: int) -> str:
    """The `after` cursor of this app for a keyset position (the bench builds deep links)."""
    return _cursor(created_at, row_id)
