"""The one interface the forwarding service uses to confirm an acceptance upstream.

Services never know which upstream flow runs (`PARTNER_CENTER_FLOW`); they call
`Gateway.advance` with a `ConfirmationRequest` (and, in the enhanced flow, what they stored of
the attestation) and get a `Step`, or a `Transient` / `Rejected` / `AuthFailed` error from
`app.partner_center.errors`. The types live in `gateway_types` and are re-exported here;
what Partner Center's answers mean is in `gateway_outcomes`, the threads of the ask step's
parallel reads in `parallel_reads`.

- `LegacyGateway` (flow "legacy"): ask Partner Center what it holds, then send (contract §2.2).
- `EnhancedGateway` (flow "enhanced"): ask, create an attestation, wait for the customer to
  accept on Microsoft's page, finalize (contract §2.5, R18-R20).
"""

from __future__ import annotations

from collections.abc import Callable

from app.partner_center import enhanced_wire as wire
from app.partner_center.auth import TokenProvider
from app.partner_center.client import AgreementDocument, AgreementMetadata, PartnerCenterClient
from app.partner_center.enhanced_wire import ACCEPTANCE_BASE_URL
from app.partner_center.errors import Rejected
from app.partner_center.gateway_outcomes import covered_outcome, duplicate_outcome, sent_outcome
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
from app.partner_center.parallel_reads import ParallelReads
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
]

FLOWS = ("legacy", "enhanced")


class _GatewayBase:
    """What both flows share: the client, the reads of templates and documents, and close."""

    def __init__(self, client: PartnerCenterClient, *, parallel_reads: bool = True) -> None:
        self._client = client
        self._parallel_reads = parallel_reads
        self._reads = ParallelReads()

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
        self._reads.close()
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
            outcome = covered_outcome(request, held)
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
        return self._reads.start(self._client.get_direct_signed_status, tenant)


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
            return duplicate_outcome(request)
        return sent_outcome(request, created)

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
                return Step(StepKind.CONFIRMED, outcome=duplicate_outcome(request))
            # An earlier finalize may have landed with its answer lost (a refused reply is not
            # replayed, and the status read still shows Accepted): if Partner Center now holds
            # the confirmation, the refusal ("already finalized") is that earlier success.
            covered = self._ask(request)
            if covered is None:
                raise
            return Step(StepKind.CONFIRMED, outcome=covered)
        how = f" for attestation {attestation_id}"
        return Step(StepKind.CONFIRMED, outcome=sent_outcome(request, created, how))

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
