"""The Confirmation ledger: what Partner Center holds per customer, agreement type and version."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Date, Index, String, Text, text
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime, utcnow


class ConfirmationSource(StrEnum):
    """Where the portal learned of a confirmation."""

    SENT = "sent"  # the portal sent it
    UPSTREAM = "upstream"  # found already in Partner Center
    DIRECT = "direct"  # the customer accepted directly (Microsoft 365 admin center)


class ConfirmationState(StrEnum):
    """Only one active entry per customer, type and template; superseded ones stay as history."""

    ACTIVE = "active"
    SUPERSEDED = "superseded"
    REVOKED = "revoked"


class Confirmation(SQLModel, table=True):
    """One confirmation of acceptance held upstream; the unique key is the dedup guarantee."""

    __tablename__ = "confirmation"
    __table_args__ = (
        # The database forbids a second active confirmation of the same version (R8, R12).
        Index(
            "uq_confirmation_active_version",
            "customer_id",
            "agreement_type",
            "template_id",
            unique=True,
            sqlite_where=text("state = 'active'"),
            postgresql_where=text("state = 'active'"),
        ),
        # Exports and the dashboard's confirmations per day read the ledger by time (0011).
        Index("ix_confirmation_created", "created_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    agreement_type: str = Field(sa_type=String(64))
    template_id: str = Field(sa_type=String(36))
    date_agreed: date | None = Field(default=None, sa_type=Date)
    contact_first_name: str | None = Field(default=None, sa_type=String(100))
    contact_last_name: str | None = Field(default=None, sa_type=String(100))
    contact_email: str | None = Field(default=None, sa_type=String(254))
    contact_phone: str | None = Field(default=None, sa_type=String(20))
    source: str = Field(sa_type=String(16))
    record_id: int | None = Field(default=None, foreign_key="acceptance_record.id")
    # The provider employee who approved what was sent (R9).
    approved_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    upstream_request_id: str | None = Field(default=None, sa_type=String(36))
    state: str = Field(default=ConfirmationState.ACTIVE.value, sa_type=String(16))
    state_reason: str | None = Field(default=None, sa_type=Text)
    state_changed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
