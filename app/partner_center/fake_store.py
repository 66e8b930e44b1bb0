"""In-memory state of the fake Partner Center: templates, confirmations, attestations, faults
and counters.

One lock guards everything, so the create call (idempotency check, template check, duplicate
check, insert, counters) and the finalize call (attestation check, the same create, marking the
attestation finalized) are atomic even under the threaded development server. Tests may call
these methods directly to seed history or read the counters; `attestations` is the
enhanced flow's part (`fake_attestations.AttestationBook`).
"""

from __future__ import annotations

import random
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from app.partner_center.fake_attestations import AttestationBook
from app.partner_center.fake_models import (
    CLOSED_TYPES,
    CLOUD_AGREEMENT,
    CLOUD_LINK,
    CLOUD_TEMPLATE_ID,
    CUSTOMER_AGREEMENT,
    CUSTOMER_LINK,
    CUSTOMER_TEMPLATE_ID,
    DUPLICATE_BODY,
    FAKE_PARTNER_USER_ID,
    INVALID_PROPERTY,
    FakeContact,
    FakeTemplate,
    FaultDecision,
    FaultSettings,
    RequestRecord,
    StoredConfirmation,
    aware_utc,
    created_body,
    pc_error,
)


def _initial_templates() -> list[FakeTemplate]:
    return [
        FakeTemplate(CUSTOMER_TEMPLATE_ID, CUSTOMER_AGREEMENT, CUSTOMER_LINK, 0),
        FakeTemplate(CLOUD_TEMPLATE_ID, CLOUD_AGREEMENT, CLOUD_LINK, 0),
    ]


