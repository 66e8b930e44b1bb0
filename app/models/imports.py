"""A reseller's CSV upload and its progress."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, String
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime, new_public_id, utcnow


class ImportJob(SQLModel, table=True):
    """Rows of a bulk upload: how many, how many done and failed, and why each failed."""

    __tablename__ = "import_job"

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(default_factory=new_public_id, sa_type=String(32), unique=True)
    reseller_id: int = Field(foreign_key="organization.id", index=True)
    user_id: int = Field(foreign_key="user_account.id")
    filename: str = Field(sa_type=String(255))
    status: str = Field(default="pending", sa_type=String(16))
    rows_total: int = Field(default=0)
    rows_done: int = Field(default=0)
    rows_failed: int = Field(default=0)
    errors: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
