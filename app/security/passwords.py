"""Password hashing with argon2id (argon2-cffi's RFC 9106 low-memory profile)."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from app.markers import M_, N_

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256


@lru_cache(maxsize=1)
def hasher() -> PasswordHasher:
    """The process's hasher (its parameters are argon2-cffi's current recommendation)."""
    return PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash of `password`."""
    return hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when `password` matches; never raises for a wrong or malformed hash."""
    try:
        return hasher().verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with older parameters than the current ones."""
    return hasher().check_needs_rehash(password_hash)


@lru_cache(maxsize=1)
def dummy_hash() -> str:
    """A hash to verify against when the user does not exist, so timing does not tell."""
    return hash_password("not-a-real-password-used-only-for-timing")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The 30,000 passwords seen most often in leaks (zxcvbn's list), lower-cased."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(word.lower() for word in FREQUENCY_LISTS["passwords"])


def password_problem(password: str, *, email: str | None = None) -> str | None:
    """Why a new password is not acceptable, or None (ASVS 6.2: length, no common ones)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return M_("Use at least %(n)s characters.", n=MIN_PASSWORD_LENGTH)
    if len(password) > MAX_PASSWORD_LENGTH:
        return M_("Use at most %(n)s characters.", n=MAX_PASSWORD_LENGTH)
    lowered = password.lower()
    # A common word with digits or punctuation added ("password123456") is still common.
    stem = lowered.rstrip("0123456789!@#$%^&*.?-_ ")
    common = common_passwords()
    if lowered in common or (len(stem) >= 4 and stem in common) or len(set(lowered)) < 4:
        return N_("This password is too common or too simple; choose a longer phrase of your own.")
    if email and email.split("@", 1)[0].lower() in lowered and len(email.split("@")[0]) >= 4:
        return N_("The password must not contain your email address.")
    return None
