"""Agreement versions: which template is current per agreement type (R12)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlmodel import Session, col, select

from app.models import (
    AgreementTemplate,
    AgreementType,
    Confirmation,
    ConfirmationState,
    Customer,
    User,
    utcnow,
)
from app.models.agreement import WELL_KNOWN_MCA_LINK, WELL_KNOWN_MCA_TEMPLATE_ID
from app.security.scoping import customers_query
from app.services.audit import record_event


@dataclass(frozen=True)
class TemplateInfo:
    """One template as Partner Center's metadata lists it."""

    agreement_type: str
    template_id: str
    agreement_link: str | None
    version_rank: int


def current_template(session: Session, agreement_type: str) -> AgreementTemplate:
    """The current template of a type; the well-known one until the first sync says otherwise."""
    template = session.exec(
        select(AgreementTemplate)
        .where(AgreementTemplate.agreement_type == agreement_type)
        .where(col(AgreementTemplate.current).is_(True))
    ).first()
    if template is None:
        template = ensure_default_template(session)
    return template


def ensure_default_template(session: Session) -> AgreementTemplate:
    """Record the Customer Agreement template Partner Center has served since 2019."""
    existing = session.exec(
        select(AgreementTemplate)
        .where(AgreementTemplate.agreement_type == AgreementType.MICROSOFT_CUSTOMER_AGREEMENT)
        .where(AgreementTemplate.template_id == WELL_KNOWN_MCA_TEMPLATE_ID)
    ).first()
    if existing is None:
        existing = AgreementTemplate(
            agreement_type=AgreementType.MICROSOFT_CUSTOMER_AGREEMENT.value,
            template_id=WELL_KNOWN_MCA_TEMPLATE_ID,
            agreement_link=WELL_KNOWN_MCA_LINK,
            version_rank=0,
            current=True,
        )
        session.add(existing)
        session.flush()
    return existing


def find_template(
    session: Session, agreement_type: str, template_id: str
) -> AgreementTemplate | None:
    """A known template of a type, current or not."""
    return session.exec(
        select(AgreementTemplate)
        .where(AgreementTemplate.agreement_type == agreement_type)
        .where(AgreementTemplate.template_id == template_id)
    ).first()


def apply_metadata(
    session: Session, *, agreement_type: str, items: Iterable[TemplateInfo]
) -> AgreementTemplate | None:
    """Store Partner Center's templates of one type; the highest `versionRank` becomes current."""
    now = utcnow()
    listed = [item for item in items if item.agreement_type == agreement_type]
    if not listed:
        return None
    newest = max(listed, key=lambda item: item.version_rank)
    known = {
        t.template_id: t
        for t in session.exec(
            select(AgreementTemplate).where(AgreementTemplate.agreement_type == agreement_type)
        )
    }
    for item in listed:
        template = known.get(item.template_id)
        if template is None:
            template = AgreementTemplate(
                agreement_type=agreement_type,
                template_id=item.template_id,
                agreement_link=item.agreement_link,
                version_rank=item.version_rank,
                first_seen_at=now,
            )
            session.add(template)
            known[item.template_id] = template
        template.last_seen_at = now
        template.version_rank = item.version_rank
        template.agreement_link = item.agreement_link
    current = known[newest.template_id]
    changed = not current.current
    for template in known.values():
        template.current = template is current
    session.flush()
    if changed:
        record_event(
            session,
            actor=None,
            action="agreement.current_changed",
            subject_type="agreement_template",
            subject_id=current.template_id,
            organization_id=None,
            details={"agreement_type": agreement_type, "version_rank": current.version_rank},
        )
    return current


def customers_needing_reconfirmation(
    session: Session, *, actor: User, limit: int = 500
) -> list[tuple[Customer, Confirmation]]:
    """Customers confirmed only on an older version of the Customer Agreement (R12).

    They need a new acceptance before their next purchase, seat change or renewal change.
    """
    agreement_type = AgreementType.MICROSOFT_CUSTOMER_AGREEMENT.value
    current = current_template(session, agreement_type).template_id
    on_current = select(Confirmation.customer_id).where(
        Confirmation.agreement_type == agreement_type,
        Confirmation.template_id == current,
        Confirmation.state == ConfirmationState.ACTIVE,
    )
    visible = customers_query(actor).with_only_columns(col(Customer.id))
    rows = session.exec(
        select(Customer, Confirmation)
        .where(Confirmation.customer_id == Customer.id)
        .where(Confirmation.agreement_type == agreement_type)
        .where(Confirmation.state == ConfirmationState.ACTIVE)
        .where(Confirmation.template_id != current)
        .where(col(Customer.id).not_in(on_current))
        .where(col(Customer.id).in_(visible))
        .order_by(Customer.company_name)
        .limit(limit)
    )
    return [(customer, confirmation) for customer, confirmation in rows]


def all_templates(session: Session) -> list[AgreementTemplate]:
    """Every known template, newest rank first."""
    return list(
        session.exec(
            select(AgreementTemplate).order_by(
                AgreementTemplate.agreement_type, col(AgreementTemplate.version_rank).desc()
            )
        )
    )
