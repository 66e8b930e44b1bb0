"""Domain errors raised by services; views and the API map them to HTTP answers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class DomainError(Exception):
    """A business rule refused the action; `message` is for people."""

    http_status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """The object does not exist or is not visible to the acting user (the same answer)."""

    http_status = 404

    def __init__(self, message: str = "Not found.") -> None:
        super().__init__(message)


class PermissionDenied(DomainError):
    """The acting user's role does not allow the action."""

    http_status = 403

    def __init__(self, message: str = "Your role does not allow this.") -> None:
        super().__init__(message)


class InvalidTransition(DomainError):
    """The record's current status does not allow the action."""

    http_status = 409


class ValidationFailed(DomainError):
    """Input broke a rule; `errors` maps field paths (e.g. "contact.email") to messages."""

    http_status = 422

    def __init__(self, errors: Mapping[str, Sequence[str]]) -> None:
        self.errors = {field: list(messages) for field, messages in errors.items()}
        first = next(iter(self.errors.values()), ["Invalid input."])
        super().__init__(first[0] if first else "Invalid input.")
