"""Audit event names (`acceptance.approved`, ...) as words on a record's history."""

from __future__ import annotations

from flask_babel import gettext

from app.markers import N_

# The events a record's history shows (English as the action's own words, which tests and
# people know); others fall back to those words untranslated.
EVENT_LABELS = {
    "acceptance.submitted": N_("submitted"),
    "acceptance.resubmitted": N_("resubmitted"),
    "acceptance.approved": N_("approved"),
    "acceptance.rejected": N_("rejected"),
    "acceptance.returned": N_("returned"),
    "acceptance.retried": N_("retried"),
    "acceptance.withdrawn": N_("withdrawn"),
    "acceptance.reissued": N_("reissued"),
    "acceptance.revoked": N_("revoked"),
    "acceptance.evidence_added": N_("evidence added"),
    "acceptance.evidence_removed": N_("evidence removed"),
    "forwarding.forwarding": N_("forwarding: forwarding"),
    "forwarding.awaiting_customer": N_("forwarding: awaiting customer"),
    "forwarding.expired": N_("forwarding: expired"),
    "forwarding.confirmed": N_("forwarding: confirmed"),
    "forwarding.duplicate": N_("forwarding: duplicate"),
    "forwarding.failed": N_("forwarding: failed"),
    "forwarding.retry_scheduled": N_("forwarding: retry scheduled"),
    "forwarding.lease_lapsed": N_("forwarding: lease lapsed"),
    "forwarding.approved": N_("forwarding: approved"),
}


# A customer's timeline mixes kinds of events, so there each says what it is about.
QUALIFIED_LABELS = {
    "acceptance.submitted": N_("acceptance: submitted"),
    "acceptance.resubmitted": N_("acceptance: resubmitted"),
    "acceptance.approved": N_("acceptance: approved"),
    "acceptance.rejected": N_("acceptance: rejected"),
    "acceptance.returned": N_("acceptance: returned"),
    "acceptance.retried": N_("acceptance: retried"),
    "acceptance.withdrawn": N_("acceptance: withdrawn"),
    "acceptance.reissued": N_("acceptance: reissued"),
    "acceptance.revoked": N_("acceptance: revoked"),
    "acceptance.evidence_added": N_("acceptance: evidence added"),
    "acceptance.evidence_removed": N_("acceptance: evidence removed"),
    "customer.created": N_("customer: created"),
    "customer.linked": N_("customer: linked"),
    "customer.withdrawn": N_("customer: withdrawn"),
    "confirmation.recorded": N_("confirmation: recorded"),
    "confirmation.active": N_("confirmation: active"),
    "confirmation.superseded": N_("confirmation: superseded"),
    "confirmation.revoked": N_("confirmation: revoked"),
    "attestation.creating": N_("attestation: creating"),
    "attestation.pending": N_("attestation: pending"),
    "attestation.accepted": N_("attestation: accepted"),
    "attestation.finalized": N_("attestation: finalized"),
    "attestation.expired": N_("attestation: expired"),
    "attestation.cancelled": N_("attestation: cancelled"),
    "attestation.failed": N_("attestation: failed"),
    "acceptance_request.created": N_("acceptance request: created"),
    "acceptance_request.closed": N_("acceptance request: closed"),
}


def event_label(action: str, *, qualified: bool = False) -> str:
    """The words for an audit action in the request's language.

    `qualified` names what the event is about ("customer: withdrawn"), for timelines that mix
    records, customers and confirmations.
    """
    if qualified:
        label = QUALIFIED_LABELS.get(action) or EVENT_LABELS.get(action)
        if label is not None:
            return str(gettext(label))
        return action.replace(".", ": ").replace("_", " ")
    label = EVENT_LABELS.get(action)
    if label is not None:
        return str(gettext(label))
    return (
        action.replace("acceptance.", "").replace("forwarding.", "forwarding: ").replace("_", " ")
    )


# Codes pages show as words through `| tr` (confirmation states and sources); marked here so
# `make translations` collects them. English keeps the code itself.
CODE_WORDS = (
    N_("active"),
    N_("superseded"),
    N_("revoked"),
    N_("sent"),
    N_("upstream"),
    N_("direct"),
)
