"""Forwarding approved records to Partner Center, once per customer and agreement version."""

from app.services.forwarding.claim import claim
from app.services.forwarding.outcome import record_outcome, record_rejection, record_retry
from app.services.forwarding.run import ForwardingPolicy, ForwardResult, forward_record
from app.services.forwarding.state import (
    Claim,
    ClaimKind,
    ClaimResult,
    RecordResult,
    active_confirmation,
    due_record_ids,
    pause_upstream,
    upstream_paused_until,
)

__all__ = [
    "Claim",
    "ClaimKind",
    "ClaimResult",
    "ForwardResult",
    "ForwardingPolicy",
    "RecordResult",
    "active_confirmation",
    "claim",
    "due_record_ids",
    "forward_record",
    "pause_upstream",
    "record_outcome",
    "record_rejection",
    "record_retry",
    "upstream_paused_until",
]
