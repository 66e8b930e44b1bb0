"""Acceptance records: one reseller's statement that a customer accepted the agreement."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, Date, ForeignKey, Index, Integer, String, Text, text
from sqlmodel import Field, SQLModel

from app.markers import N_
from app.models.base import UTCDateTime, new_public_id, utcnow


class RecordStatus(StrEnum):
    """The lifecycle of a record (DESIGN.md); the values are part of the public API."""

    SUBMITTED = "submitted"
    RETURNED = "returned"
    WITHDRAWN = "withdrawn"
    REJECTED = "rejected"
    APPROVED = "approved"
    FORWARDING = "forwarding"
    AWAITING_CUSTOMER = "awaiting_customer"
    EXPIRED = "expired"
    CONFIRMED = "confirmed"
    DUPLICATE = "duplicate"
    FAILED = "failed"
    REVOKED = "revoked"

    @property
    def label(self) -> str:
        """A readable name for screens (English; pages translate it: `_(status.label)`)."""
        return STATUS_LABELS[self]


STATUS_LABELS = {
    RecordStatus.SUBMITTED: N_("Submitted"),
    RecordStatus.RETURNED: N_("Returned"),
    RecordStatus.WITHDRAWN: N_("Withdrawn"),
    RecordStatus.REJECTED: N_("Rejected"),
    RecordStatus.APPROVED: N_("Approved"),
    RecordStatus.FORWARDING: N_("Forwarding"),
    RecordStatus.AWAITING_CUSTOMER: N_("Awaiting customer"),
    RecordStatus.EXPIRED: N_("Expired"),
    RecordStatus.CONFIRMED: N_("Confirmed"),
    RecordStatus.DUPLICATE: N_("Duplicate"),
    RecordStatus.FAILED: N_("Failed"),
    RecordStatus.REVOKED: N_("Revoked"),
}

# States from which nothing moves on its own.
FINAL_STATUSES = frozenset(
    {
        RecordStatus.WITHDRAWN,
        RecordStatus.REJECTED,
        RecordStatus.CONFIRMED,
        RecordStatus.DUPLICATE,
        RecordStatus.REVOKED,
    }
)


class AgreementType(StrEnum):
    """Agreement types Partner Center knows; the portal only writes the Customer Agreement."""

    MICROSOFT_CUSTOMER_AGREEMENT = "MicrosoftCustomerAgreement"
    MICROSOFT_CLOUD_AGREEMENT = "MicrosoftCloudAgreement"


class Flag(StrEnum):
    """Warnings shown to reviewers beside a record."""

    CONTACT_AT_RESELLER_DOMAIN = "contact_at_reseller_domain"

    @property
    def description(self) -> str:
        """What the flag means for the reviewer."""
        return FLAG_DESCRIPTIONS[self]


FLAG_DESCRIPTIONS = {
    Flag.CONTACT_AT_RESELLER_DOMAIN: N_(
        "The contact's email is at one of the reseller's own domains. A reseller may not accept "
        "on the customer's behalf (R6): the person must belong to the customer."
    ),
}


class Source(StrEnum):
    """How a record reached the portal."""

    WEB = "web"
    API = "api"
    CSV = "csv"


# Every ORM update of a record is a compare-and-set on this counter: an UPDATE that finds the
# row changed since it was read matches nothing, and SQLAlchemy raises StaleDataError.
_version_column = Column("version", Integer, nullable=False, default=1, server_default=text("1"))


class AcceptanceRecord(SQLModel, table=True):
    """A submitted acceptance, its review, and its forwarding state (the outbox row)."""

    __tablename__ = "acceptance_record"
    __table_args__ = (
        Index("ix_acceptance_record_status_created", "status", "created_at", "id"),
        Index("ix_acceptance_record_reseller_created", "reseller_id", "created_at", "id"),
        Index("ix_acceptance_record_status_next_attempt", "status", "next_attempt_at"),
        # Lists and their keyset pages (migration 0011): every unfiltered list, a customer's
        # timeline, a reseller's list by status, and lists ordered by the last change.
        Index("ix_acceptance_record_created", "created_at", "id"),
        Index("ix_acceptance_record_customer_created", "customer_id", "created_at", "id"),
        Index(
            "ix_acceptance_record_reseller_status_created",
            "reseller_id",
            "status",
            "created_at",
            "id",
        ),
        Index("ix_acceptance_record_status_updated", "status", "updated_at", "id"),
    )
    __mapper_args__ = {"version_id_col": _version_column}

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(default_factory=new_public_id, sa_type=String(32), unique=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    reseller_id: int = Field(foreign_key="organization.id")
    submitted_by_id: int = Field(foreign_key="user_account.id")
    source: str = Field(default=Source.WEB.value, sa_type=String(8))

    agreement_type: str = Field(sa_type=String(64))
    template_id: str = Field(sa_type=String(36))
    date_agreed: date = Field(sa_type=Date)
    contact_first_name: str = Field(sa_type=String(100))
    contact_last_name: str = Field(sa_type=String(100))
    contact_email: str = Field(sa_type=String(254))
    contact_phone: str | None = Field(default=None, sa_type=String(20))
    # The language the customer reads the agreement in, e.g. "ko-KR" (enhanced flow, R18).
    language: str | None = Field(default=None, sa_type=String(16))
    flags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))

    status: str = Field(default=RecordStatus.SUBMITTED.value, sa_type=String(20))
    status_reason: str | None = Field(default=None, sa_type=Text)
    reviewed_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    reviewed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The provider user who approved the record for forwarding (R9).
    approved_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    approved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    # Forwarding state: this row is the outbox (DESIGN.md, "Forwarding").
    attempts: int = Field(default=0)
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    lease_owner: str | None = Field(default=None, sa_type=String(100))
    lease_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    pending_request_id: str | None = Field(default=None, sa_type=String(36))
    # When the sweeper last enqueued the record (it does so at most once per requeue interval).
    swept_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    upstream_code: str | None = Field(default=None, sa_type=String(64))
    upstream_message: str | None = Field(default=None, sa_type=Text)
    # The ledger entry that settles the record: its own when confirmed, the earlier one when
    # it is a duplicate.
    confirmation_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer,
            # The ledger also points back at its record; use_alter breaks the creation cycle.
            ForeignKey("confirmation.id", use_alter=True),
            nullable=True,
        ),
    )

    version: int = Field(default=1, sa_column=_version_column)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    submitted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # When retention removed the contact person's data (rejected and withdrawn records only).
    anonymised_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    @property
    def status_enum(self) -> RecordStatus:
        """The status as an enum."""
        return RecordStatus(self.status)

    @property
    def contact_name(self) -> str:
        """First and last name of the accepting person."""
        return f"{self.contact_first_name} {self.contact_last_name}"
