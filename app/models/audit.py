"""The append-only audit trail; each event carries the hash of the one before it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, String
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime, utcnow


class AuditEvent(SQLModel, table=True):
    """Who did what to which subject, when; never updated or deleted (triggers refuse it)."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_subject", "subject_type", "subject_id"),)

    id: int | None = Field(default=None, primary_key=True)
    occurred_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    actor_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    actor_label: str = Field(sa_type=String(254))  # the email, or "system" for the worker
    organization_id: int | None = Field(default=None, foreign_key="organization.id", index=True)
    action: str = Field(sa_type=String(64))
    subject_type: str = Field(sa_type=String(32))
    subject_id: str = Field(sa_type=String(64))
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    prev_hash: str = Field(sa_type=String(64))
    hash: str = Field(sa_type=String(64), unique=True)
