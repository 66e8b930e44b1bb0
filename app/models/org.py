"""Organizations (the provider and its resellers), their users and the users' API tokens."""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, Index, String, text
from sqlmodel import Field, SQLModel

from app.markers import N_
from app.models.base import UTCDateTime, utcnow


class OrgKind(StrEnum):
    """The two kinds of organization in the indirect model."""

    PROVIDER = "provider"
    RESELLER = "reseller"


class Role(StrEnum):
    """What a user may do; the first two belong to a reseller, the last two to the provider."""

    RESELLER_SUBMITTER = "reseller_submitter"
    RESELLER_ADMIN = "reseller_admin"
    PROVIDER_REVIEWER = "provider_reviewer"
    PROVIDER_ADMIN = "provider_admin"

    @property
    def is_provider(self) -> bool:
        """True for the provider's staff."""
        return self in (Role.PROVIDER_REVIEWER, Role.PROVIDER_ADMIN)

    @property
    def label(self) -> str:
        """A readable name for screens (English; pages translate it: `_(role.label)`)."""
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.RESELLER_SUBMITTER: N_("Reseller submitter"),
    Role.RESELLER_ADMIN: N_("Reseller admin"),
    Role.PROVIDER_REVIEWER: N_("Provider reviewer"),
    Role.PROVIDER_ADMIN: N_("Provider admin"),
}

RESELLER_ROLES = frozenset({Role.RESELLER_SUBMITTER, Role.RESELLER_ADMIN})
PROVIDER_ROLES = frozenset({Role.PROVIDER_REVIEWER, Role.PROVIDER_ADMIN})


class Organization(SQLModel, table=True):
    """The provider (exactly one per deployment) or one of its resellers."""

    __tablename__ = "organization"
    __table_args__ = (
        # The database itself allows a single provider organization.
        Index(
            "uq_organization_single_provider",
            "kind",
            unique=True,
            sqlite_where=text("kind = 'provider'"),
            postgresql_where=text("kind = 'provider'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(sa_type=String(16))
    name: str = Field(sa_type=String(200))
    partner_id: str | None = Field(default=None, sa_type=String(32))
    # Domains the organization's own staff use; a contact at one of them is flagged (R6).
    email_domains: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Default country (ISO 3166-1 alpha-2) of a reseller's customers (enhanced flow, R18).
    country: str | None = Field(default=None, sa_type=String(2))
    active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    @property
    def is_provider(self) -> bool:
        """True for the provider organization."""
        return self.kind == OrgKind.PROVIDER


def new_session_token() -> str:
    """A random per-user token that is part of the login session; rotating it logs out."""
    return secrets.token_urlsafe(24)


class User(SQLModel, table=True):
    """A person who signs in; belongs to one organization and has one role."""

    __tablename__ = "user_account"

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    email: str = Field(sa_type=String(254), unique=True)
    name: str = Field(sa_type=String(200))
    role: str = Field(sa_type=String(32))
    password_hash: str = Field(sa_type=String(255))
    active: bool = Field(default=True)
    session_token: str = Field(default_factory=new_session_token, sa_type=String(64), unique=True)
    failed_logins: int = Field(default=0)
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_login_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # The language ("en", "ko") and IANA time zone the user chose; None follows the browser.
    locale: str | None = Field(default=None, sa_type=String(8))
    time_zone: str | None = Field(default=None, sa_type=String(64))

    # Flask-Login's user protocol. The session stores the rotating token, not the row id.
    @property
    def is_authenticated(self) -> bool:
        """Flask-Login: a loaded user is signed in."""
        return True

    @property
    def is_active(self) -> bool:
        """Flask-Login: disabled users cannot sign in."""
        return self.active

    @property
    def is_anonymous(self) -> bool:
        """Flask-Login: never anonymous."""
        return False

    def get_id(self) -> str:
        """Flask-Login: the value kept in the session cookie."""
        return self.session_token

    @property
    def role_enum(self) -> Role:
        """The role as an enum."""
        return Role(self.role)

    @property
    def is_provider(self) -> bool:
        """True for the provider's staff."""
        return self.role_enum.is_provider


class ApiToken(SQLModel, table=True):
    """A bearer token for the JSON API; only its SHA-256 is stored, the secret is shown once."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    label: str = Field(sa_type=String(100))
    token_hash: str = Field(sa_type=String(64), unique=True)
    prefix: str = Field(sa_type=String(16))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
