"""Customers (Microsoft tenants) and which resellers serve them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.markers import N_
from app.models.base import UTCDateTime, utcnow


class Cloud(StrEnum):
    """The Microsoft cloud a tenant lives in; only the public cloud can be confirmed (R14)."""

    PUBLIC = "public"
    USGOV = "usgov"
    GERMANY = "germany"
    CHINA = "china"

    @property
    def label(self) -> str:
        """A readable name for screens."""
        return CLOUD_LABELS[self]


CLOUD_LABELS = {
    Cloud.PUBLIC: N_("Microsoft public cloud"),
    Cloud.USGOV: N_("Microsoft Cloud for US Government"),
    Cloud.GERMANY: N_("Microsoft Cloud Germany"),
    Cloud.CHINA: N_("Microsoft Azure operated by 21Vianet (China)"),
}


class Customer(SQLModel, table=True):
    """A customer's Microsoft tenant; shared by every reseller that serves it (R8)."""

    __tablename__ = "customer"
    # The provider's customer list, by name, in keyset pages (migration 0011).
    __table_args__ = (Index("ix_customer_company_name", "company_name", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(sa_type=String(36), unique=True)
    company_name: str = Field(sa_type=String(200))
    domain: str | None = Field(default=None, sa_type=String(253))
    cloud: str = Field(default=Cloud.PUBLIC.value, sa_type=String(16))
    country: str | None = Field(default=None, sa_type=String(2))  # ISO 3166-1 alpha-2
    # R13: the customer no longer accepts the agreement; its subscriptions must be cancelled.
    # Cleared when a new confirmation is recorded.
    withdrawn_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    withdrawal_reason: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CustomerReseller(SQLModel, table=True):
    """That a reseller serves a customer: what lets the reseller see and submit for it."""

    __tablename__ = "customer_reseller"
    __table_args__ = (
        UniqueConstraint("customer_id", "reseller_id"),
        # A reseller's customer list, by its own name for each, in keyset pages (0011).
        Index("ix_customer_reseller_reseller_name", "reseller_id", "company_name", "customer_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    reseller_id: int = Field(foreign_key="organization.id", index=True)
    # The reseller's own name for the customer, which may differ from the first one recorded.
    company_name: str = Field(sa_type=String(200))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
