"""Small operational tables: the shared upstream pause and API idempotency keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime, utcnow


class UpstreamPause(SQLModel, table=True):
    """When Partner Center throttles (429), every worker waits until `paused_until`."""

    __tablename__ = "upstream_pause"

    id: int | None = Field(default=None, primary_key=True)
    paused_until: datetime = Field(sa_type=UTCDateTime)
    reason: str = Field(sa_type=String(255))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class IdempotencyKey(SQLModel, table=True):
    """The first response to an API request sent with an `Idempotency-Key` header."""

    __tablename__ = "idempotency_key"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id")
    key: str = Field(sa_type=String(255))
    request_fingerprint: str = Field(sa_type=String(64))
    status_code: int
    response_body: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
