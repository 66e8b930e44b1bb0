"""Agreement templates (versions) as Partner Center's metadata lists them (R12)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime, utcnow

# The Customer Agreement template Partner Center has served since 2019 (contract §2.1); used
# until the first metadata sync tells otherwise.
WELL_KNOWN_MCA_TEMPLATE_ID = "117a77b0-9360-443b-8795-c6dedc750cf9"
WELL_KNOWN_MCA_LINK = "https://aka.ms/customeragreement"


class AgreementTemplate(SQLModel, table=True):
    """One version of an agreement; exactly one per type is current."""

    __tablename__ = "agreement_template"
    __table_args__ = (UniqueConstraint("agreement_type", "template_id"),)

    id: int | None = Field(default=None, primary_key=True)
    agreement_type: str = Field(sa_type=String(64))
    template_id: str = Field(sa_type=String(36))
    agreement_link: str | None = Field(default=None, sa_type=String(500))
    version_rank: int = Field(default=0)
    current: bool = Field(default=False)
    first_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
