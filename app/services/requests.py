"""Requests for acceptance: a provider admin asks resellers to collect customers' acceptance.

A request names one customer and one reseller serving it, and the agreement version current
when it was made (R12). Each reseller sees its open requests on its to-do list; a request
closes when its customer is confirmed on that version or a newer one.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.markers import M_, N_
from app.models import (
    AcceptanceRequest,
    AgreementTemplate,
    AgreementType,
    Confirmation,
    ConfirmationState,
    Customer,
    CustomerReseller,
    Role,
    User,
)
from app.models.acceptance_input import normalize_tenant_id
from app.models.customer import Cloud
from app.services import agreements
from app.services.audit import record_event
from app.services.errors import PermissionDenied, ValidationFailed

MAX_TENANT_IDS = 1000
MAX_MESSAGE = 2000
MCA = AgreementType.MICROSOFT_CUSTOMER_AGREEMENT.value


@dataclass
class AskResult:
    """What `ask_for_acceptance` did, and what it could not do, for the admin to read."""

    created: list[AcceptanceRequest] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # tenant ids no customer has
    already_open: int = 0  # (customer, reseller) pairs that had an open request already
    already_current: list[str] = field(default_factory=list)  # confirmed on the current version
    national_cloud: list[str] = field(default_factory=list)  # cannot be confirmed (R14)
    unserved: list[str] = field(default_factory=list)  # no reseller serves the customer

    @property
    def customers(self) -> int:
        """How many customers got at least one new request."""
        return len({r.customer_id for r in self.created})


def parse_tenant_ids(text: str | None) -> list[str]:
    """The tenant ids in a pasted list (one per line, or separated by commas or spaces).

    Raises ValidationFailed naming every entry that is not a GUID.
    """
    raw = (text or "").replace(",", " ").replace(";", " ").split()
    found: list[str] = []
    bad: list[str] = []
    for item in raw:
        try:
            found.append(normalize_tenant_id(item))
        except ValueError:
            bad.append(item[:60])
    if bad:
        shown = ", ".join(bad[:5]) + (" …" if len(bad) > 5 else "")
        raise ValidationFailed(
            {"tenant_ids": [M_("These are not tenant IDs (GUIDs): %(ids)s.", ids=shown)]},
        )
    if len(found) > MAX_TENANT_IDS:
        raise ValidationFailed(
            {"tenant_ids": [M_("Paste at most %(n)s tenant IDs at a time.", n=MAX_TENANT_IDS)]}
        )
    return list(dict.fromkeys(found))


def _clean_message(message: str | None) -> str | None:
    text = unicodedata.normalize("NFC", message or "").strip()
    if not text:
        return None
    # Line breaks and tabs are how people write a note; other control characters are not.
    if any(unicodedata.category(ch)[0] == "C" and ch not in "\n\r\t" for ch in text):
        raise ValidationFailed(
            {"message": [N_("The message contains characters that cannot be used.")]}
        )
    if len(text) > MAX_MESSAGE:
        raise ValidationFailed(
            {"message": [M_("The message is too long: at most %(n)s characters.", n=MAX_MESSAGE)]}
        )
    return text


def _confirmed_on(session: Session, customer_ids: Iterable[int], template_id: str) -> set[int]:
    ids = list(customer_ids)
    if not ids:
        return set()
    return set(
        session.exec(
            select(Confirmation.customer_id)
            .where(col(Confirmation.customer_id).in_(ids))
            .where(Confirmation.agreement_type == MCA)
            .where(Confirmation.template_id == template_id)
            .where(Confirmation.state == ConfirmationState.ACTIVE)
        )
    )


def _select_customers(
    session: Session, *, actor: User, tenant_ids: Sequence[str] | None, all_outdated: bool
) -> tuple[list[Customer], list[str]]:
    """The customers asked for, and the tenant ids no customer has."""
    if all_outdated:
        outdated = agreements.customers_needing_reconfirmation(session, actor=actor, limit=100_000)
        return list({c.id: c for c, _entry in outdated}.values()), []
    wanted = list(tenant_ids or [])
    rows = {
        c.tenant_id: c
        for c in session.exec(select(Customer).where(col(Customer.tenant_id).in_(wanted)))
    }
    return [rows[t] for t in wanted if t in rows], [t for t in wanted if t not in rows]


def ask_for_acceptance(
    session: Session,
    *,
    actor: User,
    tenant_ids: Sequence[str] | None = None,
    all_outdated: bool = False,
    message: str | None = None,
) -> AskResult:
    """Ask every reseller serving the chosen customers for a (re-)acceptance (provider admin).

    The customers are either every customer confirmed only on an older version
    (`all_outdated`) or the given tenant ids (normalised GUIDs). One request per customer and
    reseller serving it; a pair that already has an open request is skipped, as are customers
    already confirmed on the current version and customers in a national cloud (R14).
    """
    if actor.role != Role.PROVIDER_ADMIN:
        raise PermissionDenied(N_("Only a provider admin can ask resellers for acceptances."))
    if not all_outdated and not tenant_ids:
        raise ValidationFailed(
            {"tenant_ids": [N_("Paste at least one tenant ID, or choose every outdated customer.")]}
        )
    note = _clean_message(message)
    template_id = agreements.current_template(session, MCA).template_id
    customers, unknown = _select_customers(
        session, actor=actor, tenant_ids=tenant_ids, all_outdated=all_outdated
    )
    result = AskResult(unknown=unknown)
    current = _confirmed_on(session, (c.id or 0 for c in customers), template_id)
    for customer in customers:
        if customer.cloud != Cloud.PUBLIC:
            result.national_cloud.append(customer.tenant_id)
            continue
        if customer.id in current:
            result.already_current.append(customer.tenant_id)
            continue
        resellers = list(
            session.exec(
                select(CustomerReseller.reseller_id).where(
                    CustomerReseller.customer_id == customer.id
                )
            )
        )
        if not resellers:
            result.unserved.append(customer.tenant_id)
        for reseller_id in resellers:
            request = _open_one(session, actor, customer, reseller_id, template_id, note)
            if request is None:
                result.already_open += 1
            else:
                result.created.append(request)
    return result


def _open_one(
    session: Session,
    actor: User,
    customer: Customer,
    reseller_id: int,
    template_id: str,
    note: str | None,
) -> AcceptanceRequest | None:
    """A new open request, or None when the pair has one (checked, and the index decides)."""
    existing = session.exec(
        select(AcceptanceRequest.id)
        .where(AcceptanceRequest.customer_id == customer.id)
        .where(AcceptanceRequest.reseller_id == reseller_id)
        .where(col(AcceptanceRequest.closed_at).is_(None))
    ).first()
    if existing is not None:
        return None
    request = AcceptanceRequest(
        customer_id=customer.id or 0,
        reseller_id=reseller_id,
        requested_by_id=actor.id or 0,
        message=note,
        template_id=template_id,
    )
    try:
        with session.begin_nested():
            session.add(request)
    except IntegrityError:
        return None  # another admin's request for the same pair committed first
    record_event(
        session,
        actor=actor,
        action="acceptance_request.created",
        subject_type="acceptance_request",
        subject_id=request.id or 0,
        organization_id=reseller_id,
        details={"tenant_id": customer.tenant_id, "template_id": template_id},
    )
    return request


def open_requests(session: Session, *, actor: User, limit: int = 500) -> list[AcceptanceRequest]:
    """Open requests, oldest first: a reseller's own, or every reseller's for the provider."""
    query = select(AcceptanceRequest).where(col(AcceptanceRequest.closed_at).is_(None))
    if not actor.is_provider:
        query = query.where(AcceptanceRequest.reseller_id == actor.organization_id)
    return list(
        session.exec(
            query.order_by(col(AcceptanceRequest.created_at), col(AcceptanceRequest.id)).limit(
                limit
            )
        )
    )


def recently_closed(session: Session, *, actor: User, limit: int = 50) -> list[AcceptanceRequest]:
    """The latest closed requests the actor may see, newest first."""
    query = select(AcceptanceRequest).where(col(AcceptanceRequest.closed_at).is_not(None))
    if not actor.is_provider:
        query = query.where(AcceptanceRequest.reseller_id == actor.organization_id)
    return list(session.exec(query.order_by(col(AcceptanceRequest.closed_at).desc()).limit(limit)))


def _ranks(session: Session, template_ids: Iterable[str]) -> dict[str, int]:
    ids = set(template_ids)
    if not ids:
        return {}
    return {
        t.template_id: t.version_rank
        for t in session.exec(
            select(AgreementTemplate)
            .where(AgreementTemplate.agreement_type == MCA)
            .where(col(AgreementTemplate.template_id).in_(ids))
        )
    }


def close_requests_for_customer(
    session: Session, *, customer_id: int, template_id: str, now: datetime
) -> list[AcceptanceRequest]:
    """Close the customer's open requests now that it is confirmed on `template_id`.

    For the forwarding worker, in the transaction that records the confirmation (it flushes,
    never commits). A request is satisfied by a confirmation of its own version or of a newer
    one (a higher version rank); one for a newer version than the confirmation stays open.
    Every reseller's requests for the customer close: one confirmation covers them all (R8).
    Returns the requests it closed; writes a system audit event for each.
    """
    requests = list(
        session.exec(
            select(AcceptanceRequest)
            .where(AcceptanceRequest.customer_id == customer_id)
            .where(col(AcceptanceRequest.closed_at).is_(None))
        )
    )
    if not requests:
        return []
    ranks = _ranks(session, [template_id, *(r.template_id for r in requests)])
    confirmed_rank = ranks.get(template_id)
    closed = []
    for request in requests:
        asked_rank = ranks.get(request.template_id)
        satisfied = request.template_id == template_id or (
            confirmed_rank is not None and asked_rank is not None and asked_rank <= confirmed_rank
        )
        if not satisfied:
            continue
        request.closed_at = now
        request.closed_reason = f"The customer was confirmed on agreement version {template_id}."
        session.add(request)
        closed.append(request)
    session.flush()
    for request in closed:
        record_event(
            session,
            actor=None,
            action="acceptance_request.closed",
            subject_type="acceptance_request",
            subject_id=request.id or 0,
            organization_id=request.reseller_id,
            details={"customer_id": customer_id, "template_id": template_id},
        )
    return closed
