"""The one interface the forwarding service uses to confirm an acceptance upstream.

Services never know which upstream flow runs (`PARTNER_CENTER_FLOW`); they hand over a
`ConfirmationRequest` and get a `ConfirmationOutcome`, or a `Transient` / `Rejected` /
`AuthFailed` error from `app.partner_center.errors`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Protocol

from app.partner_center.auth import TokenProvider
from app.partner_center.client import (
    AgreementMetadata,
    Contact,
    CustomerAgreement,
    PartnerCenterClient,
)
from app.partner_center.errors import Rejected
from app.partner_center.ratelimit import RateLimiter

CUSTOMER_AGREEMENT = "MicrosoftCustomerAgreement"
DUPLICATE_CODE = "600061"
FLOWS = ("legacy",)

_NON_DIGITS = re.compile(r"\D")


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


class Gateway(Protocol):
    """An upstream flow able to confirm acceptances."""

    flow: str

    def confirm(self, request: ConfirmationRequest) -> ConfirmationOutcome:
        """Make sure Partner Center holds a confirmation for the request's version."""
        ...

    def current_templates(self, agreement_type: str) -> list[AgreementMetadata]:
        """The templates Partner Center currently lists for `agreement_type`."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def same_contact(a: Contact, b: Contact) -> bool:
    """Whether two contacts are the same person for Partner Center's duplicate rule.

    Names and email compare case-insensitively (trimmed); phones compare by digits only,
    so a missing phone equals an empty one.
    """

    def text(value: str) -> str:
        return value.strip().casefold()

    def digits(value: str | None) -> str:
        return _NON_DIGITS.sub("", value or "")

    return (
        text(a.first_name) == text(b.first_name)
        and text(a.last_name) == text(b.last_name)
        and text(a.email) == text(b.email)
        and digits(a.phone_number) == digits(b.phone_number)
    )


def _day(agreement: CustomerAgreement) -> date | None:
    return agreement.date_agreed.date() if agreement.date_agreed is not None else None


def _accepted(day: date | None) -> str:
    return f", accepted {day.isoformat()}" if day is not None else ""


class LegacyGateway:
    """The legacy attestation flow: ask Partner Center what it holds, then send if needed."""

    flow = "legacy"

    def __init__(self, client: PartnerCenterClient) -> None:
        self._client = client

    def confirm(self, request: ConfirmationRequest) -> ConfirmationOutcome:
        """Ask, then send; see the module docstring for the errors it lets through."""
        template_id = request.template_id.strip().lower()
        held = [
            item
            for item in self._client.get_customer_agreements(
                request.customer_tenant_id, request.agreement_type
            )
            if item.template_id.lower() == template_id
        ]
        if held:
            outcome = self._covered(request, held)
            if not (request.reconfirm and outcome.kind == OutcomeKind.UPSTREAM):
                return outcome
        if (
            not request.reconfirm
            and request.agreement_type == CUSTOMER_AGREEMENT
            and self._client.get_direct_signed_status(request.customer_tenant_id)
        ):
            return ConfirmationOutcome(
                kind=OutcomeKind.DIRECT,
                date_agreed=None,
                contact=None,
                detail=(
                    "The customer accepted the Microsoft Customer Agreement directly "
                    "in the Microsoft 365 admin center."
                ),
            )
        try:
            created = self._client.create_customer_agreement(
                request.customer_tenant_id,
                agreement_type=request.agreement_type,
                template_id=request.template_id,
                date_agreed=request.date_agreed,
                contact=request.contact,
                request_id=request.request_id,
            )
        except Rejected as exc:
            if exc.code != DUPLICATE_CODE:
                raise
            return ConfirmationOutcome(
                kind=OutcomeKind.ALREADY_OURS,
                date_agreed=None,
                contact=request.contact,
                detail=(
                    "Partner Center already holds a confirmation with the same contact "
                    f"(error {DUPLICATE_CODE})."
                ),
            )
        day = _day(created) or request.date_agreed
        return ConfirmationOutcome(
            kind=OutcomeKind.SENT,
            date_agreed=day,
            contact=request.contact,
            detail=f"Partner Center accepted the confirmation{_accepted(day)}.",
        )

    def current_templates(self, agreement_type: str) -> list[AgreementMetadata]:
        """The templates Partner Center lists for `agreement_type`."""
        return self._client.get_agreement_metadata(agreement_type)

    def close(self) -> None:
        """Close the underlying client."""
        self._client.close()

    def _covered(
        self, request: ConfirmationRequest, held: list[CustomerAgreement]
    ) -> ConfirmationOutcome:
        # `held` is oldest first. Any entry with our contact proves our confirmation is there,
        # even if someone confirmed again later with another contact.
        ours = [
            item for item in held if item.contact and same_contact(item.contact, request.contact)
        ]
        if ours:
            item = ours[-1]
            day = _day(item)
            return ConfirmationOutcome(
                kind=OutcomeKind.ALREADY_OURS,
                date_agreed=day,
                contact=item.contact,
                detail=(
                    "Partner Center already holds a confirmation of this agreement version "
                    f"with the same contact{_accepted(day)}."
                ),
            )
        item = held[-1]
        day = _day(item)
        who = ""
        if item.contact is not None:
            name = f"{item.contact.first_name} {item.contact.last_name}".strip()
            who = f" from a different contact ({name})" if name else " from a different contact"
        return ConfirmationOutcome(
            kind=OutcomeKind.UPSTREAM,
            date_agreed=day,
            contact=item.contact,
            detail=(
                f"Partner Center already holds a confirmation of this agreement version{who}"
                f"{_accepted(day)}."
            ),
        )


def build_gateway(
    *,
    base_url: str,
    flow: str,
    token_provider: TokenProvider,
    timeout: float,
    rate_limiter: RateLimiter | None = None,
) -> Gateway:
    """The gateway for `flow`; only "legacy" exists so far (ValueError otherwise).

    `rate_limiter` paces every HTTP request of its client (none by default).
    """
    if flow != "legacy":
        raise ValueError(f"unsupported Partner Center flow {flow!r}; available: {', '.join(FLOWS)}")
    return LegacyGateway(
        PartnerCenterClient(base_url, token_provider, timeout=timeout, rate_limiter=rate_limiter)
    )
