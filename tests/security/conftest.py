"""Fixtures of the security suites: cached sign-ins and a stand-in for the task publisher."""

from __future__ import annotations

import pytest

from tests.security.helpers import SignIns


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

    monkeypatch.setattr("app.web.review.views.enqueue_forwarding", publish)
    monkeypatch.setattr("app.web.api.views.enqueue_forwarding", publish)
    return seen
