"""Evidence files on the provider's side (R3): every record's files, to open while reviewing and
later (the provider keeps the proof of acceptance it confirms to Microsoft)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.db import get_session
from app.models import AcceptanceRecord
from app.security.permissions import actor
from app.security.scoping import get_record
from app.services import evidence as evidence_service
from app.web.reseller.evidence import EvidencePanel, download_response, panel_for
from app.web.review.views import bp, provider_only


@bp.context_processor
def _evidence_panel() -> dict[str, Callable[[AcceptanceRecord], EvidencePanel]]:
    # The record page's template asks for its panel (`evidence_panel(record)`); the provider
    # opens files and adds none.
    def build(record: AcceptanceRecord) -> EvidencePanel:
        return panel_for(
            get_session(), actor(), record, download_endpoint="review.download_evidence"
        )

    return {"evidence_panel": build}


@bp.get("/acceptances/<public_id>/evidence/<file_id>")
@provider_only
def download_evidence(public_id: str, file_id: str) -> Any:
    """Download a file of any record."""
    db, user = get_session(), actor()
    record = get_record(db, user, public_id)
    return download_response(evidence_service.get_file(db, record, file_id))
