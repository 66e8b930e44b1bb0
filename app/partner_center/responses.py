"""What Partner Center answers, and how the client reads it (contract §3, §4).

The resource types the client returns and the pure functions that turn responses into them or
into typed errors. Kept apart from `client.py` (which re-exports the public names) so both stay
small; nothing here does I/O.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from app.partner_center.errors import AuthFailed, PartnerCenterError, Rejected, Transient

_GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")

# Body codes that mean "your token is not good enough" even when the status is 403.
_AUTH_CODES = frozenset({"400", "1002", "800001", "900421"})

_MAX_MESSAGE = 500


@dataclass(frozen=True)
class Contact:
    """The customer-side person who accepted the agreement (`primaryContact`)."""

    first_name: str
    last_name: str
    email: str
    phone_number: str | None = None


@dataclass(frozen=True)
class AgreementMetadata:
    """One agreement template as listed by `GET /v1/agreements`."""

    template_id: str
    agreement_type: str
    agreement_link: str | None
    version_rank: int


@dataclass(frozen=True)
class CustomerAgreement:
    """One confirmation of acceptance held by Partner Center for a customer."""

    template_id: str
    agreement_type: str
    date_agreed: datetime | None
    contact: Contact | None
    user_id: str | None
    agreement_link: str | None


@dataclass(frozen=True)
class CreatedAttestation:
    """An enhanced-flow attestation Partner Center created (contract §2.5 step 1)."""

    attestation_id: str
    expires_at: datetime | None  # None when Partner Center does not say (unconfirmed field)


@dataclass(frozen=True)
class AgreementDocument:
    """The agreement text for a country and language (contract §6; response shape unconfirmed).

    Exactly one of `body` (the document itself) and `url` (where to fetch it) is set.
    """

    content_type: str
    body: bytes | None
    url: str | None


def normalize_guid(value: str) -> str:
    """Return `value` lowercased if it is a hyphenated GUID; raise ValueError otherwise."""
    if not isinstance(value, str) or not _GUID_RE.match(value.strip()):
        raise ValueError(f"not a GUID: {value!r}")
    return value.strip().lower()


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait per a `Retry-After` header (delay-seconds or HTTP-date); None if unusable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if seconds >= 0 and seconds == seconds else None  # rejects NaN
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, delta)


def parse_datetime(value: Any) -> datetime | None:
    """Parse an upstream date-time (with or without `Z`/offset) into an aware UTC datetime."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        # Partner Center omits the offset in GET responses; its dates are UTC.
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def ci(mapping: Any) -> dict[str, Any]:
    """Lower-case the keys so camelCase and PascalCase bodies read the same."""
    if not isinstance(mapping, Mapping):
        return {}
    return {str(k).lower(): v for k, v in mapping.items()}


def opt_str(value: Any) -> str | None:
    """`value` as a non-empty string, or None."""
    if value is None:
        return None
    text = str(value)
    return text if text else None


def _parse_contact(raw: Any) -> Contact | None:
    if not isinstance(raw, Mapping):
        return None
    fields = ci(raw)
    return Contact(
        first_name=str(fields.get("firstname") or ""),
        last_name=str(fields.get("lastname") or ""),
        email=str(fields.get("email") or ""),
        phone_number=opt_str(fields.get("phonenumber")),
    )


def parse_agreement(raw: Any) -> CustomerAgreement | None:
    """An Agreement resource, or None if it names no template."""
    fields = ci(raw)
    template_id = opt_str(fields.get("templateid"))
    if template_id is None:
        return None
    return CustomerAgreement(
        template_id=template_id.lower(),
        agreement_type=str(fields.get("type") or fields.get("agreementtype") or ""),
        date_agreed=parse_datetime(fields.get("dateagreed")),
        contact=_parse_contact(fields.get("primarycontact")),
        user_id=opt_str(fields.get("userid")),
        agreement_link=opt_str(fields.get("agreementlink")),
    )


def parse_metadata(raw: Any) -> AgreementMetadata | None:
    """An AgreementMetaData resource, or None if it names no template."""
    fields = ci(raw)
    template_id = opt_str(fields.get("templateid"))
    if template_id is None:
        return None
    rank = fields.get("versionrank")
    return AgreementMetadata(
        template_id=template_id.lower(),
        agreement_type=str(fields.get("agreementtype") or fields.get("type") or ""),
        agreement_link=opt_str(fields.get("agreementlink")),
        version_rank=rank if isinstance(rank, int) and not isinstance(rank, bool) else 0,
    )


def items(body: Any) -> list[Any]:
    """Items of a collection wrapper; a bare array is accepted too (the REST reference says so)."""
    if isinstance(body, list):
        return body
    found = ci(body).get("items")
    if isinstance(found, list):
        return found
    raise invalid_response("expected a collection with an 'items' array")


def invalid_response(detail: str, *, answered: bool = True) -> Transient:
    """The error for a 2xx we cannot read.

    Most likely a proxy or an outage page, so a later retry may work. `answered=False` when the
    call may have taken effect (a create whose result we cannot read): the retry must then reuse
    the same `MS-RequestId`.
    """
    return Transient(
        f"unreadable Partner Center response: {detail}", code="invalid_response", answered=answered
    )


def json_or_none(response: httpx.Response) -> Any:
    """The response's JSON body, or None if it has none."""
    try:
        return response.json()
    except ValueError:
        return None


def error_for_response(response: httpx.Response) -> PartnerCenterError | None:
    """Map a non-2xx response to the typed error to raise; None for a 2xx."""
    status = response.status_code
    if 200 <= status < 300:
        return None
    body = json_or_none(response)
    fields = ci(body)
    raw_code = fields.get("code")
    if raw_code is None:
        raw_code = fields.get("errorcode")
    code = str(raw_code) if raw_code not in (None, "") else str(status)
    message = fields.get("description") or fields.get("message") or fields.get("errormessage")
    if not isinstance(message, str) or not message:
        text = response.text.strip() if body is None else ""
        message = text[:_MAX_MESSAGE] if text else (response.reason_phrase or f"HTTP {status}")
    if status in (408, 429) or status >= 500:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return Transient(
            message, code=str(status), status=status, retry_after=retry_after, answered=True
        )
    if status == 401 or (status == 403 and code in _AUTH_CODES):
        return AuthFailed(message, code=code, status=status)
    return Rejected(message, code=code, status=status)
