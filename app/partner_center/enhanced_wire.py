"""The enhanced attestation flow's wire facts: the ONE place that says how they look.

Microsoft documents only part of this flow (contract §2.5), so every path, field name and value
below carries a label and its source:

- **documented**: seen in Microsoft's own page text;
- **inferred**: two or more independent integrations agree, or it follows from documented text;
- **unconfirmed**: one third-party source, or our own guess.

The client, the gateway and the fake Partner Center all read these constants and functions, so
the day Microsoft publishes the contract, this module is the one file to change. Nothing here
does I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from app.partner_center.responses import Contact, ci, parse_datetime

# -- (1) create the attestation -------------------------------------------------------------
# documented (contract §2.5 step 1: "POST …/v1/attestations/enhanced", MS-integrate-sandbox…).
CREATE_PATH = "/v1/attestations/enhanced"

# Request body field names.
COUNTRY = "country"  # documented (§2.5): ISO 3166-1 alpha-2, required
LANGUAGE = "language"  # name inferred (§2.5); value format unconfirmed (we send e.g. "ko-KR")
COMPANY_NAME = "companyName"  # inferred (§2.5)
SIGNATORY_FIRST_NAME = "signatoryFirstName"  # documented (§2.5)
SIGNATORY_LAST_NAME = "signatoryLastName"  # documented (§2.5)
SIGNATORY_EMAIL = "signatoryEmail"  # unconfirmed (§2.5: name unknown, "probably required")
SIGNATORY_PHONE = "signatoryPhoneNumber"  # unconfirmed (§2.5: name unknown, optional)
# unconfirmed (§2.5: "path, body, or nowhere in this call"): our choice is the body, because
# the attestation must be tied to the customer and no documented path carries a tenant id.
CUSTOMER_TENANT_ID = "customerTenantId"

# Response field names.
ATTESTATION_ID = "attestationId"  # inferred (§2.5: integrations surface "attestationId", a GUID)
EXPIRES_AT = "expiresAt"  # unconfirmed (no source; optional, R19 needs to know if it is given)

# -- status read ----------------------------------------------------------------------------
# unconfirmed (§2.5 "Status"): no documented read of an attestation by id exists. Our own shape:
# GET /v1/attestations/enhanced/{id} -> {"attestationId": …, "status": "Pending|Accepted|Expired"}.
STATUS = "status"
PENDING = "Pending"  # unconfirmed: a distributor's XML shows attestationStatus = Pending
ACCEPTED = "Accepted"  # unconfirmed: integrations show Accepted
EXPIRED = "Expired"  # unconfirmed: a marketplace shows EXPIRED
STATUSES = (PENDING, ACCEPTED, EXPIRED)
# unconfirmed: other spellings integrations show, read as one of ours. CloudFactory's "Valid"
# is taken as accepted: finalizing an already-finalized attestation ends in 600061, harmless.
_STATUS_ALIASES = {"valid": ACCEPTED}

# -- (2) acceptance page --------------------------------------------------------------------
# inferred (§2.5 step 2: two independent integrations build it so; lowercase `attestationid`,
# no other parameters seen; needs no login, so the reseller can hand the link on).
ACCEPTANCE_BASE_URL = "https://cdn.partner.microsoft.com/mca/"
ACCEPTANCE_QUERY = "attestationid"

# -- (3) finalize ---------------------------------------------------------------------------
# documented path and Agreement body (§2.2, §2.5 step 3); where the attestation id goes is
# unconfirmed: a top-level "attestationId" is the likeliest guess (§2.5). Whether templateId and
# dateAgreed are still required is unconfirmed too: we keep sending the whole usual body.
FINALIZE_ATTESTATION_ID = "attestationId"

# -- agreement document ---------------------------------------------------------------------
# documented path and parameters (§6: both optional, defaults US / en-US, template id
# case-sensitive); the response shape is unconfirmed (we accept a document or a JSON link).
DOCUMENT_COUNTRY = "country"
DOCUMENT_LANGUAGE = "language"
DOCUMENT_ACCEPT = "text/html, application/pdf;q=0.9, application/json;q=0.8, */*;q=0.5"
# unconfirmed: keys under which a JSON answer might carry a link instead of the document.
_DOCUMENT_URL_KEYS = ("documenturl", "downloaduri", "url", "link", "agreementlink")


def status_path(attestation_id: str) -> str:
    """Path of the status read of one attestation (unconfirmed; our own shape, §2.5)."""
    return f"{CREATE_PATH}/{quote(attestation_id, safe='')}"


def finalize_path(tenant_id: str) -> str:
    """Path of the finalize call: the documented create-agreement path (§2.2, §2.5 step 3)."""
    return f"/v1/customers/{tenant_id}/agreements"


def document_path(template_id: str) -> str:
    """Path of the agreement document of a template (documented, §6)."""
    return f"/v1/agreementtemplates/{quote(template_id, safe='')}/document"


def document_params(*, country: str, language: str) -> dict[str, str]:
    """Query parameters of the document read (documented names, §6)."""
    return {DOCUMENT_LANGUAGE: language, DOCUMENT_COUNTRY: country}


def create_body(
    *,
    tenant_id: str,
    country: str,
    language: str,
    company_name: str,
    contact: Contact,
) -> dict[str, str]:
    """The body of the create-attestation call; the phone is left out when there is none."""
    body = {
        CUSTOMER_TENANT_ID: tenant_id,
        COUNTRY: country,
        LANGUAGE: language,
        COMPANY_NAME: company_name,
        SIGNATORY_FIRST_NAME: contact.first_name,
        SIGNATORY_LAST_NAME: contact.last_name,
        SIGNATORY_EMAIL: contact.email,
    }
    if contact.phone_number:
        body[SIGNATORY_PHONE] = contact.phone_number
    return body


def parse_created(body: Any) -> tuple[str, datetime | None]:
    """`(attestation_id, expires_at)` from the create answer; ValueError without an id.

    Keys are read case-insensitively (Partner Center answers camelCase or PascalCase); an
    unreadable expiry is None rather than an error, because the field itself is unconfirmed.
    """
    fields = ci(body)
    raw = fields.get(ATTESTATION_ID.lower())
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError(f"expected a string {ATTESTATION_ID!r} in the create-attestation answer")
    return raw.strip(), parse_datetime(fields.get(EXPIRES_AT.lower()))


def parse_status(body: Any) -> str:
    """The attestation's status, normalised to one of `STATUSES`; ValueError otherwise."""
    raw = ci(body).get(STATUS)
    if isinstance(raw, str):
        wanted = raw.strip().casefold()
        for status in STATUSES:
            if status.casefold() == wanted:
                return status
        if wanted in _STATUS_ALIASES:
            return _STATUS_ALIASES[wanted]
    raise ValueError(f"unknown attestation status {raw!r}; expected one of {', '.join(STATUSES)}")


def acceptance_url(base: str, attestation_id: str) -> str:
    """The link to the acceptance page of an attestation (inferred, §2.5 step 2).

    `base` is Microsoft's page (`ACCEPTANCE_BASE_URL`) or the fake's; a query it already has is
    kept, and the id is percent-encoded.
    """
    parts = urlsplit(base)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != ACCEPTANCE_QUERY]
    query.append((ACCEPTANCE_QUERY, attestation_id))
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


def finalize_body(agreement_body: Mapping[str, Any], attestation_id: str) -> dict[str, Any]:
    """The finalize body: the usual create-agreement body plus the attestation id (§2.5 (3))."""
    return {**agreement_body, FINALIZE_ATTESTATION_ID: attestation_id}


def parse_document(content_type: str, content: bytes) -> tuple[str, bytes | None, str | None]:
    """`(content_type, body, url)` from the document answer (response shape unconfirmed, §6).

    A JSON answer naming a link gives the link; anything else is the document itself.
    """
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        try:
            parsed = json.loads(content.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            parsed = None
        fields = ci(parsed)
        for key in _DOCUMENT_URL_KEYS:
            value = fields.get(key)
            if isinstance(value, str) and value.strip():
                return content_type, None, value.strip()
    return content_type, content, None
