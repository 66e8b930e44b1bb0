"""The fake Partner Center's enhanced-flow attestations (contract §2.5): state and counters.

`FakeStore` owns one `AttestationBook` and shares its lock with it, so that finalizing (check
the attestation, store the confirmation, mark it finalized) is one atomic step. Times come from
the caller when given, which lets tests pin them.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from app.partner_center import enhanced_wire as wire
from app.partner_center.fake_models import (
    ATTESTATION_FINALIZED,
    ATTESTATION_LIVE,
    ATTESTATION_NOT_ACCEPTED,
    ATTESTATION_NOT_FOUND,
    FINALIZED,
    FakeAttestation,
    FakeContact,
    pc_error,
)


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


class AttestationBook:
    """Every attestation the fake created, by id, plus the counters `/_fake/stats` shows."""

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self.reset()

    def reset(self) -> None:
        """Forget every attestation and counter."""
        with self._lock:
            self._items: dict[str, FakeAttestation] = {}
            self._replies: dict[tuple[str, str], str] = {}
            self._created: dict[str, int] = {}
            self._accepted = 0
            self._finalized = 0

    def create(
        self,
        *,
        tenant_id: str,
        country: str,
        language: str,
        company_name: str,
        signatory: FakeContact,
        request_id: str | None,
        lapse_seconds: float,
        now: datetime | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """The create call after validation, atomically: `(status, body)`.

        A replayed `MS-RequestId` answers the attestation it created (201, whatever its state
        now); otherwise a customer with a live attestation gets 409.
        """
        when = _now(now)
        tenant = tenant_id.lower()
        with self._lock:
            if request_id:
                earlier = self._replies.get((tenant, request_id.lower()))
                if earlier is not None:
                    return 201, self._items[earlier].created_json(when)
            live = self.live_for(tenant, now=when)
            if live is not None:
                return 409, pc_error(
                    ATTESTATION_LIVE,
                    f"The customer already has a live attestation ({live.attestation_id}); it "
                    "must be accepted and finalized, or expire, before another one is created.",
                )
            attestation = FakeAttestation(
                attestation_id=str(uuid.uuid4()),
                tenant_id=tenant,
                country=country,
                language=language,
                company_name=company_name,
                signatory=signatory,
                created_at=when,
                expires_at=when + timedelta(seconds=lapse_seconds),
                request_id=request_id,
            )
            self._items[attestation.attestation_id] = attestation
            if request_id:
                self._replies[(tenant, request_id.lower())] = attestation.attestation_id
            self._created[tenant] = self._created.get(tenant, 0) + 1
            return 201, attestation.created_json(when)

    def get(self, attestation_id: str) -> FakeAttestation | None:
        """An attestation by id (ids compare case-insensitively), or None."""
        with self._lock:
            return self._items.get(attestation_id.strip().lower())

    def all(self) -> list[FakeAttestation]:
        """Every attestation, oldest first."""
        with self._lock:
            return sorted(self._items.values(), key=lambda a: a.created_at)

    def live_for(self, tenant_id: str, *, now: datetime | None = None) -> FakeAttestation | None:
        """The customer's live attestation (pending, or accepted and not finalized), if any."""
        when = _now(now)
        with self._lock:
            tenant = tenant_id.lower()
            return next(
                (a for a in self._items.values() if a.tenant_id == tenant and a.is_live(when)),
                None,
            )

    def accept(
        self, attestation_id: str, *, now: datetime | None = None
    ) -> tuple[str, FakeAttestation | None]:
        """The customer accepts: `("accepted" | "already" | "expired" | "unknown", attestation)`."""
        when = _now(now)
        with self._lock:
            found = self.get(attestation_id)
            if found is None:
                return "unknown", None
            state = found.state(when)
            if state == wire.EXPIRED:
                return "expired", found
            if state != wire.PENDING:
                return "already", found
            accepted = replace(found, accepted_at=when)
            self._items[found.attestation_id] = accepted
            self._accepted += 1
            return "accepted", accepted

    def expire(self, attestation_id: str, *, now: datetime | None = None) -> FakeAttestation | None:
        """Let a pending attestation's link lapse now (tests); None if unknown."""
        when = _now(now)
        with self._lock:
            found = self.get(attestation_id)
            if found is None or found.state(when) != wire.PENDING:
                return found
            lapsed = replace(found, expires_at=when)
            self._items[found.attestation_id] = lapsed
            return lapsed

    def finalize_refusal(
        self, tenant_id: str, attestation_id: str, *, now: datetime | None = None
    ) -> dict[str, Any] | None:
        """The 400 body refusing to finalize this attestation for this customer, or None."""
        when = _now(now)
        with self._lock:
            found = self.get(attestation_id)
            if found is None or found.tenant_id != tenant_id.lower():
                # Another customer's attestation reads as unknown: nothing leaks across tenants.
                return pc_error(
                    ATTESTATION_NOT_FOUND,
                    f"Attestation '{attestation_id}' was not found for this customer.",
                )
            state = found.state(when)
            if state == wire.ACCEPTED:
                return None
            if state == FINALIZED:
                return pc_error(
                    ATTESTATION_FINALIZED,
                    f"Attestation '{attestation_id}' has already been finalized.",
                )
            why = "has not accepted" if state == wire.PENDING else "did not accept"
            lapsed = "" if state == wire.PENDING else " before the link expired"
            return pc_error(
                ATTESTATION_NOT_ACCEPTED,
                f"The customer {why} the agreement of attestation '{attestation_id}'{lapsed}.",
            )

    def mark_finalized(self, attestation_id: str, *, now: datetime | None = None) -> None:
        """The finalize call used this attestation: it is no longer live."""
        when = _now(now)
        with self._lock:
            found = self.get(attestation_id)
            if found is None or found.finalized_at is not None:
                return
            self._items[found.attestation_id] = replace(found, finalized_at=when)
            self._finalized += 1

    def stats(self, *, now: datetime | None = None) -> dict[str, Any]:
        """The counters: `{"created", "accepted", "finalized", "expired", "byCustomer"}`.

        `expired` counts the attestations whose link lapsed unused; `byCustomer` maps a tenant
        to `{"created", "live"}`.
        """
        when = _now(now)
        with self._lock:
            items = list(self._items.values())
            return {
                "created": sum(self._created.values()),
                "accepted": self._accepted,
                "finalized": self._finalized,
                "expired": sum(1 for a in items if a.state(when) == wire.EXPIRED),
                "byCustomer": {
                    tenant: {
                        "created": count,
                        "live": sum(1 for a in items if a.tenant_id == tenant and a.is_live(when)),
                    }
                    for tenant, count in sorted(self._created.items())
                },
            }
