"""Thin tasks: ids in, one service call, commits inside it, follow-ups after the commit."""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import uuid
from contextlib import closing
from datetime import timedelta
from typing import Any

from celery import Task

from app.context import current_settings as settings
from app.db import get_engine, session_scope
from app.models import utcnow
from app.partner_center.runtime import gateway
from app.services import agreements, forwarding, imports, retention
from app.services.agreements import TemplateInfo
from workers.celery_app import celery_app
from workers.dispatch import enqueue_forwarding, enqueue_import

log = logging.getLogger(__name__)
_OWNER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def policy() -> forwarding.ForwardingPolicy:
    """The forwarding policy from the running app's settings."""
    s = settings()
    return forwarding.ForwardingPolicy(
        lease_seconds=s.forward_lease_seconds,
        retry_base_seconds=s.forward_retry_base_seconds,
        retry_cap_seconds=s.forward_retry_cap_seconds,
        max_attempts=s.forward_max_attempts,
        poll_base_seconds=s.enhanced_poll_base_seconds,
        poll_cap_seconds=s.enhanced_poll_cap_seconds,
        default_country=s.default_phone_region,
    )


@celery_app.task(
    name="intake.forward_acceptance",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def forward_acceptance(self: Task, record_id: int) -> None:
    """Forward one approved record to Partner Center (safe to run twice)."""
    result = forwarding.forward_record(
        record_id,
        engine=get_engine(),
        gateway=gateway(),
        policy=policy(),
        owner=f"{_OWNER}:{self.request.id}",
    )
    log.info("record %s: %s (%s)", record_id, result.outcome, result.status)
    # Other approved records of the same customer can now settle as duplicates at once.
    enqueue_forwarding(result.wake)
    if result.retry_at is not None:
        wait = (result.retry_at - utcnow()).total_seconds()
        # A short countdown is a shortcut; the sweeper sends longer waits when they are due,
        # so no message sits in a worker past the broker's visibility timeout.
        if wait <= settings().forward_short_countdown_max_seconds:
            enqueue_forwarding([record_id], countdown=max(wait, 0.0))


@celery_app.task(name="intake.sweep_forwarding", ignore_result=True)
def sweep_forwarding() -> int:
    """Re-enqueue records that are due and records whose worker died mid-flight."""
    requeue_after = timedelta(seconds=settings().forward_requeue_seconds)
    with session_scope(get_engine()) as session:
        ids = forwarding.due_record_ids(session, now=utcnow(), requeue_after=requeue_after)
    if ids:
        log.info("sweeper: re-enqueueing %d record(s)", len(ids))
    published = enqueue_forwarding(ids)
    try:
        _sweep_imports(requeue_after)
    except Exception:  # imports must never stop the forwarding sweep
        log.exception("sweeper: could not re-send stalled import jobs")
    return published


def _sweep_imports(requeue_after: timedelta) -> None:
    """Re-send import jobs whose message was lost or whose worker died (R15)."""
    with session_scope(get_engine()) as session:
        job_ids = imports.stale_job_ids(session, now=utcnow(), requeue_after=requeue_after)
    if job_ids:
        log.info("sweeper: re-enqueueing %d import job(s)", len(job_ids))
    for job_id in job_ids:
        enqueue_import(job_id)


@celery_app.task(
    name="intake.import_acceptances",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def import_acceptances(job_id: int) -> str:
    """Submit the rows of a CSV import job, a committed batch at a time (safe to run twice)."""
    s = settings()
    result = imports.run_import(
        job_id,
        engine=get_engine(),
        phone_region=s.default_phone_region,
        default_country=s.default_phone_region,
    )
    log.info(
        "import job %s: %s (%d row(s) in %d batch(es))",
        job_id,
        result.status,
        result.rows,
        result.batches,
    )
    return result.status


@celery_app.task(name="intake.sync_agreement_templates", ignore_result=True)
def sync_agreement_templates() -> str | None:
    """Refresh the current agreement version from Partner Center's metadata (R12)."""
    items: list[Any] = gateway().current_templates("MicrosoftCustomerAgreement")
    infos = [
        TemplateInfo(
            agreement_type=item.agreement_type,
            template_id=item.template_id,
            agreement_link=item.agreement_link,
            version_rank=item.version_rank,
        )
        for item in items
    ]
    with session_scope(get_engine()) as session:
        current = agreements.apply_metadata(
            session, agreement_type="MicrosoftCustomerAgreement", items=infos
        )
        return current.template_id if current else None


@celery_app.task(name="intake.apply_retention", ignore_result=True)
def apply_retention() -> int:
    """Anonymise rejected and withdrawn submissions older than RETENTION_DAYS."""
    with session_scope(get_engine()) as session:
        return retention.anonymise_expired(session, now=utcnow(), days=settings().retention_days)


@celery_app.task(name="intake.compact_embedded_broker", ignore_result=True)
def compact_embedded_broker() -> int:
    """The embedded broker keeps every delivered message; drop those older than an hour.

    kombu's SQLAlchemy transport marks a message invisible when a worker takes it and never
    deletes it. An invisible message whose worker died is dropped too: the sweeper re-sends
    its record from the database.
    """
    url = settings().celery_broker_url
    if not url.startswith("sqla+sqlite:///"):
        return 0
    path = url.removeprefix("sqla+sqlite:///")
    cutoff = (utcnow() - timedelta(hours=1)).replace(tzinfo=None).isoformat(sep=" ")
    with closing(sqlite3.connect(path, timeout=30)) as conn, conn:
        deleted = conn.execute(
            "DELETE FROM kombu_message WHERE visible = 0 AND sent_at < ?", (cutoff,)
        ).rowcount
    return int(deleted)