class FakeStore:
    """Thread-safe in-memory state of the fake Partner Center."""

    def __init__(self, faults: Mapping[str, Any] | None = None) -> None:
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self.attestations = AttestationBook(self._lock)
        self.reset()
        if faults:
            self.set_faults(faults)

    # -- lifecycle -------------------------------------------------------------------------
    def reset(self) -> None:
        """Back to the initial state: templates, no confirmations or attestations, no counters,
        no faults."""
        with self._lock:
            self.attestations.reset()
            self._templates = _initial_templates()
            self._confirmations: list[StoredConfirmation] = []
            self._replies: dict[tuple[str, str], dict[str, Any]] = {}
            self._direct_signed: dict[str, bool] = {}
            self._posts: dict[str, int] = {}
            self._accepted: dict[str, int] = {}
            self._posts_total = 0
            self._injected: dict[str, int] = {}
            self._faults = FaultSettings()
            self._rng = random.Random()
            self._requests: deque[RequestRecord] = deque(maxlen=500)
            self._denied_tokens: dict[str, int] = {}

    def sleep(self, seconds: float) -> None:
        """Sleep for injected latency/hangs; `wake_sleepers` cuts it short on shutdown."""
        if seconds > 0:
            self._wake.wait(seconds)

    def wake_sleepers(self) -> None:
        """End every injected sleep now, and skip later ones (used when the server stops)."""
        self._wake.set()

    def rearm_sleepers(self) -> None:
        """Let injected sleeps sleep again (used when a server starts on this store)."""
        self._wake.clear()

    # -- tokens -----------------------------------------------------------------------------
    def deny_token(self, token: str, code: int = 800001) -> None:
        """Answer 401 with `code` to this bearer token (900421 simulates a missing MFA claim)."""
        with self._lock:
            self._denied_tokens[token] = code

    def token_denial(self, token: str) -> int | None:
        """The error code a denied token gets, or None if the token is accepted."""
        with self._lock:
            return self._denied_tokens.get(token)

    # -- faults -----------------------------------------------------------------------------
    def faults(self) -> FaultSettings:
        """The current fault settings."""
        with self._lock:
            return self._faults

    def set_faults(self, changes: Mapping[str, Any]) -> FaultSettings:
        """Apply some fault settings (others keep their value); ValueError on bad input."""
        with self._lock:
            self._faults = self._faults.updated(changes)
            if "seed" in changes:
                self._rng = random.Random(self._faults.seed)
            return self._faults

    def draw(self, *, create_post: bool) -> FaultDecision:
        """Decide the faults for one /v1 request."""
        with self._lock:
            f = self._faults
            action: str | None = None
            status = 500
            if f.timeoutRate > 0 and self._rng.random() < f.timeoutRate:
                action = "timeout"
            elif f.error5xxRate > 0 and self._rng.random() < f.error5xxRate:
                action, status = "error5xx", self._rng.choice((500, 502, 503))
            elif f.throttleRate > 0 and self._rng.random() < f.throttleRate:
                action = "throttle"
            hang = (
                action is None
                and create_post
                and f.hangAfterCommitRate > 0
                and self._rng.random() < f.hangAfterCommitRate
            )
            for name in (action, "hangAfterCommit" if hang else None):
                if name is not None:
                    self._injected[name] = self._injected.get(name, 0) + 1
            return FaultDecision(
                latency=f.latencyMs / 1000.0,
                action=action,
                error_status=status,
                retry_after=f.retryAfterSeconds,
                hang_after_commit=hang,
                hang_seconds=f.hangSeconds,
            )

    # -- templates ---------------------------------------------------------------------------
    def templates(self, agreement_type: str = "*") -> list[FakeTemplate]:
        """Current templates of a type (`*`: every type), as `GET /v1/agreements` lists them."""
        with self._lock:
            return [
                t
                for t in self._templates
                if t.current
                and (agreement_type == "*" or t.agreement_type.lower() == agreement_type.lower())
            ]

    def find_template(self, template_id: str) -> FakeTemplate | None:
        """Any known template (current or retired) by id."""
        with self._lock:
            wanted = template_id.strip().lower()
            return next((t for t in self._templates if t.template_id == wanted), None)

    def publish_template(
        self, agreement_type: str, template_id: str, agreement_link: str, version_rank: int = 0
    ) -> FakeTemplate:
        """Make a new template current for its type; the previous current one is retired."""
        with self._lock:
            template_id = template_id.strip().lower()
            if self.find_template(template_id) is not None:
                raise ValueError(f"template {template_id} already exists")
            self._templates = [
                replace(t, current=False) if t.agreement_type == agreement_type else t
                for t in self._templates
            ]
            new = FakeTemplate(template_id, agreement_type, agreement_link, version_rank)
            self._templates.append(new)
            return new

    # -- confirmations -------------------------------------------------------------------------
    def add_confirmation(
        self,
        tenant_id: str,
        *,
        contact: FakeContact,
        date_agreed: datetime,
        template_id: str = CUSTOMER_TEMPLATE_ID,
        agreement_type: str | None = None,
        user_id: str | None = FAKE_PARTNER_USER_ID,
        key_style: str = "camel",
        date_text: str | None = None,
    ) -> StoredConfirmation:
        """Seed upstream history without validation or counters (someone else confirmed)."""
        with self._lock:
            template = self.find_template(template_id)
            kind = agreement_type or (template.agreement_type if template else CUSTOMER_AGREEMENT)
            stored = StoredConfirmation(
                tenant_id=tenant_id.lower(),
                template_id=template_id.lower(),
                agreement_type=kind,
                date_agreed=aware_utc(date_agreed),
                contact=contact,
                agreement_link=template.agreement_link if template else None,
                user_id=user_id,
                key_style=key_style,
                date_text=date_text,
            )
            self._confirmations.append(stored)
            return stored

    def confirmations(self, tenant_id: str, agreement_type: str = "*") -> list[StoredConfirmation]:
        """A customer's confirmations in insertion order, optionally of one type."""
        with self._lock:
            tenant = tenant_id.lower()
            return [
                c
                for c in self._confirmations
                if c.tenant_id == tenant
                and (agreement_type == "*" or c.agreement_type.lower() == agreement_type.lower())
            ]

    def replay(self, tenant_id: str, request_id: str | None) -> dict[str, Any] | None:
        """The 201 body of an earlier create with this `MS-RequestId`, if any."""
        if not request_id:
            return None
        with self._lock:
            return self._replies.get((tenant_id.lower(), request_id.lower()))

    def create(
        self,
        tenant_id: str,
        *,
        request_id: str | None,
        contact: FakeContact,
        template_id: str,
        date_agreed: datetime,
    ) -> tuple[int, dict[str, Any]]:
        """The create call's template/duplicate checks and insert, atomically: (status, body)."""
        tenant = tenant_id.lower()
        with self._lock:
            earlier = self.replay(tenant, request_id)
            if earlier is not None:
                return 201, earlier
            template = self.find_template(template_id)
            if template is None:
                return 400, pc_error(
                    INVALID_PROPERTY,
                    f"Template ID '{template_id}' is not a valid agreement template.",
                )
            if template.agreement_type in CLOSED_TYPES:
                retired = f"Microsoft Cloud Agreement Template ID '{template_id}'"
                return 400, pc_error(INVALID_PROPERTY, f"{retired} is no longer supported.")
            if not template.current:
                return 400, pc_error(
                    INVALID_PROPERTY,
                    f"Template ID '{template_id}' is no longer supported; use the current "
                    f"{template.agreement_type} template.",
                )
            for existing in self._confirmations:
                if (
                    existing.tenant_id == tenant
                    and existing.template_id == template.template_id
                    and existing.contact.identity() == contact.identity()
                ):
                    return self._faults.duplicateStatus, dict(DUPLICATE_BODY)
            stored = StoredConfirmation(
                tenant_id=tenant,
                template_id=template.template_id,
                # Partner Center derives the type from the template (contract §5, Java#86).
                agreement_type=template.agreement_type,
                date_agreed=aware_utc(date_agreed),
                contact=contact,
                agreement_link=template.agreement_link,
                request_id=request_id,
            )
            self._confirmations.append(stored)
            self._accepted[tenant] = self._accepted.get(tenant, 0) + 1
            body = created_body(stored)
            if request_id:
                self._replies[(tenant, request_id.lower())] = body
            return 201, body

    # -- enhanced flow (contract §2.5) ----------------------------------------------------------
    def finalize(
        self,
        tenant_id: str,
        *,
        attestation_id: str,
        request_id: str | None,
        contact: FakeContact,
        template_id: str,
        date_agreed: datetime,
    ) -> tuple[int, dict[str, Any]]:
        """The create call carrying an attestation id, atomically: `(status, body)`.

        Succeeds like `create` only for this customer's accepted attestation, which is then
        finalized; a replayed `MS-RequestId` answers the first reply. A 600061 duplicate also
        uses the attestation up: the customer's acceptance is on record either way, and keeping
        it live would refuse every later attestation for the customer (upstream behaviour
        unconfirmed).
        """
        tenant = tenant_id.lower()
        with self._lock:
            earlier = self.replay(tenant, request_id)
            if earlier is not None:
                return 201, earlier
            refusal = self.attestations.finalize_refusal(tenant, attestation_id)
            if refusal is not None:
                return 400, refusal
            status, body = self.create(
                tenant,
                request_id=request_id,
                contact=contact,
                template_id=template_id,
                date_agreed=date_agreed,
            )
            if status == 201 or body.get("code") == DUPLICATE_BODY["code"]:
                self.attestations.mark_finalized(attestation_id)
            return status, body

    # -- direct acceptance -----------------------------------------------------------------------
    def set_direct_signed(self, tenant_id: str, is_signed: bool = True) -> None:
        """Record whether the customer accepted in the Microsoft 365 admin center."""
        with self._lock:
            self._direct_signed[tenant_id.lower()] = is_signed

    def direct_signed(self, tenant_id: str) -> bool:
        """The customer's direct-acceptance status (False unless set)."""
        with self._lock:
            return self._direct_signed.get(tenant_id.lower(), False)

    # -- counters and request log ----------------------------------------------------------------
    def count_post(self, tenant_id: str | None) -> None:
        """Count one POST received on the create route (before any check)."""
        with self._lock:
            self._posts_total += 1
            if tenant_id is not None:
                tenant = tenant_id.lower()
                self._posts[tenant] = self._posts.get(tenant, 0) + 1

    def stats(self) -> dict[str, Any]:
        """`{"posts", "accepted", "byCustomer": {tenant: {"posts", "accepted"}}, "faults",
        "attestations"}`.

        `faults` counts the faults injected so far, by kind (timeout, error5xx, throttle,
        hangAfterCommit), so fault tests can report what they went through. `attestations`
        counts the enhanced flow's: `{"created", "accepted", "finalized", "expired",
        "byCustomer": {tenant: {"created", "live"}}}`.
        """
        with self._lock:
            tenants = sorted(set(self._posts) | set(self._accepted))
            return {
                "posts": self._posts_total,
                "accepted": sum(self._accepted.values()),
                "byCustomer": {
                    t: {"posts": self._posts.get(t, 0), "accepted": self._accepted.get(t, 0)}
                    for t in tenants
                },
                "faults": dict(sorted(self._injected.items())),
                "attestations": self.attestations.stats(),
            }

    def record_request(self, record: RequestRecord) -> None:
        """Remember a /v1 request (the newest 500 are kept)."""
        with self._lock:
            self._requests.append(record)

    def requests(self) -> list[RequestRecord]:
        """The remembered /v1 requests, oldest first."""
        with self._lock:
            return list(self._requests)
