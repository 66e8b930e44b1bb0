"""What Partner Center's answers mean for a confirmation request, as the gateway's flows
(gateway.py) report them: a `ConfirmationOutcome` for a version held upstream already, for one
we sent, or for a create call refused as a duplicate of ours; and the contact comparison behind
Partner Center's duplicate rule. No I/O here.
"""

from __future__ import annotations

import re
from datetime import date

from app.partner_center.client import Contact, CustomerAgreement
from app.partner_center.gateway_types import (
    DUPLICATE_CODE,
    ConfirmationOutcome,
    ConfirmationRequest,
    OutcomeKind,
)

_NON_DIGITS = re.compile(r"\D")


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


def duplicate_outcome(request: ConfirmationRequest) -> ConfirmationOutcome:
    """What a 600061 answer to our create or finalize call means: our confirmation is there."""
    return ConfirmationOutcome(
        kind=OutcomeKind.ALREADY_OURS,
        date_agreed=None,
        contact=request.contact,
        detail=(
            "Partner Center already holds a confirmation with the same contact "
            f"(error {DUPLICATE_CODE})."
        ),
    )


def sent_outcome(
    request: ConfirmationRequest, created: CustomerAgreement, how: str = ""
) -> ConfirmationOutcome:
    """What a created confirmation means: ours is there now (`how` says through what)."""
    day = _day(created) or request.date_agreed
    return ConfirmationOutcome(
        kind=OutcomeKind.SENT,
        date_agreed=day,
        contact=request.contact,
        detail=f"Partner Center accepted the confirmation{how}{_accepted(day)}.",
    )


def covered_outcome(
    request: ConfirmationRequest, held: list[CustomerAgreement]
) -> ConfirmationOutcome:
    """What the entries Partner Center holds of the requested version (`held`, at least one)
    mean: our confirmation if one carries our contact, else another contact's."""
    # `held` is oldest first. Any entry with our contact proves our confirmation is there,
    # even if someone confirmed again later with another contact.
    ours = [item for item in held if item.contact and same_contact(item.contact, request.contact)]
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
