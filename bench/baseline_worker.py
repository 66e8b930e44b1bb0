"""The bare Celery baseline: one task that makes one POST to the fake Partner Center.

`celery -A bench.baseline_worker:celery_app worker --pool threads --concurrency N` with
BENCH_BROKER_URL and BENCH_UPSTREAM_URL. The task has the portal's delivery settings (late
acknowledgement, one message prefetched per thread, no results) and one shared `httpx.Client`
per process, and nothing else: no database, no claim, no ledger, no audit trail. It is what the
machine can do with this pool and concurrency: the forwarder's ceiling.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import httpx
from celery import Celery

celery_app = Celery("bench_baseline")
celery_app.conf.update(
    broker_url=os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/15"),
    task_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
    task_default_queue="bench-baseline",
)

_clients: list[httpx.Client] = []
_lock = threading.Lock()


def client() -> httpx.Client:
    """The process's one HTTP client (a keep-alive pool shared by the threads)."""
    with _lock:
        if not _clients:
            _clients.append(
                httpx.Client(
                    base_url=os.environ["BENCH_UPSTREAM_URL"],
                    timeout=httpx.Timeout(20.0, connect=5.0),
                )
            )
        return _clients[0]


@celery_app.task(name="bench.post_confirmation", ignore_result=True)  # type: ignore[untyped-decorator]
def post_confirmation(tenant_id: str, body: dict[str, Any]) -> int:
    """POST one confirmation; one retry when a kept-alive connection was dropped."""
    path = f"/v1/customers/{tenant_id}/agreements"
    headers = {"Authorization": "Bearer bench"}
    try:
        response = client().post(path, json=body, headers=headers)
    except httpx.RemoteProtocolError:
        response = client().post(path, json=body, headers=headers)
    return response.status_code
