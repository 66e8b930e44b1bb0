"""Values of the fake Partner Center: templates, confirmations, attestations, error bodies,
fault settings, and the pure parsing of request bodies.

Kept apart from `fake_store` (the mutable state) so routes, the CLI and tests can use them
without touching the store. `FAULT_HELP` lists the `/_fake/faults` keys for CLI options.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Any

from app.partner_center import enhanced_wire as wire
from app.partner_center.responses import ci, normalize_guid

CUSTOMER_AGREEMENT = "MicrosoftCustomerAgreement"
CLOUD_AGREEMENT = "MicrosoftCloudAgreement"
CUSTOMER_TEMPLATE_ID = "117a77b0-9360-443b-8795-c6dedc750cf9"
CLOUD_TEMPLATE_ID = "998b88de-aa99-4388-a42c-1b3517d49490"
CUSTOMER_LINK = "https://aka.ms/customeragreement"
CLOUD_LINK = "https://docs.microsoft.com/en-us/partner-center/agreements"
FAKE_PARTNER_USER_ID = "3d6f2c09-eb40-48ca-a4b3-d24c9c007531"

# Types Partner Center no longer accepts new confirmations for (contract §0.1).
CLOSED_TYPES = frozenset({CLOUD_AGREEMENT})

INVALID_PROPERTY = 3000
INVALID_INPUT = 800002

# Fake-only codes: which codes Partner Center uses for these enhanced-flow refusals is
# unconfirmed (contract §2.5), so they are names nobody could mistake for Microsoft's numbers.
ATTESTATION_LIVE = "AttestationAlreadyLive"
ATTESTATION_NOT_FOUND = "AttestationNotFound"
ATTESTATION_NOT_ACCEPTED = "AttestationNotAccepted"
ATTESTATION_FINALIZED = "AttestationAlreadyFinalized"

# The fake's own state after Accepted; the status read knows three values and shows Accepted.
FINALIZED = "Finalized"

DEFAULT_LAPSE_SECONDS = 7 * 24 * 3600.0

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


def pc_error(code: int | str, description: str) -> dict[str, Any]:
    """Partner Center's general error body (contract §4)."""
    return {"code": code, "description": description, "data": [], "source": "PartnerFD"}


DUPLICATE_BODY: dict[str, Any] = {
    "code": 600061,
    "message": "A partner confirmed agreement already exists for the customer.",
    "description": "A partner confirmed agreement already exists for the customer.",
    "errorName": "PartnerConfirmedAgreementAlreadyExists",
    "isRetryable": False,
    "parameters": {},
    "errorMessageExtended": "InternalErrorCode=600061",
}


@dataclass(frozen=True)
class FakeTemplate:
    """An agreement template; `current` means the one confirmations must use for its type."""

    template_id: str
    agreement_type: str
    agreement_link: str
    version_rank: int = 0
    current: bool = True

    def to_json(self) -> dict[str, Any]:
        """The AgreementMetaData resource."""
        return {
            "templateId": self.template_id,
            "agreementType": self.agreement_type,
            "agreementLink": self.agreement_link,
            "versionRank": self.version_rank,
        }


@dataclass(frozen=True)
class FakeContact:
    """`primaryContact` as the fake stores it."""

    first_name: str
    last_name: str
    email: str
    phone_number: str | None = None

    def identity(self) -> tuple[str, str, str, str]:
        """The fields Partner Center's duplicate rule compares."""
        return (self.first_name, self.last_name, self.email.casefold(), self.phone_number or "")


