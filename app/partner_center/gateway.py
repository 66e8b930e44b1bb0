"""The one interface the forwarding service uses to confirm an acceptance upstream.

Services never know which upstream flow runs (`PARTNER_CENTER_FLOW`); they call
`Gateway.advance` with a `ConfirmationRequest` (and, in the enhanced flow, what they stored of
the attestation) and get a `Step`, or a `Transient` / `Rejected` / `AuthFailed` error from
`app.partner_center.errors`. The types live in `gateway_types` and are re-exported here.

- `LegacyGateway` (flow "legacy"): ask Partner Center what it holds, then send (contract §2.2).
- `EnhancedGateway` (flow "enhanced"): ask, create an attestation, wait for the customer to
  accept on Microsoft's page, finalize (contract §2.5, R18-R20).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date

from app.partner_center import enhanced_wire as wire
from app.partner_center.auth import TokenProvider
from app.partner_center.client import (
    AgreementDocument,
    AgreementMetadata,
    Contact,
    CustomerAgreement,
    PartnerCenterClient,
)
from app.partner_center.enhanced_wire import ACCEPTANCE_BASE_URL
from app.partner_center.errors import Rejected
from app.partner_center.gateway_types import (
    CUSTOMER_AGREEMENT,
    DUPLICATE_CODE,
    AttestationFields,
    ConfirmationOutcome,
    ConfirmationRequest,
    Gateway,
    OutcomeKind,
    PendingAttestation,
    Step,
    StepKind,
)
from app.partner_center.ratelimit import NoLimit, RateLimiter

__all__ = [
    "CUSTOMER_AGREEMENT",
    "DUPLICATE_CODE",
    "FLOWS",
    "AttestationFields",
    "ConfirmationOutcome",
    "ConfirmationRequest",
    "EnhancedGateway",
    "Gateway",
    "LegacyGateway",
    "OutcomeKind",
    "PendingAttestation",
    "Step",
    "StepKind",
    "build_gateway",
    "same_contact",
]

FLOWS = ("legacy", "enhanced")

_NON_DIGITS = re.compile(r"\D")
# Threads that run the direct-acceptance read beside the agreements read (`_GatewayBase._ask`);
# created only when needed, so a worker with n threads ends up with at most n of them.
ASK_THREADS = 64


def same_contact(a: Contact, b: Contact) -> bool:
    """Whether two contacts are the same person for Partner Center's duplicate rule.

    Names and email compare case-insensitively (trimmed); phones compare by digits only,
    so a missing phone equals an empty one.
    """

    def text(value: str) -> str:
        return value.strip().casefold()

    def digits(value: str | None) -> str:
        return _NON_DIGITS.sub("", value or "")

    return (
        text(a.first_name) == text(b.first_name)
        and text(a.last_name) == text(b.last_name)
        and text(a.email) == text(b.email)
        and digits(a.phone_number) == digits(b.phone_number)
    )


def _day(agreement: CustomerAgreement) -> date | None:
    return agreement.date_agreed.date() if agreement.date_agreed is not None else None


def _accepted(day: date | None) -> str:
    return f", accepted {day.isoformat()}" if day is not None else ""


def _duplicate(request: ConfirmationRequest) -> ConfirmationOutcome:
    """What a 600061 answer to our create or finalize call means: our confirmation is there."""
    return ConfirmationOutcome(
        kind=OutcomeKind.ALREADY_OURS,
        date_agreed=None,
        contact=request.contact,
        detail=(
            "Partner Center already holds a confirmation with the same contact "
            f"(error {DUPLICATE_CODE})."
        ),
    )


def _sent(
    request: ConfirmationRequest, created: CustomerAgreement, how: str = ""
) -> ConfirmationOutcome:
    day = _day(created) or request.date_agreed
    return ConfirmationOutcome(
        kind=OutcomeKind.SENT,
        date_agreed=day,
        contact=request.contact,
        detail=f"Partner Center accepted the confirmation{how}{_accepted(day)}.",
    )


class _GatewayBase:
    """What both flows share: the client, the reads of templates and documents, and close."""

    def __init__(self, client: PartnerCenterClient, *, parallel_reads: bool = True) -> None:
        self._client = client
        self._parallel_reads = parallel_reads
        self._reader: ThreadPoolExecutor | None = None
        self._reader_lock = threading.Lock()

    def current_templates(self, agreement_type: str) -> list[AgreementMetadata]:
        """The templates Partner Center lists for `agreement_type`."""
        return self._client.get_agreement_metadata(agreement_type)

    def agreement_document(
        self, template_id: str, country: str, language: str
    ) -> AgreementDocument:
        """The agreement text of a template for a country and language (contract §6)."""
        return self._client.get_agreement_document(template_id, country=country, language=language)

    def close(self) -> None:
        """Close the underlying client (and the threads of the parallel reads)."""
        with self._reader_lock:
            reader, self._reader = self._reader, None
        if reader is not None:
            reader.shutdown(wait=True)
        self._client.close()

    def _ask(self, request: ConfirmationRequest) -> ConfirmationOutcome | None:
        """Step one of both flows: what covers the version upstream already, if anything.

        A re-confirmation (`request.reconfirm`) is covered only by a confirmation with our own
        contact: another contact's entry or the customer's direct acceptance does not count.

        The two reads go out together (one upstream round trip instead of two) and their
        answers are weighed in the same order as ever: the agreements read first, its errors
        first; the direct-acceptance status only counts (and only its errors) when the
        agreements do not cover the version.
        """
        direct = self._direct_signed(request)
        template_id = request.template_id.strip().lower()
        held = [
            item
            for item in self._client.get_customer_agreements(
                request.customer_tenant_id, request.agreement_type
            )
            if item.template_id.lower() == template_id
        ]
        if held:
            outcome = _covered(request, held)
            if not (request.reconfirm and outcome.kind == OutcomeKind.UPSTREAM):
                return outcome
        if direct is not None and direct():
            return ConfirmationOutcome(
                kind=OutcomeKind.DIRECT,
                date_agreed=None,
                contact=None,
                detail=(
                    "The customer accepted the Microsoft Customer Agreement directly "
                    "in the Microsoft 365 admin center."
                ),
            )
        return None

    def _direct_signed(self, request: ConfirmationRequest) -> Callable[[], bool] | None:
        """The direct-acceptance status when this request needs it: a call that answers it.

        With parallel reads the read starts now and the call waits for its answer (or raises
        its error); otherwise the call makes the read.
        """
        if request.reconfirm or request.agreement_type != CUSTOMER_AGREEMENT:
            return None
        tenant = request.customer_tenant_id
        if not self._parallel_reads:
            return lambda: self._client.get_direct_signed_status(tenant)
        answer: Future[bool] = self._reads().submit(self._client.get_direct_signed_status, tenant)
        return answer.result

    def _reads(self) -> ThreadPoolExecutor:
        with self._reader_lock:
            if self._reader is None:
                self._reader = ThreadPoolExecutor(ASK_THREADS, thread_name_prefix="pc-read")
            return self._reader


class LegacyGateway(_GatewayBase):
    """The legacy attestation flow: ask Partner Center what it holds, then send if needed."""

    flow = "legacy"
    uses_attestations = False

    def confirm(self, request: ConfirmationRequest) -> ConfirmationOutcome:
        """Ask, then send; see the module docstring for the errors it lets through."""
        covered = self._ask(request)
        if covered is not None:
            return covered
        try:
            created = self._client.create_customer_agreement(
                request.customer_tenant_id,
                agreement_type=request.agreement_type,
                template_id=request.template_id,
                date_agreed=request.date_agreed,
                contact=request.contact,
                request_id=request.request_id,
            )
        except Rejected as exc:
            if exc.code != DUPLICATE_CODE:
                raise
            return _duplicate(request)
        return _sent(request, created)

    def advance(
        self,
        request: ConfirmationRequest,
        pending: PendingAttestation | None,
        fields: AttestationFields | None,
    ) -> Step:
        """The legacy flow has a single step: ask, then send."""
        return Step(StepKind.CONFIRMED, outcome=self.confirm(request))


class EnhancedGateway(_GatewayBase):
    """The enhanced attestation flow (contract §2.5, R18-R20): ask, create, wait, finalize.

    Each `advance` call makes one step and returns; the caller stores what it learnt (the
    attestation id first of all) and calls again later. Wire details come from `enhanced_wire`.
    """

    flow = "enhanced"
    uses_attestations = True

    def __init__(
        self,
        client: PartnerCenterClient,
        *,
        acceptance_base_url: str = ACCEPTANCE_BASE_URL,
        parallel_reads: bool = True,
    ) -> None:
        super().__init__(client, parallel_reads=parallel_reads)
        self._acceptance_base_url = acceptance_base_url

    def confirm(self, request: ConfirmationRequest) -> ConfirmationOutcome:
        """Not available in this flow: raises ValueError.

        A confirmation here needs the customer to act between two calls, which one call cannot
        wait for; `advance` is the enhanced flow's interface (check `uses_attestations`).
        Refusing before any upstream call keeps a mistaken caller from half-doing the flow.
        """
        raise ValueError(
            "confirm() is the legacy flow's one-call confirmation; the enhanced flow needs the "
            "customer to accept between calls: use advance()"
        )

    def advance(
        self,
        request: ConfirmationRequest,
        pending: PendingAttestation | None,
        fields: AttestationFields | None,
    ) -> Step:
        """One step of the enhanced flow for the record `request` describes.

        - Nothing created yet (`pending` None or "creating"): ask like the legacy flow, then
          create the attestation with the pending request id (a replay after a lost answer
          gets the same attestation back) → CONFIRMED if covered, else STARTED.
        - "pending" / "accepted": read the attestation → WAITING, LAPSED, or finalize with
          `request.request_id` → CONFIRMED (SENT, or ALREADY_OURS on 600061); a refused
          finalize is CONFIRMED when the ask then finds the version covered (an earlier
          finalize whose answer was lost).

        ValueError when `fields` is missing where a create may follow, or for a `pending` state
        this flow cannot continue from. Raises Transient, Rejected or AuthFailed from upstream.
        """
        if pending is None or pending.status == "creating":
            if fields is None:
                raise ValueError("the enhanced flow needs AttestationFields to create one")
            covered = self._ask(request)
            if covered is not None:
                return Step(StepKind.CONFIRMED, outcome=covered)
            return self._create(request, pending, fields)
        if pending.status not in ("pending", "accepted") or not pending.attestation_id:
            raise ValueError(
                f"cannot advance an attestation in state {pending.status!r} "
                f"(attestation id {pending.attestation_id!r})"
            )
        attestation_id = pending.attestation_id
        status = self._client.get_attestation_status(attestation_id)
        if status == wire.PENDING:
            return Step(
                StepKind.WAITING,
                attestation_id=attestation_id,
                detail="The customer has not accepted the agreement yet.",
            )
        if status == wire.EXPIRED:
            return Step(
                StepKind.LAPSED,
                attestation_id=attestation_id,
                detail="The acceptance link expired before the customer accepted it.",
            )
        try:
            created = self._client.finalize_customer_agreement(
                request.customer_tenant_id,
                attestation_id=attestation_id,
                agreement_type=request.agreement_type,
                template_id=request.template_id,
                date_agreed=request.date_agreed,
                contact=request.contact,
                request_id=request.request_id,
            )
        except Rejected as exc:
            if exc.code == DUPLICATE_CODE:
                return Step(StepKind.CONFIRMED, outcome=_duplicate(request))
            # An earlier finalize may have landed with its answer lost (a refused reply is not
            # replayed, and the status read still shows Accepted): if Partner Center now holds
            # the confirmation, the refusal ("already finalized") is that earlier success.
            covered = self._ask(request)
            if covered is None:
                raise
            return Step(StepKind.CONFIRMED, outcome=covered)
        how = f" for attestation {attestation_id}"
        return Step(StepKind.CONFIRMED, outcome=_sent(request, created, how))

    def _create(
        self,
        request: ConfirmationRequest,
        pending: PendingAttestation | None,
        fields: AttestationFields,
    ) -> Step:
        created = self._client.create_attestation(
            tenant_id=request.customer_tenant_id,
            country=fields.country,
            language=fields.language,
            company_name=fields.company_name,
            contact=request.contact,
            request_id=pending.request_id if pending is not None else request.request_id,
        )
        url = wire.acceptance_url(self._acceptance_base_url, created.attestation_id)
        until = ""
        if created.expires_at is not None:
            until = f" before {created.expires_at.strftime('%Y-%m-%d %H:%M')} UTC"
        return Step(
            StepKind.STARTED,
            attestation_id=created.attestation_id,
            acceptance_url=url,
            expires_at=created.expires_at,
            detail=f"Waiting for the customer to accept the agreement at the link{until}.",
        )


def _covered(request: ConfirmationRequest, held: list[CustomerAgreement]) -> ConfirmationOutcome:
    # `held` is oldest first. Any entry with our contact proves our confirmation is there,
    # even if someone confirmed again later with another contact.
    ours = [item for item in held if item.contact and same_contact(item.contact, request.contact)]
    if ours:
        item = ours[-1]
        day = _day(item)
        return ConfirmationOutcome(
            kind=OutcomeKind.ALREADY_OURS,
            date_agreed=day,
            contact=item.contact,
            detail=(
                "Partner Center already holds a confirmation of this agreement version "
                f"with the same contact{_accepted(day)}."
            ),
        )
    item = held[-1]
    day = _day(item)
    who = ""
    if item.contact is not None:
        name = f"{item.contact.first_name} {item.contact.last_name}".strip()
        who = f" from a different contact ({name})" if name else " from a different contact"
    return ConfirmationOutcome(
        kind=OutcomeKind.UPSTREAM,
        date_agreed=day,
        contact=item.contact,
        detail=(
            f"Partner Center already holds a confirmation of this agreement version{who}"
            f"{_accepted(day)}."
        ),
    )


def build_gateway(
    *,
    base_url: str,
    flow: str,
    token_provider: TokenProvider,
    timeout: float,
    rate_limiter: RateLimiter | None = None,
    acceptance_base_url: str | None = None,
) -> Gateway:
    """The gateway for `flow` ("legacy" or "enhanced"; ValueError otherwise).

    `rate_limiter` paces every HTTP request of its client (none by default). Without a cap the
    ask step's two reads go out together (latency is what limits a worker then); under a cap
    they go one by one, so that a version the first read finds covered costs no second request
    (requests are what limit it then).
    `acceptance_base_url` is where the enhanced flow's acceptance links point (Microsoft's page
    by default; the fake's `<fake>/mca/` in development); the legacy flow ignores it.
    """
    if flow not in FLOWS:
        raise ValueError(f"unsupported Partner Center flow {flow!r}; available: {', '.join(FLOWS)}")
    client = PartnerCenterClient(
        base_url, token_provider, timeout=timeout, rate_limiter=rate_limiter
    )
    parallel_reads = rate_limiter is None or isinstance(rate_limiter, NoLimit)
    if flow == "enhanced":
        return EnhancedGateway(
            client,
            acceptance_base_url=acceptance_base_url or ACCEPTANCE_BASE_URL,
            parallel_reads=parallel_reads,
        )
    return LegacyGateway(client, parallel_reads=parallel_reads)
