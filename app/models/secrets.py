"""Secrets the portal itself must update, stored encrypted (never in clear text).

Today only the Partner Center refresh token lives here: Microsoft Entra ID rotates it on every
redemption, so the environment variable that seeded it goes stale and the newest one must
survive restarts. `app.services.secrets` encrypts and decrypts the values.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime, utcnow


class StoredSecret(SQLModel, table=True):
    """One named secret, Fernet-encrypted with a key from the environment (CREDENTIALS_KEY)."""

    __tablename__ = "stored_secret"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=String(64), unique=True)
    ciphertext: str = Field(sa_type=Text)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