@dataclass(frozen=True)
class StoredConfirmation:
    """One confirmation held for a customer; `key_style`/`date_text` shape how GET renders it."""

    tenant_id: str
    template_id: str
    agreement_type: str
    date_agreed: datetime
    contact: FakeContact
    agreement_link: str | None = None
    user_id: str | None = FAKE_PARTNER_USER_ID
    request_id: str | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    key_style: str = "camel"  # or "pascal", as the .NET SDK would send
    date_text: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The Agreement resource as `GET /v1/customers/{id}/agreements` returns it."""
        body = {
            "userId": self.user_id,
            "primaryContact": {
                "firstName": self.contact.first_name,
                "lastName": self.contact.last_name,
                "email": self.contact.email,
                "phoneNumber": self.contact.phone_number,
            },
            "templateId": self.template_id,
            "dateAgreed": self.date_text or self.date_agreed.strftime("%Y-%m-%dT%H:%M:%S"),
            "type": self.agreement_type,
            "agreementLink": self.agreement_link,
        }
        return _pascal(body) if self.key_style == "pascal" else body


def _pascal(value: Any) -> Any:
    if isinstance(value, dict):
        return {k[:1].upper() + k[1:]: _pascal(v) for k, v in value.items()}
    return value


# camelCase key -> help text; the CLI can turn these into options.
FAULT_HELP: dict[str, str] = {
    "latencyMs": "delay added to every /v1 response, in milliseconds",
    "error5xxRate": "share of /v1 requests answered 500/502/503 (0..1)",
    "throttleRate": "share of /v1 requests answered 429 with Retry-After (0..1)",
    "retryAfterSeconds": "Retry-After value sent with 429 answers",
    "timeoutRate": "share of /v1 requests that hang hangSeconds, then answer 504 (0..1)",
    "hangAfterCommitRate": "share of storing POSTs (create, finalize, attestation) stored, "
    "then held hangSeconds (0..1)",
    "hangSeconds": "how long hanging requests hang, in seconds",
    "duplicateStatus": "HTTP status of the 600061 duplicate error",
    "attestationLapseSeconds": "how long an enhanced-flow acceptance link stays usable",
    "seed": "seed of the fault random generator (empty: unseeded)",
}


@dataclass(frozen=True)
class FaultSettings:
    """Fault injection settings; camelCase names match the admin route and CLI options."""

    latencyMs: int = 0  # noqa: N815 - the wire names are the public interface
    error5xxRate: float = 0.0  # noqa: N815
    throttleRate: float = 0.0  # noqa: N815
    retryAfterSeconds: int = 1  # noqa: N815
    timeoutRate: float = 0.0  # noqa: N815
    hangAfterCommitRate: float = 0.0  # noqa: N815
    hangSeconds: float = 30.0  # noqa: N815
    duplicateStatus: int = 400  # noqa: N815
    attestationLapseSeconds: float = DEFAULT_LAPSE_SECONDS  # noqa: N815
    seed: int | None = None

    def updated(self, changes: Mapping[str, Any]) -> FaultSettings:
        """A copy with `changes` applied; ValueError on an unknown key or a bad value."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown fault option(s): {', '.join(unknown)}")
        values: dict[str, Any] = {}
        for key, raw in changes.items():
            values[key] = _coerce_fault(key, raw)
        return replace(self, **values)

    def to_dict(self) -> dict[str, Any]:
        """The settings as the JSON object the admin route returns."""
        return asdict(self)


def _coerce_fault(key: str, raw: Any) -> Any:
    if key == "seed":
        if raw is None or raw == "":
            return None
        if isinstance(raw, bool) or not isinstance(raw, int | str):
            raise ValueError("seed must be an integer")
        try:
            return int(raw)
        except ValueError:
            raise ValueError("seed must be an integer") from None
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ValueError(f"{key} must be a number")
    try:
        number = float(raw)
    except ValueError:
        raise ValueError(f"{key} must be a number") from None
    if key.endswith("Rate"):
        if not 0.0 <= number <= 1.0:
            raise ValueError(f"{key} must be between 0 and 1")
        return number
    if number < 0 or number != number:
        raise ValueError(f"{key} must not be negative")
    if key == "duplicateStatus":
        if not (number.is_integer() and 400 <= number <= 599):
            raise ValueError("duplicateStatus must be an HTTP error status")
        return int(number)
    if key in ("latencyMs", "retryAfterSeconds"):
        return int(number)
    return number


@dataclass(frozen=True)
class FaultDecision:
    """What the faults decided for one request (drawn once, under the lock)."""

    latency: float = 0.0
    action: str | None = None  # "timeout" | "error5xx" | "throttle"
    error_status: int = 500
    retry_after: int = 1
    hang_after_commit: bool = False
    hang_seconds: float = 0.0


