"""Forwarding one record end to end: claim, ask then send, record (DESIGN.md, "Forwarding").

This is the one service that owns its transactions: the algorithm needs the upstream call to
happen with no transaction open, between two short ones.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session

from app.db import session_scope
from app.models import utcnow
from app.partner_center.errors import AuthFailed, Rejected, Transient
from app.partner_center.gateway import Gateway, Step, StepKind
from app.services.forwarding.attestations import record_lapsed, record_started, record_waiting
from app.services.forwarding.claim import claim
from app.services.forwarding.outcome import record_outcome, record_rejection, record_retry
from app.services.forwarding.state import Claim, ClaimKind, RecordResult

log = logging.getLogger(__name__)
RECORD_STEP_ATTEMPTS = 3


@dataclass(frozen=True)
class ForwardingPolicy:
    """Lease length and retry schedule; from the settings."""

    lease_seconds: float = 120.0
    retry_base_seconds: float = 5.0
    retry_cap_seconds: float = 900.0
    max_attempts: int = 12
    min_retry_seconds: float = 1.0
    poll_base_seconds: float = 60.0  # enhanced flow: first look at a new attestation (R20)
    poll_cap_seconds: float = 3600.0
    default_country: str = "KR"

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based): full jitter.

        A `Retry-After` from Partner Center is a floor, never shortened by the jitter.
        """
        ceiling = min(self.retry_cap_seconds, self.retry_base_seconds * 2 ** max(attempt - 1, 0))
        delay = max(self.min_retry_seconds, random.uniform(0, ceiling))
        return max(delay, retry_after or 0.0)


@dataclass(frozen=True)
class ForwardResult:
    """What happened to one record; `wake` lists records to enqueue now, after the commit."""

    outcome: str
    status: str | None = None
    retry_at: datetime | None = None
    wake: list[int] = field(default_factory=list)


def forward_record(
    record_id: int,
    *,
    engine: Engine,
    gateway: Gateway,
    policy: ForwardingPolicy,
    owner: str,
    clock: Callable[[], datetime] = utcnow,
) -> ForwardResult:
    """Forward one record if it is due; safe to call twice or concurrently for the same id."""
    try:
        with session_scope(engine) as session:
            result = claim(
                session,
                record_id=record_id,
                now=clock(),
                owner=owner,
                lease_seconds=policy.lease_seconds,
                uses_attestations=gateway.uses_attestations,
                default_country=policy.default_country,
            )
    except StaleDataError:
        # Someone changed the record between our read and our write: not ours to send now.
        return ForwardResult(ClaimKind.SKIPPED.value)
    if result.kind != ClaimKind.CLAIMED or result.claim is None:
        return ForwardResult(
            result.kind.value, status=result.status, retry_at=result.retry_at, wake=result.wake
        )
    held = result.claim
    try:
        step = gateway.advance(held.request, held.pending, held.fields)
    except Rejected as exc:
        code, message = exc.code, exc.message
        done = _recorded(
            engine,
            lambda session: record_rejection(
                session, claim_=held, code=code, message=message, now=clock()
            ),
        )
        return ForwardResult("failed", status=done.status, wake=done.wake)
    except Transient as exc:
        pause = None
        if exc.status == 429:
            pause = clock() + timedelta(seconds=policy.backoff(1, exc.retry_after))
        # Only an answer to the write itself frees its request id: a failed read says nothing
        # about an earlier write that got no answer (its retry must replay the same id).
        write_answered = exc.answered and exc.write
        return _retry(
            engine,
            held,
            policy,
            clock,
            exc.code,
            exc.message,
            write_answered,
            exc.retry_after,
            pause,
        )
    except AuthFailed as exc:
        # Credentials are the provider's to fix; keep trying with backoff, visibly.
        return _retry(engine, held, policy, clock, "auth_failed", str(exc), False, None, None)
    except Exception as exc:
        # A defect must not lose the record: back off and eventually fail it, visibly.
        log.exception("unexpected error forwarding record %s", record_id)
        return _retry(
            engine, held, policy, clock, "internal_error", type(exc).__name__, False, None, None
        )
    return _record_step(engine, held, step, policy, clock)


def _record_step(
    engine: Engine,
    held: Claim,
    step: Step,
    policy: ForwardingPolicy,
    clock: Callable[[], datetime],
) -> ForwardResult:
    """Step 3 for what the gateway answered."""
    if step.kind == StepKind.STARTED:
        first = timedelta(seconds=policy.poll_base_seconds)
        done = _recorded(
            engine,
            lambda s: record_started(s, claim_=held, step=step, now=clock(), first_poll=first),
        )
    elif step.kind == StepKind.WAITING:
        done = _recorded(
            engine,
            lambda s: record_waiting(
                s,
                claim_=held,
                now=clock(),
                base=policy.poll_base_seconds,
                cap=policy.poll_cap_seconds,
            ),
        )
    elif step.kind == StepKind.LAPSED:
        done = _recorded(
            engine, lambda s: record_lapsed(s, claim_=held, detail=step.detail, now=clock())
        )
    else:
        outcome = step.outcome
        if outcome is None:
            raise ValueError("a confirmed step carries its outcome")
        done = _recorded(
            engine, lambda s: record_outcome(s, claim_=held, outcome=outcome, now=clock())
        )
        return ForwardResult(outcome.kind.value, status=done.status, wake=done.wake)
    return ForwardResult(
        step.kind.value, status=done.status, retry_at=done.retry_at, wake=done.wake
    )


def _recorded(engine: Engine, step: Callable[[Session], RecordResult]) -> RecordResult:
    """Run a record step in its own transaction, again if the record changed meanwhile.

    What Partner Center answered must not be lost to a concurrent update of the record
    (e.g. a sibling being released): the step re-reads everything, so repeating it is safe.
    """
    for attempt in range(RECORD_STEP_ATTEMPTS):
        try:
            with session_scope(engine) as session:
                return step(session)
        except StaleDataError:
            if attempt == RECORD_STEP_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _retry(
    engine: Engine,
    held: Claim,
    policy: ForwardingPolicy,
    clock: Callable[[], datetime],
    code: str,
    message: str,
    write_answered: bool,
    retry_after: float | None,
    pause_until: datetime | None,
) -> ForwardResult:
    now = clock()
    retry_at = pause_until or now + timedelta(seconds=policy.backoff(held.attempt, retry_after))
    done = _recorded(
        engine,
        lambda session: record_retry(
            session,
            claim_=held,
            code=code,
            message=message,
            write_answered=write_answered,
            retry_at=retry_at,
            max_attempts=policy.max_attempts,
            now=now,
            pause_until=pause_until,
        ),
    )
    return ForwardResult("retry", status=done.status, retry_at=done.retry_at)
