"""Typed HTTP client for the Partner Center agreement endpoints (contract §2.1-2.5, §6).

No Flask here: the worker and the CLI use it outside any app context. One `httpx.Client` per
instance keeps connections alive; every call has timeouts and fresh tracing headers. The
enhanced attestation calls take their paths and field names from `enhanced_wire`, the one module
that knows which of them Microsoft documents.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime
from types import TracebackType
from typing import Any

import httpx

from app.partner_center import enhanced_wire as wire
from app.partner_center.auth import TokenProvider
from app.partner_center.errors import AuthFailed, Transient
from app.partner_center.ratelimit import NoLimit, RateLimiter
from app.partner_center.responses import (
    AgreementDocument,
    AgreementMetadata,
    Contact,
    CreatedAttestation,
    CustomerAgreement,
    ci,
    error_for_response,
    invalid_response,
    items,
    json_or_none,
    normalize_guid,
    parse_agreement,
    parse_datetime,
    parse_metadata,
    parse_retry_after,
)

# The resource types and parsing helpers live in `responses`; they stay importable from here.
__all__ = [
    "AgreementDocument",
    "AgreementMetadata",
    "Contact",
    "CreatedAttestation",
    "CustomerAgreement",
    "PartnerCenterClient",
    "agreement_body",
    "error_for_response",
    "normalize_guid",
    "parse_datetime",
    "parse_retry_after",
]


def agreement_body(
    *, agreement_type: str, template_id: str, date_agreed: date, contact: Contact
) -> dict[str, Any]:
    """The create-agreement body (contract §2.2); the phone is left out when there is none."""
    primary: dict[str, str] = {
        "firstName": contact.first_name,
        "lastName": contact.last_name,
        "email": contact.email,
    }
    if contact.phone_number is not None:
        primary["phoneNumber"] = contact.phone_number
    return {
        "primaryContact": primary,
        "templateId": template_id,
        "dateAgreed": f"{date_agreed.isoformat()}T00:00:00.000Z",
        "type": agreement_type,
    }


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
        parsed = (parse_metadata(item) for item in items(body))
        return [item for item in parsed if item is not None]

    def get_customer_agreements(
        self, tenant_id: str, agreement_type: str
    ) -> list[CustomerAgreement]:
        """The customer's confirmations of `agreement_type`, oldest first (undated ones first)."""
        path = f"/v1/customers/{normalize_guid(tenant_id)}/agreements"
        body = self._request("GET", path, params={"agreementType": _require(agreement_type)})
        parsed = (parse_agreement(item) for item in items(body))
        agreements = [item for item in parsed if item is not None]
        floor = datetime.min.replace(tzinfo=UTC)
        agreements.sort(key=lambda a: (a.date_agreed is not None, a.date_agreed or floor))
        return agreements

    def get_direct_signed_status(self, tenant_id: str) -> bool:
        """True if the customer accepted the agreement itself in the Microsoft 365 admin center."""
        tenant = normalize_guid(tenant_id)
        path = f"/v1/customers/{tenant}/directSignedMicrosoftCustomerAgreementStatus"
        signed = ci(self._request("GET", path)).get("issigned")
        if not isinstance(signed, bool):
            raise invalid_response("expected a boolean 'isSigned'")
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
        payload = agreement_body(
            agreement_type=agreement_type,
            template_id=template_id,
            date_agreed=date_agreed,
            contact=contact,
        )
        body = self._request("POST", path, json=payload, request_id=normalize_guid(request_id))
        return _created_agreement(body, agreement_type, template_id, date_agreed, contact)

    def create_attestation(
        self,
        *,
        tenant_id: str,
        country: str,
        language: str,
        company_name: str,
        contact: Contact,
        request_id: str,
    ) -> CreatedAttestation:
        """Create an enhanced-flow attestation for the customer (contract §2.5 step 1).

        `request_id` is idempotent: a retry after a `Transient` without an answer must reuse it,
        so that Partner Center answers the attestation it already made instead of a second one.
        The wire names come from `enhanced_wire` (several unconfirmed).
        """
        payload = wire.create_body(
            tenant_id=normalize_guid(tenant_id),
            country=country.strip().upper(),
            language=language.strip(),
            company_name=company_name.strip(),
            contact=contact,
        )
        body = self._request(
            "POST", wire.CREATE_PATH, json=payload, request_id=normalize_guid(request_id)
        )
        try:
            attestation_id, expires_at = wire.parse_created(body)
        except ValueError as exc:
            # The attestation probably exists upstream but we cannot name it: replaying the same
            # request id is the only way to learn its id without creating a second one.
            raise invalid_response(str(exc), answered=False) from exc
        return CreatedAttestation(attestation_id=attestation_id, expires_at=expires_at)

    def get_attestation_status(self, attestation_id: str) -> str:
        """The attestation's status: "Pending", "Accepted" or "Expired" (read unconfirmed)."""
        if not attestation_id or not attestation_id.strip():
            raise ValueError("attestation_id is required")
        body = self._request("GET", wire.status_path(attestation_id.strip()))
        try:
            return wire.parse_status(body)
        except ValueError as exc:
            raise invalid_response(str(exc)) from exc

    def finalize_customer_agreement(
        self,
        tenant_id: str,
        *,
        attestation_id: str,
        agreement_type: str,
        template_id: str,
        date_agreed: date,
        contact: Contact,
        request_id: str,
    ) -> CustomerAgreement:
        """Finalize an accepted attestation: the create-agreement call carrying its id (§2.5).

        Idempotent by `request_id` like `create_customer_agreement`; Partner Center refuses it
        (`Rejected`) while the customer has not accepted.
        """
        if not attestation_id or not attestation_id.strip():
            raise ValueError("attestation_id is required")
        tenant = normalize_guid(tenant_id)
        payload = wire.finalize_body(
            agreement_body(
                agreement_type=agreement_type,
                template_id=template_id,
                date_agreed=date_agreed,
                contact=contact,
            ),
            attestation_id.strip(),
        )
        body = self._request(
            "POST", wire.finalize_path(tenant), json=payload, request_id=normalize_guid(request_id)
        )
        return _created_agreement(body, agreement_type, template_id, date_agreed, contact)

    def get_agreement_document(
        self, template_id: str, *, country: str, language: str
    ) -> AgreementDocument:
        """The agreement text of a template for a country and language (contract §6).

        The path is documented; the answer's shape is not, so whatever comes back is returned:
        the document's bytes, or the link a JSON answer names.
        """
        if not template_id or not template_id.strip():
            raise ValueError("template_id is required")
        response = self._send(
            "GET",
            wire.document_path(template_id.strip()),
            params=wire.document_params(country=country.strip(), language=language.strip()),
            accept=wire.DOCUMENT_ACCEPT,
        )
        content_type = response.headers.get("Content-Type", "application/octet-stream")
        kind, content, url = wire.parse_document(content_type, response.content)
        return AgreementDocument(content_type=kind, body=content, url=url)

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
        """Send and read the JSON answer (None for an empty one, or a POST's non-JSON one)."""
        response = self._send(method, path, params=params, json=json, request_id=request_id)
        if not response.content:
            return None
        body = json_or_none(response)
        if body is None and method == "POST":
            # The create call succeeded whatever its body says; the caller falls back to its input.
            return None
        if body is None:
            raise invalid_response(f"{method} {path} answered {response.status_code} without JSON")
        return body

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        request_id: str | None = None,
        accept: str = "application/json",
    ) -> httpx.Response:
        """One paced, authenticated request; a 2xx response, or the typed error."""
        # Wait for the cap before taking the token, so that a long wait cannot stale it.
        self._rate_limiter.acquire()
        token = self._token_provider.get_token()
        if not token or not token.strip():
            raise AuthFailed("the token provider returned an empty token", code="empty_token")
        headers = {
            "Authorization": f"Bearer {token.strip()}",
            "Accept": accept,
            "MS-CorrelationId": str(uuid.uuid4()),
            "MS-RequestId": request_id or str(uuid.uuid4()),
            "MS-PartnerCenter-Application": self._app_name,
            "X-Locale": "en-US",
        }
        try:
            return self._exchange(method, path, params=params, json=json, headers=headers)
        except Transient as exc:
            exc.write = request_id is not None
            raise

    def _exchange(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None,
        json: Any,
        headers: Mapping[str, str],
    ) -> httpx.Response:
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
        return response


def _created_agreement(
    body: Any, agreement_type: str, template_id: str, date_agreed: date, contact: Contact
) -> CustomerAgreement:
    created = parse_agreement(body)
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


def _require(agreement_type: str) -> str:
    if not agreement_type or not agreement_type.strip():
        raise ValueError("agreement_type is required (Partner Center defaults to the Cloud one)")
    return agreement_type.strip()
