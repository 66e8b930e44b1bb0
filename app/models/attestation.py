"""Attestations (enhanced flow, R18-R20): the customer's own acceptance on a Microsoft page."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, String, text
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime, utcnow


class AttestationStatus(StrEnum):
    """Where an attestation stands; the first three are "live"."""

    CREATING = "creating"  # asked for, no answer yet: a retry replays the same request id
    PENDING = "pending"  # created: the customer has not accepted yet
    ACCEPTED = "accepted"  # the customer accepted: the worker finalizes it
    FINALIZED = "finalized"  # the confirmation is recorded
    EXPIRED = "expired"  # the link lapsed unused (R19)
    CANCELLED = "cancelled"  # no longer needed (the customer was confirmed another way)
    FAILED = "failed"  # Partner Center refused it


LIVE = (AttestationStatus.CREATING, AttestationStatus.PENDING, AttestationStatus.ACCEPTED)
_LIVE_SQL = "status IN ('creating', 'pending', 'accepted')"


class Attestation(SQLModel, table=True):
    """One attestation asked for one record; a customer never has two live ones (R19)."""

    __tablename__ = "attestation"
    __table_args__ = (
        # The database itself refuses a second live attestation for a customer.
        Index(
            "uq_attestation_live_customer",
            "customer_id",
            unique=True,
            sqlite_where=text(_LIVE_SQL),
            postgresql_where=text(_LIVE_SQL),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    record_id: int = Field(foreign_key="acceptance_record.id", index=True)
    request_id: str = Field(sa_type=String(36))
    attestation_id: str | None = Field(default=None, sa_type=String(64), index=True)
    status: str = Field(default=AttestationStatus.CREATING.value, sa_type=String(16))
    acceptance_url: str | None = Field(default=None, sa_type=String(500))
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    polls: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    accepted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    @property
    def is_live(self) -> bool:
        """Creating, pending or accepted: it still blocks a second one."""
        return self.status in LIVE
