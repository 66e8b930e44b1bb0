"""Named secrets stored encrypted in the database (Fernet, key from CREDENTIALS_KEY).

`key` is the raw CREDENTIALS_KEY value: one Fernet key, or several separated by commas to rotate
keys. The first key encrypts; every key is tried to decrypt, so an operator can put a new key in
front of the old one, and each secret is re-encrypted with the new key the next time it is
saved (the Partner Center refresh token is saved about every hour). Services flush, never commit.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from app.models import StoredSecret, utcnow


class SecretError(Exception):
    """A stored secret cannot be written or read; `message` is for operators (never the secret)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidCredentialsKey(SecretError):  # noqa: N818 - reads as a sentence
    """CREDENTIALS_KEY is empty or is not a list of Fernet keys."""


class SecretUnreadable(SecretError):  # noqa: N818 - reads as a sentence
    """A stored secret does not decrypt with any key of CREDENTIALS_KEY."""


def parse_keys(key: str) -> MultiFernet:
    """The Fernet keys of a CREDENTIALS_KEY value, the first one encrypting.

    Raises `InvalidCredentialsKey` naming the position of a bad key (never its value).
    """
    parts = [part.strip() for part in key.split(",") if part.strip()]
    if not parts:
        raise InvalidCredentialsKey("CREDENTIALS_KEY is empty")
    fernets: list[Fernet] = []
    for position, part in enumerate(parts, start=1):
        try:
            fernets.append(Fernet(part))
        except ValueError:
            raise InvalidCredentialsKey(
                f"CREDENTIALS_KEY key number {position} is not a Fernet key (32 url-safe "
                "base64-encoded bytes); generate one with "
                '`python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())"`'
            ) from None
    return MultiFernet(fernets)


def save_secret(session: Session, *, name: str, value: str, key: str) -> StoredSecret:
    """Encrypt `value` with the first key and store it under `name` (insert or replace)."""
    if not value:
        raise ValueError("refusing to store an empty secret")
    ciphertext = parse_keys(key).encrypt(value.encode("utf-8")).decode("ascii")
    row = _find(session, name)
    if row is None:
        try:
            # A savepoint, so that a twin process inserting the same name first only costs
            # us an update instead of failing the caller's transaction.
            with session.begin_nested():
                row = StoredSecret(name=name, ciphertext=ciphertext, updated_at=utcnow())
                session.add(row)
            return row
        except IntegrityError:
            row = _find(session, name)
            if row is None:  # pragma: no cover - the conflicting row cannot vanish in between
                raise
    row.ciphertext = ciphertext
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    return row


def load_secret(session: Session, *, name: str, key: str) -> str | None:
    """The decrypted secret stored under `name`, or None when nothing is stored.

    Raises `SecretUnreadable` when no key of CREDENTIALS_KEY decrypts it (the key changed).
    """
    row = _find(session, name)
    if row is None:
        return None
    try:
        return parse_keys(key).decrypt(row.ciphertext.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError):
        raise SecretUnreadable(
            f"the stored secret {name!r} cannot be decrypted with CREDENTIALS_KEY: the key "
            "changed? Put the new key first and the old one after it, separated by a comma"
        ) from None


def _find(session: Session, name: str) -> StoredSecret | None:
    return session.exec(select(StoredSecret).where(StoredSecret.name == name)).first()
