"""A reseller's CSV upload (R15): the job and its progress, its rows, and what it created.

The CSV format lives here too (columns, header names, the mapping to the API's input shape),
beside the tables, as `acceptance_input.py` holds the input shape of the web form and the API.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, String, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from app.markers import M_, N_, Message
from app.models.base import UTCDateTime, new_public_id, utcnow


class ImportStatus(StrEnum):
    """A job's lifecycle: queued (stored, waiting for a worker), running, then final."""

    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    # Stopped as a whole (the uploader's account was disabled before its rows were processed).
    FAILED = "failed"

    @property
    def label(self) -> str:
        """A readable name for screens."""
        return self.value.capitalize()


ACTIVE_IMPORT_STATUSES = (ImportStatus.QUEUED, ImportStatus.RUNNING)


class RowStatus(StrEnum):
    """What became of one line of the file."""

    PENDING = "pending"
    CREATED = "created"
    # The same row was imported before (by any upload of this reseller): nothing new made.
    DUPLICATE = "duplicate"
    FAILED = "failed"


class ImportJob(SQLModel, table=True):
    """Rows of a bulk upload: how many, how many done and failed, and why each failed."""

    __tablename__ = "import_job"
    __table_args__ = (Index("ix_import_job_status_touched", "status", "touched_at"),)

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(default_factory=new_public_id, sa_type=String(32), unique=True)
    reseller_id: int = Field(foreign_key="organization.id", index=True)
    user_id: int = Field(foreign_key="user_account.id")
    filename: str = Field(sa_type=String(255))
    status: str = Field(default=ImportStatus.QUEUED.value, sa_type=String(16))
    rows_total: int = Field(default=0)
    # Rows processed so far (created + duplicate + failed).
    rows_done: int = Field(default=0)
    rows_failed: int = Field(default=0)
    rows_created: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})
    rows_duplicate: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})
    # Notes about the whole file ({"message": ...}), e.g. columns that were not used.
    errors: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    # The header as the file spelled it, to give the failed rows back in the same columns.
    columns: list[str] = Field(
        default_factory=list,
        sa_column=Column(JSON, nullable=False, server_default=text("'[]'")),
    )
    encoding: str | None = Field(default=None, sa_type=String(16))
    delimiter: str | None = Field(default=None, sa_type=String(16))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Last sign of life: the upload, a dispatch, or a processed batch. The sweeper re-sends
    # a queued or running job whose time this is older than its requeue interval.
    touched_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    @property
    def is_active(self) -> bool:
        """Still waiting for or being processed by a worker."""
        return self.status in ACTIVE_IMPORT_STATUSES

    @property
    def percent(self) -> int:
        """How far along, 0..100."""
        if not self.rows_total:
            return 100 if not self.is_active else 0
        return min(100, self.rows_done * 100 // self.rows_total)


class ImportRow(SQLModel, table=True):
    """One data line of an uploaded file, as read, and its outcome."""

    __tablename__ = "import_row"
    __table_args__ = (
        UniqueConstraint("job_id", "line"),
        Index("ix_import_row_job_status_line", "job_id", "status", "line"),
    )

    id: int | None = Field(default=None, primary_key=True)
    job_id: int = Field(foreign_key="import_job.id")
    # The line of the file the row starts on (the header is line 1).
    line: int
    # The cells as read, in the order of the job's `columns`.
    values: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=RowStatus.PENDING.value, sa_type=String(16))
    # The record this row created, or the one it duplicates.
    record_id: int | None = Field(default=None, foreign_key="acceptance_record.id")
    # [{"column": "email", "message": "..."}]; column "" when the whole line is wrong.
    errors: list[dict[str, str]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )


class ImportedAcceptance(SQLModel, table=True):
    """The key of a row that created a record: the database refuses to create it twice.

    The key is a SHA-256 of the reseller and the row's normalised content, so a re-upload of
    the same rows, or a task that runs twice, finds the record made the first time.
    """

    __tablename__ = "imported_acceptance"
    __table_args__ = (UniqueConstraint("reseller_id", "row_key"),)

    id: int | None = Field(default=None, primary_key=True)
    reseller_id: int = Field(foreign_key="organization.id")
    row_key: str = Field(sa_type=String(64))
    record_id: int = Field(foreign_key="acceptance_record.id", index=True)
    job_id: int = Field(foreign_key="import_job.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# --- the CSV format ------------------------------------------------------------------------------

MAX_IMPORT_ROWS = 10_000
MAX_IMPORT_BYTES = 5 * 1024 * 1024  # the app's MAX_CONTENT_LENGTH

# Columns in the template's order, each with the input path (the API's) it fills.
COLUMN_PATHS: dict[str, str] = {
    "tenant_id": "customer.tenantId",
    "company_name": "customer.companyName",
    "domain": "customer.domain",
    "cloud": "customer.cloud",
    "country": "customer.country",
    "language": "language",
    "agreement_type": "agreementType",
    "template_id": "templateId",
    "date_agreed": "dateAgreed",
    "first_name": "contact.firstName",
    "last_name": "contact.lastName",
    "email": "contact.email",
    "phone_number": "contact.phoneNumber",
}
COLUMNS = tuple(COLUMN_PATHS)
REQUIRED_COLUMNS = ("tenant_id", "company_name", "date_agreed", "first_name", "last_name", "email")
# The column the failed-rows download adds; ignored when that file comes back.
ERROR_COLUMN = "error"

# Other spellings people (and other systems) give these columns, after normalising.
_ALIASES = {
    "tenant": "tenant_id",
    "customer_tenant_id": "tenant_id",
    "microsoft_tenant_id": "tenant_id",
    "company": "company_name",
    "customer_name": "company_name",
    "primary_domain": "domain",
    "country_code": "country",
    "agreement_language": "language",
    "date": "date_agreed",
    "accepted_on": "date_agreed",
    "date_accepted": "date_agreed",
    "contact_first_name": "first_name",
    "firstname": "first_name",
    "contact_last_name": "last_name",
    "lastname": "last_name",
    "email_address": "email",
    "contact_email": "email",
    "phone": "phone_number",
    "phonenumber": "phone_number",
    "contact_phone": "phone_number",
    "contact_phone_number": "phone_number",
}

TOO_LARGE = N_(
    "The file is larger than 5 MB, the most one upload may be. Split it into smaller files "
    "(at most 10,000 rows each)."
)
EMPTY = N_("The file is empty. Download the template and fill it in.")
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}
ENCODING_LABELS = {
    "utf-8-sig": "UTF-8 (BOM)",
    "utf-8": "UTF-8",
    "cp949": "CP949 (Korean)",
    "utf-16": "UTF-16",
}
# A cell a spreadsheet would run as a formula; phone numbers (+82 ...) and negative numbers
# stay as they are, so the failed rows go back into the import unchanged.
_FORMULA = re.compile(r"^(?:[=@\t\r]|[+-](?![\d\s().+-]*$))")

EXAMPLE_TENANT_ID = "0a1b2c3d-4e5f-6789-abcd-ef0123456789"
EXAMPLE_ROW = {
    "tenant_id": EXAMPLE_TENANT_ID,
    "company_name": "Contoso Korea",
    "domain": "contoso.onmicrosoft.com",
    "cloud": "public",
    "country": "KR",
    "language": "ko-KR",
    "agreement_type": "MicrosoftCustomerAgreement",
    "template_id": "",
    "date_agreed": "2026-03-02",
    "first_name": "Minji",
    "last_name": "Kim",
    "email": "minji.kim@contoso.example",
    "phone_number": "+82 2 1234 5678",
}


