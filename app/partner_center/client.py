"""Typed HTTP client for the Partner Center agreement endpoints (contract §2.1-2.4).

No Flask here: the worker and the CLI use it outside any app context. One `httpx.Client` per
instance keeps connections alive; every call has timeouts and fresh tracing headers.
"""

from __future__ import annotations

import email.utils
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import TracebackType
from typing import Any

import httpx

from app.partner_center.auth import TokenProvider
from app.partner_center.errors import AuthFailed, PartnerCenterError, Rejected, Transient
from app.partner_center.ratelimit import NoLimit, RateLimiter

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


def _ci(mapping: Any) -> dict[str, Any]:
    """Lower-case the keys so camelCase and PascalCase bodies read the same."""
    if not isinstance(mapping, Mapping):
        return {}
    return {str(k).lower(): v for k, v in mapping.items()}


def _opt_str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if text else None


def _parse_contact(raw: Any) -> Contact | None:
    if not isinstance(raw, Mapping):
        return None
    fields = _ci(raw)
    return Contact(
        first_name=str(fields.get("firstname") or ""),
        last_name=str(fields.get("lastname") or ""),
        email=str(fields.get("email") or ""),
        phone_number=_opt_str(fields.get("phonenumber")),
    )


def _parse_agreement(raw: Any) -> CustomerAgreement | None:
    fields = _ci(raw)
    template_id = _opt_str(fields.get("templateid"))
    if template_id is None:
        return None
    return CustomerAgreement(
        template_id=template_id.lower(),
        agreement_type=str(fields.get("type") or fields.get("agreementtype") or ""),
        date_agreed=parse_datetime(fields.get("dateagreed")),
        contact=_parse_contact(fields.get("primarycontact")),
        user_id=_opt_str(fields.get("userid")),
        agreement_link=_opt_str(fields.get("agreementlink")),
    )


def _parse_metadata(raw: Any) -> AgreementMetadata | None:
    fields = _ci(raw)
    template_id = _opt_str(fields.get("templateid"))
    if template_id is None:
        return None
    rank = fields.get("versionrank")
    return AgreementMetadata(
        template_id=template_id.lower(),
        agreement_type=str(fields.get("agreementtype") or fields.get("type") or ""),
        agreement_link=_opt_str(fields.get("agreementlink")),
        version_rank=rank if isinstance(rank, int) and not isinstance(rank, bool) else 0,
    )


def _items(body: Any) -> list[Any]:
    """Items of a collection wrapper; a bare array is accepted too (the REST reference says so)."""
    if isinstance(body, list):
        return body
    items = _ci(body).get("items")
    if isinstance(items, list):
        return items
    raise _invalid_response("expected a collection with an 'items' array")


def _invalid_response(detail: str) -> Transient:
    # A 2xx we cannot read is most likely a proxy or an outage page; a later retry may work.
    return Transient(f"unreadable Partner Center response: {detail}", code="invalid_response")


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def error_for_response(response: httpx.Response) -> PartnerCenterError | None:
    """Map a non-2xx response to the typed error to raise; None for a 2xx."""
    status = response.status_code
    if 200 <= status < 300:
        return None
    body = _json_or_none(response)
    fields = _ci(body)
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


