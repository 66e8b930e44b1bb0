"""A reseller's CSV upload (R15): the job and its progress, its rows, and what it created.

The file's columns and limits are described here too, beside the tables, as
`acceptance_input.py` holds the input shape of the web form and the API; reading and writing
the files is `app/services/import_csv.py`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, String, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from app.markers import N_, Message
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


# --- the CSV format: columns and limits ----------------------------------------------------------

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

TOO_LARGE = N_(
    "The file is larger than 5 MB, the most one upload may be. Split it into smaller files "
    "(at most 10,000 rows each)."
)
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}
ENCODING_LABELS = {
    "utf-8-sig": "UTF-8 (BOM)",
    "utf-8": "UTF-8",
    "cp949": "CP949 (Korean)",
    "utf-16": "UTF-16",
}
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
