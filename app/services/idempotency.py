"""API idempotency keys: a repeated request returns the first response and creates nothing."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlmodel import Session, select

from app.models import IdempotencyKey, User
from app.services.errors import ValidationFailed

MAX_KEY_LENGTH = 255


def fingerprint(body: Any) -> str:
    """A stable hash of a JSON request body."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_key(key: str) -> str:
    """A usable key, or a field error."""
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ValidationFailed(
            {"Idempotency-Key": [f"Use a key of 1 to {MAX_KEY_LENGTH} characters, e.g. a UUID."]}
        )
    return key


def stored_response(
    session: Session, *, user: User, key: str, request_fingerprint: str
) -> IdempotencyKey | None:
    """The first response for this key; a field error if the key came with another body."""
    stored = session.exec(
        select(IdempotencyKey)
        .where(IdempotencyKey.user_id == user.id)
        .where(IdempotencyKey.key == key)
    ).first()
    if stored is not None and stored.request_fingerprint != request_fingerprint:
        raise ValidationFailed(
            {"Idempotency-Key": ["This key was already used with a different request body."]}
        )
    return stored


def remember(
    session: Session,
    *,
    user: User,
    key: str,
    request_fingerprint: str,
    status_code: int,
    body: dict[str, Any],
) -> None:
    """Keep the response in the same transaction as what it created."""
    session.add(
        IdempotencyKey(
            user_id=user.id or 0,
            key=key,
            request_fingerprint=request_fingerprint,
            status_code=status_code,
            response_body=body,
        )
    )
    session.flush()
