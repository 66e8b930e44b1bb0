"""Every table module, imported here so SQLModel.metadata (and Alembic) knows all tables."""

from app.models.acceptance import (
    AcceptanceRecord,
    AgreementType,
    Flag,
    RecordStatus,
    Source,
)
from app.models.agreement import AgreementTemplate
from app.models.attestation import Attestation, AttestationStatus
from app.models.audit import AuditEvent
from app.models.base import metadata, utcnow
from app.models.customer import Cloud, Customer, CustomerReseller
from app.models.evidence import EvidenceFile
from app.models.imports import ImportJob
from app.models.ledger import Confirmation, ConfirmationSource, ConfirmationState
from app.models.operations import IdempotencyKey, UpstreamPause
from app.models.org import ApiToken, Organization, OrgKind, Role, User
from app.models.requests import AcceptanceRequest
from app.models.secrets import StoredSecret

__all__ = [
    "AcceptanceRecord",
    "AcceptanceRequest",
    "AgreementTemplate",
    "AgreementType",
    "Attestation",
    "AttestationStatus",
    "ApiToken",
    "AuditEvent",
    "Cloud",
    "Confirmation",
    "ConfirmationSource",
    "ConfirmationState",
    "Customer",
    "CustomerReseller",
    "EvidenceFile",
    "Flag",
    "IdempotencyKey",
    "ImportJob",
    "OrgKind",
    "Organization",
    "RecordStatus",
    "Role",
    "Source",
    "StoredSecret",
    "UpstreamPause",
    "User",
    "metadata",
    "utcnow",
]
