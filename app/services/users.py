"""Users, sign-in and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlmodel import Session, select

from app.models import ApiToken, Organization, Role, User, utcnow
from app.models.org import OrgKind, new_session_token
from app.security.passwords import (
    dummy_hash,
    hash_password,
    needs_rehash,
    password_problem,
    verify_password,
)
from app.services.audit import record_event
from app.services.errors import DomainError, PermissionDenied, ValidationFailed

# After this many wrong passwords in a row the account waits, doubling each time up to the cap.
LOCKOUT_THRESHOLD = 5
LOCKOUT_CAP = timedelta(minutes=15)
TOKEN_PREFIX = "ipt_"  # noqa: S105 (a marker that makes leaked tokens easy to find)


def normalize_email(email: str) -> str:
    """Login emails compare case-insensitively."""
    return email.strip().lower()


def create_user(
    session: Session,
    *,
    actor: User | None,
    organization: Organization,
    email: str,
    name: str,
    role: Role,
    password: str,
) -> User:
    """Create a user in `organization`; the role must fit the organization's kind."""
    problem = password_problem(password, email=email)
    if problem:
        raise ValidationFailed({"password": [problem]})
    if role.is_provider != (organization.kind == OrgKind.PROVIDER):
        raise ValidationFailed({"role": [f"A {organization.kind} user cannot have role {role}."]})
    email = normalize_email(email)
    if session.exec(select(User).where(User.email == email)).first() is not None:
        raise ValidationFailed({"email": ["A user with this email already exists."]})
    user = User(
        organization_id=organization.id or 0,
        email=email,
        name=name.strip() or email,
        role=role.value,
        password_hash=hash_password(password),
    )
    session.add(user)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="user.created",
        subject_type="user",
        subject_id=user.id or 0,
        organization_id=organization.id,
        details={"email": email, "role": role.value},
    )
    return user


def authenticate(session: Session, *, email: str, password: str) -> User | None:
    """The active user with this email and password, or None (same answer for every failure)."""
    now = utcnow()
    user = session.exec(select(User).where(User.email == normalize_email(email))).first()
    if user is None:
        verify_password(dummy_hash(), password)  # spend the same time as a real check
        return None
    if user.locked_until is not None and user.locked_until > now:
        verify_password(dummy_hash(), password)
        return None
    if not verify_password(user.password_hash, password) or not user.active:
        user.failed_logins += 1
        if user.failed_logins >= LOCKOUT_THRESHOLD:
            wait = timedelta(seconds=30 * 2 ** (user.failed_logins - LOCKOUT_THRESHOLD))
            user.locked_until = now + min(wait, LOCKOUT_CAP)
        session.add(user)
        session.flush()
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    session.add(user)
    session.flush()
    return user


def end_sessions(session: Session, *, user: User) -> None:
    """Invalidate every login session of `user` (logout, password change, disabling)."""
    user.session_token = new_session_token()
    session.add(user)
    session.flush()


def change_password(session: Session, *, user: User, current: str, new: str) -> User:
    """Replace the user's password; every other session of the user ends."""
    if not verify_password(user.password_hash, current):
        raise ValidationFailed({"current_password": ["This is not your current password."]})
    problem = password_problem(new, email=user.email)
    if problem:
        raise ValidationFailed({"new_password": [problem]})
    if verify_password(user.password_hash, new):
        raise ValidationFailed(
            {"new_password": ["Choose a password different from the current one."]}
        )
    user.password_hash = hash_password(new)
    end_sessions(session, user=user)
    record_event(
        session,
        actor=user,
        action="user.password_changed",
        subject_type="user",
        subject_id=user.id or 0,
        organization_id=user.organization_id,
    )
    return user


def can_manage(actor: User, user: User) -> bool:
    """A provider admin manages every user; a reseller admin the users of its organization."""
    if actor.role == Role.PROVIDER_ADMIN:
        return True
    return actor.role == Role.RESELLER_ADMIN and actor.organization_id == user.organization_id


def set_active(session: Session, *, actor: User, user: User, active: bool) -> User:
    """Enable or disable a user; disabling ends its sessions and stops its API tokens."""
    if not can_manage(actor, user):
        raise PermissionDenied("You cannot manage this user.")
    if user.id == actor.id and not active:
        raise DomainError("You cannot disable your own account.")
    if user.active == active:
        return user
    user.active = active
    if not active:
        end_sessions(session, user=user)
    session.add(user)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="user.enabled" if active else "user.disabled",
        subject_type="user",
        subject_id=user.id or 0,
        organization_id=user.organization_id,
        details={"email": user.email},
    )
    return user


def user_for_session(session: Session, token: str) -> User | None:
    """The active user whose login session carries `token`."""
    user = session.exec(select(User).where(User.session_token == token)).first()
    return user if user is not None and user.active else None


def _token_hash(secret: str) -> str:
    # API tokens are long random strings: a plain SHA-256 is enough to store them safely.
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_token(
    session: Session, *, actor: User | None, user: User, label: str
) -> tuple[ApiToken, str]:
    """A new API token for `user`; returns the row and the secret, which is shown only once."""
    label = label.strip()
    if not label or len(label) > 100:
        raise ValidationFailed({"label": ["Give the token a label of 1 to 100 characters."]})
    if not user.active:
        raise DomainError("This user is disabled.")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id or 0, label=label, token_hash=_token_hash(secret), prefix=secret[:10]
    )
    session.add(token)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="api_token.created",
        subject_type="api_token",
        subject_id=token.id or 0,
        organization_id=user.organization_id,
        details={"user": user.email, "label": label, "prefix": token.prefix},
    )
    return token, secret


def user_for_api_token(session: Session, secret: str) -> User | None:
    """The active user owning an unrevoked token with this secret; notes when it was used."""
    token = session.exec(select(ApiToken).where(ApiToken.token_hash == _token_hash(secret))).first()
    if token is None or token.revoked_at is not None:
        return None
    user = session.get(User, token.user_id)
    if user is None or not user.active:
        return None
    now = utcnow()
    # Record use at most once a minute, so API calls do not all write to the token row.
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        token.last_used_at = now
        session.add(token)
        session.flush()
    return user
