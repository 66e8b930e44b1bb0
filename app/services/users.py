"""Users, sign-in and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlmodel import Session, col, select

from app.markers import M_, N_
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
from app.services.errors import DomainError, NotFound, PermissionDenied, ValidationFailed

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
        raise ValidationFailed(
            {
                "role": [
                    M_("A provider user cannot have role %(role)s.", role=role.value)
                    if organization.kind == OrgKind.PROVIDER
                    else M_("A reseller user cannot have role %(role)s.", role=role.value)
                ]
            }
        )
    email = normalize_email(email)
    if session.exec(select(User).where(User.email == email)).first() is not None:
        raise ValidationFailed({"email": [N_("A user with this email already exists.")]})
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
        raise ValidationFailed({"current_password": [N_("This is not your current password.")]})
    problem = password_problem(new, email=user.email)
    if problem:
        raise ValidationFailed({"new_password": [problem]})
    if verify_password(user.password_hash, new):
        raise ValidationFailed(
            {"new_password": [N_("Choose a password different from the current one.")]}
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
        raise PermissionDenied(N_("You cannot manage this user."))
    if user.id == actor.id and not active:
        raise DomainError(N_("You cannot disable your own account."))
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


# Where `user_for_api_token` keeps the objects the request's session must not forget.
_HELD = "held_objects"


def _token_hash(secret: str) -> str:
    # API tokens are long random strings: a plain SHA-256 is enough to store them safely.
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_token(
    session: Session, *, actor: User | None, user: User, label: str
) -> tuple[ApiToken, str]:
    """A new API token for `user`; returns the row and the secret, which is shown only once."""
    label = label.strip()
    if not label or len(label) > 100:
        raise ValidationFailed({"label": [N_("Give the token a label of 1 to 100 characters.")]})
    if not user.active:
        raise DomainError(N_("This user is disabled."))
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
    """The active user owning an unrevoked token with this secret; notes when it was used.

    The note is left unflushed in the session (at most once a minute per token), for the
    caller to commit. The user's organization comes in the same statement and stays in the
    session's identity map: a submission reads it (its country, its e-mail domains) without a
    statement of its own.
    """
    found = session.exec(
        select(ApiToken, User, Organization)
        .join(User, col(User.id) == ApiToken.user_id)
        .join(Organization, col(Organization.id) == User.organization_id)
        .where(ApiToken.token_hash == _token_hash(secret))
    ).first()
    if found is None:
        return None
    token, user, organization = found
    if token.revoked_at is not None or not user.active:
        return None
    # The identity map holds objects weakly: keep the organization for the session's life.
    session.info.setdefault(_HELD, []).append(organization)
    now = utcnow()
    # Record use at most once a minute, so API calls do not all write to the token row.
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        token.last_used_at = now
        session.add(token)
    return user


def manages_tokens_of(actor: User, owner: User) -> bool:
    """Whose API tokens `actor` sees and revokes: its own; an admin also its organization's."""
    if actor.id == owner.id:
        return True
    admin = actor.role in (Role.PROVIDER_ADMIN, Role.RESELLER_ADMIN)
    return admin and actor.organization_id == owner.organization_id


def list_api_tokens(session: Session, *, actor: User) -> list[tuple[ApiToken, User]]:
    """The tokens `actor` may manage with their owners, newest first (revoked ones included)."""
    query = select(ApiToken, User).join(User, col(User.id) == col(ApiToken.user_id))
    if actor.role in (Role.PROVIDER_ADMIN, Role.RESELLER_ADMIN):
        query = query.where(User.organization_id == actor.organization_id)
    else:
        query = query.where(User.id == actor.id)
    query = query.order_by(col(ApiToken.created_at).desc(), col(ApiToken.id).desc())
    return [(token, owner) for token, owner in session.exec(query)]


def revoke_api_token(session: Session, *, actor: User, token_id: int) -> ApiToken:
    """Revoke a token at once; another organization's or a colleague's (for a non-admin) token
    answers NotFound, like a missing one. Revoking a revoked token changes nothing."""
    token = session.get(ApiToken, token_id)
    owner = session.get(User, token.user_id) if token is not None else None
    if token is None or owner is None or not manages_tokens_of(actor, owner):
        raise NotFound(N_("No such API token."))
    if token.revoked_at is not None:
        return token
    token.revoked_at = utcnow()
    session.add(token)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="api_token.revoked",
        subject_type="api_token",
        subject_id=token.id or 0,
        organization_id=owner.organization_id,
        details={"user": owner.email, "label": token.label, "prefix": token.prefix},
    )
    return token


def set_preferences(
    session: Session, *, user: User, locale: str | None, time_zone: str | None
) -> User:
    """Save the user's language ("en", "ko" or None for the browser's) and IANA time zone."""
    from app.i18n import LANGUAGES, valid_time_zone

    errors: dict[str, list[str]] = {}
    if locale not in (None, "", *LANGUAGES):
        errors["locale"] = [N_("Choose English or Korean.")]
    if time_zone and not valid_time_zone(time_zone):
        errors["time_zone"] = [N_("This is not a time zone we know, e.g. Asia/Seoul or UTC.")]
    if errors:
        raise ValidationFailed(errors)
    user.locale = locale or None
    user.time_zone = time_zone or None
    session.add(user)
    session.flush()
    return user
