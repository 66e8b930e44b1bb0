"""Typed errors raised by the Partner Center client and token providers.

The forwarding worker dispatches on the class: `Transient` is retried (reusing the same
`MS-RequestId`), `Rejected` is surfaced for review and never retried automatically, and
`AuthFailed` needs an operator (expired refresh token, missing MFA claim, wrong app).
"""

from __future__ import annotations


class PartnerCenterError(Exception):
    """Base class of every error raised by `app.partner_center`."""


class Transient(PartnerCenterError):  # noqa: N818 - public names
    """A failure that may succeed later: 408, 429, 5xx, timeouts and connection errors.

    `answered` is False when no response arrived (timeout, connection error): the request may
    or may not have taken effect upstream, so a retry must reuse the same `MS-RequestId`.
    `write` is True when the failed request was a write carrying the caller's `MS-RequestId`
    (a create or a finalize); a failed read says nothing about an earlier unanswered write.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str,
        status: int | None = None,
        retry_after: float | None = None,
        answered: bool = True,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.retry_after = retry_after
        self.answered = answered
        self.write = False

    def __str__(self) -> str:
        parts = [f"Partner Center transient error {self.code}"]
        if self.status is not None and str(self.status) != self.code:
            parts.append(f" (HTTP {self.status})")
        parts.append(f": {self.message}")
        if self.retry_after is not None:
            parts.append(f" (retry after {self.retry_after:g} s)")
        if not self.answered:
            parts.append(" (no response; outcome unknown)")
        return "".join(parts)

    def __repr__(self) -> str:
        return (
            f"Transient(code={self.code!r}, status={self.status!r}, "
            f"retry_after={self.retry_after!r}, answered={self.answered!r}, "
            f"message={self.message!r})"
        )


class Rejected(PartnerCenterError):  # noqa: N818 - public names
    """A business error (4xx) such as 600061 or 600002; retrying the same request won't help."""

    def __init__(self, message: str, *, code: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status

    def __str__(self) -> str:
        return f"Partner Center rejected the request (HTTP {self.status}, code {self.code}): " + (
            self.message
        )

    def __repr__(self) -> str:
        return f"Rejected(code={self.code!r}, status={self.status!r}, message={self.message!r})"


class AuthFailed(PartnerCenterError):  # noqa: N818 - public names
    """Authentication or authorisation failed (401, auth-related 403, token acquisition).

    `status` is None when the failure came from the token endpoint rather than Partner Center.
    """

    def __init__(self, message: str, *, code: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status

    def __str__(self) -> str:
        where = f"HTTP {self.status}, " if self.status is not None else ""
        return f"Partner Center authentication failed ({where}code {self.code}): {self.message}"

    def __repr__(self) -> str:
        return f"AuthFailed(code={self.code!r}, status={self.status!r}, message={self.message!r})"
