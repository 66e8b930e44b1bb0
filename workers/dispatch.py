"""Publishing tasks from the web and from tasks: best effort, because the database decides.

An approval is durable once its transaction commits; if publishing fails (broker down), the
sweeper finds the record due and sends it. So a failure here is logged, never raised.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

log = logging.getLogger(__name__)


def enqueue_forwarding(record_ids: Iterable[int | None], *, countdown: float | None = None) -> int:
    """Publish one forwarding task per record id; returns how many were published."""
    from workers.tasks import forward_acceptance

    published = 0
    for record_id in record_ids:
        if record_id is None:
            continue
        try:
            forward_acceptance.apply_async((record_id,), countdown=countdown, retry=False)
            published += 1
        except Exception as exc:  # the broker is down or slow: the sweeper will send it
            log.warning(
                "could not publish forwarding of record %s (%s); the sweeper will send it",
                record_id,
                type(exc).__name__,
            )
    return published
