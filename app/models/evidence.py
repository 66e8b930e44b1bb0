"""Evidence files: the customer's signed acceptance attached to a record (R3)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, LargeBinary, String
from sqlalchemy.orm import deferred
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime, new_public_id, utcnow

# The bytes live in the row itself, so a file is written in the same transaction as its audit
# event and travels with every database backup. Deferred: lists and exports read the metadata
# and never pull the blobs; only a download asks for `content`.
_content_column = Column("content", LargeBinary, nullable=False)


class EvidenceFile(SQLModel, table=True):
    """One file proving a record's acceptance: its bytes, what it is, who added it, when."""

    __tablename__ = "evidence_file"
    __mapper_args__ = {"properties": {"content": deferred(_content_column)}}

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(default_factory=new_public_id, sa_type=String(32), unique=True)
    record_id: int = Field(foreign_key="acceptance_record.id", index=True)
    # Sanitised for display and for the download's name; never used as a path.
    filename: str = Field(sa_type=String(255))
    # Decided from the file's first bytes, never from what the browser claimed.
    content_type: str = Field(sa_type=String(64))
    size_bytes: int
    sha256: str = Field(sa_type=String(64))
    content: bytes = Field(sa_column=_content_column)
    uploaded_by_id: int = Field(foreign_key="user_account.id")
    uploaded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # A removed file keeps its name, size and hash (the audit trail names them) but not its
    # bytes: it was attached by mistake, or retention discarded it with the record's contact.
    removed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    removed_by_id: int | None = Field(default=None, foreign_key="user_account.id")

    @property
    def is_removed(self) -> bool:
        """Whether the file was removed (its bytes are gone)."""
        return self.removed_at is not None
