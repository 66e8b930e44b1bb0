"""Requests for acceptance: the provider asks a reseller to collect a customer's (re-)acceptance."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text, text
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime, utcnow

_OPEN_SQL = "closed_at IS NULL"


class AcceptanceRequest(SQLModel, table=True):
    """One customer's acceptance asked of one reseller serving it; closed once confirmed."""

    __tablename__ = "acceptance_request"
    __table_args__ = (
        # The database itself refuses a second open request for the same customer and reseller.
        Index(
            "uq_acceptance_request_open",
            "customer_id",
            "reseller_id",
            unique=True,
            sqlite_where=text(_OPEN_SQL),
            postgresql_where=text(_OPEN_SQL),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    reseller_id: int = Field(foreign_key="organization.id", index=True)
    requested_by_id: int = Field(foreign_key="user_account.id")
    message: str | None = Field(default=None, sa_type=Text)
    # The current Customer Agreement version when the request was made (R12).
    template_id: str = Field(sa_type=String(36))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_reason: str | None = Field(default=None, sa_type=Text)

    @property
    def is_open(self) -> bool:
        """Still waiting for the customer's confirmation."""
        return self.closed_at is None
