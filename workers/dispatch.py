"""Publishing tasks from the web and from tasks: bounded and best effort, the database decides.

An approval is durable once its transaction commits; if publishing fails or hangs (broker down
or unreachable), the sweeper finds the record due and sends it. So publishing happens on a
small thread pool and the caller waits at most BROKER_PUBLISH_TIMEOUT_SECONDS for it: a web
request answers in time whatever the broker does, and a failure is logged, never raised.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from flask import current_app, has_app_context

log = logging.getLogger(__name__)
DEFAULT_WAIT_SECONDS = 1.0

_executor: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="intake-publish")
        return _executor


def _forget_pool_after_fork() -> None:
    # A forked child (gunicorn or Celery prefork) must not use its parent's threads.
    global _executor, _lock
    _executor = None
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_pool_after_fork)


def _publish(record_ids: list[int], countdown: float | None) -> int:
    from workers.tasks import forward_acceptance

    published = 0
    for record_id in record_ids:
        try:
            forward_acceptance.apply_async((record_id,), countdown=countdown, retry=False)
            published += 1
        except Exception as exc:  # the broker is down: the sweeper will send it
            log.warning(
                "could not publish forwarding of record %s (%s); the sweeper will send it",
                record_id,
                type(exc).__name__,
            )
    return published


def _wait_seconds() -> float:
    if has_app_context():
        return float(current_app.config["SETTINGS"].broker_publish_timeout_seconds)
    return DEFAULT_WAIT_SECONDS


def enqueue_forwarding(record_ids: Iterable[int | None], *, countdown: float | None = None) -> int:
    """Publish one forwarding task per record id, after the caller's commit.

    Returns how many were published within the wait; the rest go on in the background or are
    left to the sweeper.
    """
    ids = [record_id for record_id in record_ids if record_id is not None]
    if not ids:
        return 0
    future: Future[int] = _pool().submit(_publish, ids, countdown)
    try:
        return future.result(timeout=_wait_seconds())
    except FutureTimeout:
        log.warning(
            "publishing %d forwarding task(s) is slow (broker unreachable?): it goes on in the "
            "background, and the sweeper sends what does not arrive",
            len(ids),
        )
        return 0


def _publish_import(job_id: int) -> int:
    from workers.tasks import import_acceptances

    try:
        import_acceptances.apply_async((job_id,), retry=False)
    except Exception as exc:  # the broker is down: the sweeper will send it
        log.warning(
            "could not publish import job %s (%s); the sweeper will send it",
            job_id,
            type(exc).__name__,
        )
        return 0
    return 1


def enqueue_import(job_id: int | None) -> int:
    """Publish the bulk-import task of a stored job, after the caller's commit (R15).

    Bounded like `enqueue_forwarding`: a queued job whose message is lost stays queued in the
    database, and the sweeper sends it again.
    """
    if job_id is None:
        return 0
    future: Future[int] = _pool().submit(_publish_import, job_id)
    try:
        return future.result(timeout=_wait_seconds())
    except FutureTimeout:
        log.warning("publishing import job %s is slow (broker unreachable?)", job_id)
        return 0
