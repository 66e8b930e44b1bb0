"""Fixtures of the security suites: cached sign-ins and stand-ins for the task publisher and
for Partner Center."""

from __future__ import annotations

from typing import Any

import pytest

from app.partner_center.responses import AgreementDocument
from tests.security.helpers import SignIns

AGREEMENT_URL = "https://agreements.example/mca"


@pytest.fixture(scope="session")
def sign_ins() -> SignIns:
    """Signed-in session cookies per actor, reused across tests (one argon2 check each)."""
    return SignIns()


@pytest.fixture(autouse=True)
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The record ids the web and the API hand to the forwarding worker."""
    seen: list[int] = []

    def publish(record_ids: list[int], *, countdown: float | None = None) -> int:
        seen.extend(record_ids)
        return len(record_ids)

    for module in (
        "app.web.review.views",
        "app.web.review.waiting",
        "app.web.reseller.loop",
        "app.web.api.views",
    ):
        monkeypatch.setattr(f"{module}.enqueue_forwarding", publish)
    return seen


class DocumentGateway:
    """Partner Center as the agreement page sees it: the document is at a link."""

    def agreement_document(self, template_id: str, country: str, language: str) -> Any:
        return AgreementDocument(content_type="application/json", body=None, url=AGREEMENT_URL)


@pytest.fixture(autouse=True)
def partner_center(monkeypatch: pytest.MonkeyPatch) -> DocumentGateway:
    """No network in these suites: the process's gateway is a stand-in."""
    gateway = DocumentGateway()
    monkeypatch.setattr("app.partner_center.runtime.gateway", lambda: gateway)
    return gateway