@dataclass(frozen=True)
class RequestRecord:
    """A /v1 request as received, for tests that check what the client sent."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: str = ""


def created_body(stored: StoredConfirmation) -> dict[str, Any]:
    """The Agreement returned by a successful create (contract §2.2)."""
    contact: dict[str, Any] = {
        "firstName": stored.contact.first_name,
        "lastName": stored.contact.last_name,
        "email": stored.contact.email,
    }
    if stored.contact.phone_number is not None:
        contact["phoneNumber"] = stored.contact.phone_number
    when = stored.date_agreed
    return {
        "userId": stored.user_id,
        "primaryContact": contact,
        "templateId": stored.template_id,
        "dateAgreed": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
        "type": stored.agreement_type,
    }


def aware_utc(value: datetime) -> datetime:
    """`value` as an aware UTC datetime (naive values are taken as UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso_utc(value: datetime) -> str:
    """`value` as an ISO 8601 UTC instant with milliseconds and `Z`."""
    return aware_utc(value).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def tenant_or_none(value: str | None) -> str | None:
    """The lowercased GUID, or None if `value` is not one."""
    try:
        return normalize_guid(value or "")
    except ValueError:
        return None


def parse_contact(raw: Any) -> FakeContact | str:
    """The `primaryContact`, or the description of what is wrong with it."""
    if not isinstance(raw, Mapping):
        return "Invalid property: primaryContact is required."
    fields = ci(raw)
    values: dict[str, str] = {}
    for key, name in (("firstname", "firstName"), ("lastname", "lastName"), ("email", "email")):
        value = fields.get(key)
        if not isinstance(value, str) or not value.strip():
            return f"Invalid property: primaryContact.{name} is required."
        values[key] = value
    if not EMAIL_RE.match(values["email"].strip()):
        return f"Invalid property: primaryContact.email '{values['email']}' is not a valid email."
    phone = fields.get("phonenumber")
    if phone is not None and not isinstance(phone, str):
        return "Invalid property: primaryContact.phoneNumber must be a string."
    return FakeContact(values["firstname"], values["lastname"], values["email"], phone)


def parse_date(raw: Any) -> datetime | None:
    """An ISO date-time as aware UTC (naive taken as UTC), or None."""
    if not isinstance(raw, str):
        return None
    try:
        parsed = datetime.fromisoformat(raw.strip())
    except ValueError:
        return None
    return aware_utc(parsed)


@dataclass(frozen=True)
class FakeAttestation:
    """An enhanced-flow attestation (contract §2.5); its state follows from its times."""

    attestation_id: str
    tenant_id: str
    country: str
    language: str
    company_name: str
    signatory: FakeContact
    created_at: datetime
    expires_at: datetime
    request_id: str | None = None
    accepted_at: datetime | None = None
    finalized_at: datetime | None = None

    def state(self, now: datetime) -> str:
        """Pending, Accepted, Expired or (the fake's own) Finalized."""
        if self.finalized_at is not None:
            return FINALIZED
        if self.accepted_at is not None:
            return wire.ACCEPTED  # an accepted link no longer lapses
        return wire.EXPIRED if now >= self.expires_at else wire.PENDING

    def is_live(self, now: datetime) -> bool:
        """Pending, or accepted and not finalized: it blocks another one for the customer."""
        return self.state(now) in (wire.PENDING, wire.ACCEPTED)

    def wire_status(self, now: datetime) -> str:
        """The status the read shows (our own shape, unconfirmed)."""
        state = self.state(now)
        return wire.ACCEPTED if state == FINALIZED else state

    def status_json(self, now: datetime) -> dict[str, Any]:
        """The status read's answer: `{"attestationId", "status"}`."""
        return {wire.ATTESTATION_ID: self.attestation_id, wire.STATUS: self.wire_status(now)}

    def created_json(self, now: datetime) -> dict[str, Any]:
        """The create call's answer: the status plus when the link lapses."""
        return self.status_json(now) | {wire.EXPIRES_AT: iso_utc(self.expires_at)}
