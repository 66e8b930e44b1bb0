"""The types of the gateway interface: what services hand over and what they get back.

Kept apart from `gateway.py` (which re-exports them, and holds the two flows and
`build_gateway`) so that each module stays small. No I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Protocol

from app.partner_center.responses import AgreementDocument, AgreementMetadata, Contact

CUSTOMER_AGREEMENT = "MicrosoftCustomerAgreement"
DUPLICATE_CODE = "600061"


@dataclass(frozen=True)
class ConfirmationRequest:
    """What the portal wants Partner Center to hold for one customer and agreement version."""

    customer_tenant_id: str
    agreement_type: str
    template_id: str
    date_agreed: date
    contact: Contact
    request_id: str
    # A provider admin asked for a new confirmation of a version that is already covered (a new
    # contact person, or after a withdrawal): only our own earlier request counts as done.
    reconfirm: bool = False


class OutcomeKind(StrEnum):
    """How the version ended up covered upstream."""

    SENT = "sent"
    ALREADY_OURS = "already_ours"
    UPSTREAM = "upstream"
    DIRECT = "direct"


@dataclass(frozen=True)
class ConfirmationOutcome:
    """The result of `Gateway.confirm`: what upstream holds, and a sentence for people."""

    kind: OutcomeKind
    date_agreed: date | None
    contact: Contact | None
    detail: str


class StepKind(StrEnum):
    """Where one forwarding step left a record (see `Gateway.advance`)."""

    CONFIRMED = "confirmed"  # the version is covered upstream: `outcome` says how
    STARTED = "started"  # an attestation was created: the customer must now accept it
    WAITING = "waiting"  # the customer has not accepted yet: look again later
    LAPSED = "lapsed"  # the acceptance link expired unused (R19)


@dataclass(frozen=True)
class PendingAttestation:
    """What the portal stored of the customer's acceptance step (enhanced flow only)."""

    request_id: str  # MS-RequestId of the create call: a retry replays it, never a second one
    attestation_id: str | None  # None until Partner Center answered the create call
    status: str  # "creating" | "pending" | "accepted"


@dataclass(frozen=True)
class Step:
    """The result of one `Gateway.advance` call."""

    kind: StepKind
    outcome: ConfirmationOutcome | None = None  # CONFIRMED
    attestation_id: str | None = None  # STARTED
    acceptance_url: str | None = None  # STARTED: the link the reseller brings to the customer
    expires_at: datetime | None = None  # STARTED: when the link lapses, if Partner Center says
    detail: str = ""


@dataclass(frozen=True)
class AttestationFields:
    """What the enhanced create call needs beyond the confirmation request (R18)."""

    country: str  # ISO 3166-1 alpha-2
    language: str  # e.g. "ko-KR"
    company_name: str


class Gateway(Protocol):
    """An upstream flow able to confirm acceptances."""

    flow: str
    # True when the customer accepts on a Microsoft page between two calls (enhanced flow).
    uses_attestations: bool

    def advance(
        self,
        request: ConfirmationRequest,
        pending: PendingAttestation | None,
        fields: AttestationFields | None,
    ) -> Step:
        """Take the next upstream step for a record: the whole flow, one call at a time.

        Legacy: always CONFIRMED (ask, then send). Enhanced: ask and create the attestation
        (STARTED), then on later calls read its status (WAITING / LAPSED) and finalize once the
        customer accepted (CONFIRMED). Raises Transient, Rejected or AuthFailed like `confirm`.
        """
        ...

    def confirm(self, request: ConfirmationRequest) -> ConfirmationOutcome:
        """Make sure Partner Center holds a confirmation for the request's version.

        Legacy flow only: the enhanced gateway raises ValueError (use `advance`).
        """
        ...

    def current_templates(self, agreement_type: str) -> list[AgreementMetadata]:
        """The templates Partner Center currently lists for `agreement_type`."""
        ...

    def agreement_document(
        self, template_id: str, country: str, language: str
    ) -> AgreementDocument:
        """The agreement text of a template for a country and language (contract §6)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
