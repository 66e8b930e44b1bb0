"""Shared helpers of the enhanced-flow tests (test_enhanced*.py)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import httpx

from app.partner_center.client import Contact, CustomerAgreement, PartnerCenterClient
from app.partner_center.fake_models import CUSTOMER_AGREEMENT, CUSTOMER_TEMPLATE_ID
from app.partner_center.fake_store import FakeStore
from app.partner_center.gateway import (
    AttestationFields,
    ConfirmationRequest,
    PendingAttestation,
    Step,
    StepKind,
)

FIELDS = AttestationFields(country="KR", language="ko-KR", company_name="Contoso Korea")


def make_request(tenant: str, contact: Contact) -> ConfirmationRequest:
    """A confirmation request of the current Customer Agreement with a fresh request id."""
    return ConfirmationRequest(
        customer_tenant_id=tenant,
        agreement_type=CUSTOMER_AGREEMENT,
        template_id=CUSTOMER_TEMPLATE_ID,
        date_agreed=date(2024, 5, 1),
        contact=contact,
        request_id=str(uuid.uuid4()),
    )


def waiting_on(step: Step, request: ConfirmationRequest) -> PendingAttestation:
    """What the portal stores after a STARTED step."""
    assert step.kind is StepKind.STARTED
    assert step.attestation_id
    return PendingAttestation(request.request_id, step.attestation_id, "pending")


def accept(http: httpx.Client, attestation_id: str) -> None:
    """Play the customer through the fake's test route."""
    answer = http.post(f"/_fake/attestations/{attestation_id}/accept")
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "Accepted"


def attestation_stats(store: FakeStore) -> dict[str, Any]:
    """The `attestations` part of `/_fake/stats`."""
    stats: dict[str, Any] = store.stats()["attestations"]
    return stats


def finalize(
    client: PartnerCenterClient, tenant: str, attestation_id: str, request_id: str | None = None
) -> CustomerAgreement:
    """Finalize with the usual body and the support contact."""
    return client.finalize_customer_agreement(
        tenant,
        attestation_id=attestation_id,
        agreement_type=CUSTOMER_AGREEMENT,
        template_id=CUSTOMER_TEMPLATE_ID,
        date_agreed=date(2024, 5, 1),
        contact=Contact("Tania", "Carr", "tania.carr@example.com"),
        request_id=request_id or str(uuid.uuid4()),
    )