class PartnerCenterClient:
    """Client for the agreement endpoints; raises `Transient`, `Rejected` or `AuthFailed`."""

    def __init__(
        self,
        base_url: str,
        token_provider: TokenProvider,
        *,
        timeout: float = 20.0,
        connect_timeout: float = 5.0,
        transport: httpx.BaseTransport | None = None,
        app_name: str = "intake-portal",
        rate_limiter: RateLimiter | None = None,
    ) -> None:
        self._token_provider = token_provider
        self._rate_limiter: RateLimiter = rate_limiter if rate_limiter is not None else NoLimit()
        self._app_name = app_name
        self._http = httpx.Client(
            base_url=base_url,
            timeout=httpx.Timeout(timeout, connect=min(connect_timeout, timeout)),
            transport=transport,
            follow_redirects=False,
        )

    def get_agreement_metadata(self, agreement_type: str) -> list[AgreementMetadata]:
        """Templates of `agreement_type` (`*` for all); the type is always sent explicitly."""
        body = self._request(
            "GET", "/v1/agreements", params={"agreementType": _require(agreement_type)}
        )
        parsed = (_parse_metadata(item) for item in _items(body))
        return [item for item in parsed if item is not None]

    def get_customer_agreements(
        self, tenant_id: str, agreement_type: str
    ) -> list[CustomerAgreement]:
        """The customer's confirmations of `agreement_type`, oldest first (undated ones first)."""
        path = f"/v1/customers/{normalize_guid(tenant_id)}/agreements"
        body = self._request("GET", path, params={"agreementType": _require(agreement_type)})
        parsed = (_parse_agreement(item) for item in _items(body))
        agreements = [item for item in parsed if item is not None]
        floor = datetime.min.replace(tzinfo=UTC)
        agreements.sort(key=lambda a: (a.date_agreed is not None, a.date_agreed or floor))
        return agreements

    def get_direct_signed_status(self, tenant_id: str) -> bool:
        """True if the customer accepted the agreement itself in the Microsoft 365 admin center."""
        tenant = normalize_guid(tenant_id)
        path = f"/v1/customers/{tenant}/directSignedMicrosoftCustomerAgreementStatus"
        signed = _ci(self._request("GET", path)).get("issigned")
        if not isinstance(signed, bool):
            raise _invalid_response("expected a boolean 'isSigned'")
        return signed

    def create_customer_agreement(
        self,
        tenant_id: str,
        *,
        agreement_type: str,
        template_id: str,
        date_agreed: date,
        contact: Contact,
        request_id: str,
    ) -> CustomerAgreement:
        """Confirm the customer's acceptance (legacy attestation); `request_id` is idempotent.

        Reuse the same `request_id` when retrying after a `Transient` without an answer.
        """
        path = f"/v1/customers/{normalize_guid(tenant_id)}/agreements"
        request_id = normalize_guid(request_id)
        primary: dict[str, str] = {
            "firstName": contact.first_name,
            "lastName": contact.last_name,
            "email": contact.email,
        }
        if contact.phone_number is not None:
            primary["phoneNumber"] = contact.phone_number
        payload = {
            "primaryContact": primary,
            "templateId": template_id,
            "dateAgreed": f"{date_agreed.isoformat()}T00:00:00.000Z",
            "type": agreement_type,
        }
        body = self._request("POST", path, json=payload, request_id=request_id)
        created = _parse_agreement(body)
        if created is not None:
            return created
        # 200 may come without the Agreement (REST reference); the call still succeeded.
        return CustomerAgreement(
            template_id=template_id.lower(),
            agreement_type=agreement_type,
            date_agreed=datetime(date_agreed.year, date_agreed.month, date_agreed.day, tzinfo=UTC),
            contact=contact,
            user_id=None,
            agreement_link=None,
        )

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()

    def __enter__(self) -> PartnerCenterClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        request_id: str | None = None,
    ) -> Any:
        # Wait for the cap before taking the token, so that a long wait cannot stale it.
        self._rate_limiter.acquire()
        token = self._token_provider.get_token()
        if not token or not token.strip():
            raise AuthFailed("the token provider returned an empty token", code="empty_token")
        headers = {
            "Authorization": f"Bearer {token.strip()}",
            "Accept": "application/json",
            "MS-CorrelationId": str(uuid.uuid4()),
            "MS-RequestId": request_id or str(uuid.uuid4()),
            "MS-PartnerCenter-Application": self._app_name,
            "X-Locale": "en-US",
        }
        try:
            response = self._http.request(method, path, params=params, json=json, headers=headers)
        except httpx.TimeoutException as exc:
            raise Transient(
                f"{method} {path} timed out ({type(exc).__name__})", code="timeout", answered=False
            ) from exc
        except httpx.ConnectError as exc:
            raise Transient(
                f"{method} {path}: cannot connect ({exc})", code="connect_error", answered=False
            ) from exc
        except httpx.TransportError as exc:
            raise Transient(
                f"{method} {path}: {type(exc).__name__} ({exc})",
                code="transport_error",
                answered=False,
            ) from exc
        error = error_for_response(response)
        if error is not None:
            raise error
        if not response.content:
            return None
        body = _json_or_none(response)
        if body is None and method == "POST":
            # The create call succeeded whatever its body says; the caller falls back to its input.
            return None
        if body is None:
            raise _invalid_response(f"{method} {path} answered {response.status_code} without JSON")
        return body


def _require(agreement_type: str) -> str:
    if not agreement_type or not agreement_type.strip():
        raise ValueError("agreement_type is required (Partner Center defaults to the Cloud one)")
    return agreement_type.strip()