def column_key(name: str) -> str:
    """A header cell as a column name: case, spaces, dashes and camelCase do not matter."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip().lstrip("\ufeff"))
    key = re.sub(r"[^0-9a-z]+", "_", spaced.lower()).strip("_")
    return _ALIASES.get(key, key)


_YEAR_FIRST = re.compile(r"(\d{4})\s*[./-]\s*(\d{1,2})\s*[./-]\s*(\d{1,2})\.?")


def _date_cell(value: str) -> str:
    # Spreadsheets rewrite dates in the user's format; the year-first ones are unambiguous
    # (2026/3/2, 2026.03.02, the Korean "2026. 3. 2."): read them as YYYY-MM-DD.
    match = _YEAR_FIRST.fullmatch(value.strip())
    if match is None:
        return value
    year, month, day = match.groups()
    return f"{year}-{int(month):02d}-{int(day):02d}"


def row_input(cells: dict[str, str]) -> dict[str, Any]:
    """One row's cells (by column name) in the API's input shape, for `parse_submission`."""

    def get(name: str) -> str:
        # Empty cells go through as "": the input model gives its one message for each field.
        return cells.get(name, "")

    return {
        "customer": {
            "tenantId": get("tenant_id"),
            "companyName": get("company_name"),
            "domain": get("domain"),
            "cloud": get("cloud"),
            "country": get("country"),
        },
        "language": get("language"),
        "agreementType": get("agreement_type"),
        "templateId": get("template_id"),
        "dateAgreed": _date_cell(get("date_agreed")),
        "contact": {
            "firstName": get("first_name"),
            "lastName": get("last_name"),
            "email": get("email"),
            "phoneNumber": get("phone_number"),
        },
    }


def message_json(message: str) -> dict[str, Any]:
    """A message as a row's or job's errors keep it: the English text, and its template and
    values when it has some (so a page can show it in the reader's language)."""
    if isinstance(message, Message) and message.params:
        params = {
            key: {"msgid": value.msgid} if isinstance(value, Message) else value
            for key, value in message.params.items()
        }
        return {"message": str(message), "msgid": message.msgid, "params": params}
    return {"message": str(message)}


def stored_message(error: dict[str, Any]) -> str:
    """A kept message again: a `Message` when it has a template, else its English text."""
    if "msgid" in error:
        params = {
            key: Message(value["msgid"]) if isinstance(value, dict) else value
            for key, value in (error.get("params") or {}).items()
        }
        return Message(str(error["msgid"]), params)
    return str(error.get("message", ""))


def column_for_path(path: str) -> str:
    """The CSV column of an input path (e.g. "contact.email" -> "email"); "" if none."""
    for column, column_path in COLUMN_PATHS.items():
        if path == column_path or path.startswith(column_path + "."):
            return column
    return ""


# --- reading a file ------------------------------------------------------------------------------


@dataclass
class ParsedFile:
    """An upload as read: its header, data rows (line, cells) and what was detected."""

    columns: list[str]
    keys: list[str]
    rows: list[tuple[int, list[str]]]
    encoding: str
    delimiter: str
    notes: list[Message] = field(default_factory=list)


def _refuse(message: str) -> Exception:
    from app.services.errors import ValidationFailed

    return ValidationFailed({"file": [message]})


def decode(content: bytes) -> tuple[str, str]:
    """The file's text and its encoding: UTF-8 with or without BOM, UTF-16, else CP949."""
    if content.startswith(b"\xef\xbb\xbf"):
        candidates = ["utf-8-sig"]
    elif content.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates = ["utf-16"]  # Excel's "Unicode text"
    else:
        # CP949 (a superset of EUC-KR) is what Korean Excel writes for "CSV (comma delimited)".
        candidates = ["utf-8", "cp949"]
    for encoding in candidates:
        try:
            return content.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise _refuse(
        N_(
            "The file's characters could not be read. In Excel choose Save As > "
            "“CSV UTF-8 (Comma delimited)” and upload that file."
        )
    )


def detect_delimiter(text: str) -> str:
    """Comma, semicolon or tab: whichever separates the header line's names most often."""
    header = text.split("\n", 1)[0]
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _unquote(value: str) -> str:
    # The failed-rows download protects formula-like cells with a leading apostrophe; take it
    # off again so a corrected file reads exactly as the original did.
    if value.startswith("'") and _FORMULA.match(value[1:]):
        return value[1:]
    return value


def parse_csv(content: bytes) -> ParsedFile:
    """Read an upload: encoding, delimiter, header and data rows (blank lines skipped).

    Raises `app.services.errors.ValidationFailed` ({"file": [message]}) when the file cannot be
    imported at all; nothing about single rows is decided here.
    """
    if len(content) > MAX_IMPORT_BYTES:
        raise _refuse(TOO_LARGE)
    if not content.strip():
        raise _refuse(EMPTY)
    if content.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise _refuse(
            N_(
                "This is an Excel workbook, not a CSV file. In Excel choose Save As > "
                "“CSV UTF-8 (Comma delimited)” and upload that file."
            )
        )
    text, encoding = decode(content)
    if "\x00" in text:
        raise _refuse(N_("This is not a CSV file (it contains binary data). Save it as CSV."))
    delimiter = detect_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader, None)
        while header is not None and not any(cell.strip() for cell in header):
            header = next(reader, None)  # blank lines above the header
        if header is None:
            raise _refuse(EMPTY)
        columns = [cell.strip().lstrip("\ufeff") for cell in header]
        keys = _check_header(columns)
        rows: list[tuple[int, list[str]]] = []
        last_line = reader.line_num
        for cells in reader:
            line, last_line = last_line + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue  # blank lines and spreadsheets' trailing ";;;;" lines
            rows.append((line, [_unquote(cell) for cell in cells]))
            if len(rows) > MAX_IMPORT_ROWS:
                break
    except csv.Error as exc:
        raise _refuse(
            M_("Line %(line)s cannot be read as CSV (%(why)s).", line=reader.line_num, why=str(exc))
        ) from None
    if not rows:
        raise _refuse(N_("The file has a header but no rows under it."))
    if len(rows) > MAX_IMPORT_ROWS:
        raise _refuse(
            M_(
                "The file has more than %(max)s rows: at most %(max)s can be imported at once. "
                "Split it into several files; nothing was imported.",
                max=f"{MAX_IMPORT_ROWS:,}",
            )
        )
    unused = [c for c, k in zip(columns, keys, strict=True) if k not in COLUMNS and c]
    unused = [c for c in unused if column_key(c) != ERROR_COLUMN]
    notes = [M_("Columns not used: %(names)s.", names=", ".join(unused))] if unused else []
    return ParsedFile(columns, keys, rows, encoding, delimiter, notes)


def _check_header(columns: list[str]) -> list[str]:
    keys = [column_key(c) for c in columns]
    if not any(k in COLUMNS for k in keys):
        raise _refuse(
            N_(
                "The first line must name the columns (tenant_id, company_name, ...). "
                "Download the template and keep its first line."
            )
        )
    repeated = sorted({k for k in keys if k in COLUMNS and keys.count(k) > 1})
    if repeated:
        raise _refuse(
            M_("These columns appear more than once: %(names)s.", names=", ".join(repeated))
        )
    missing = [k for k in REQUIRED_COLUMNS if k not in keys]
    if missing:
        raise _refuse(
            M_(
                "Required columns are missing: %(names)s. "
                "The template has every column; keep its first line.",
                names=", ".join(missing),
            )
        )
    return keys


def template_csv() -> bytes:
    """The CSV template: the header and one example row, UTF-8 with a BOM for Excel."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerow([EXAMPLE_ROW[c] for c in COLUMNS])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def safe_cell(value: str) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula."""
    return "'" + value if _FORMULA.match(value) else value
