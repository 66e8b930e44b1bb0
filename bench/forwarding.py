"""Benchmark 3: forwarding approved records to the fake Partner Center at 200 ms a call.

(b) Without a cap: N approved records (legacy flow: a read and a write upstream each, and two
    short transactions) through the portal's Celery worker, in records per second, against
    - a sequential script that POSTs the same records one by one (target: at least 10x it);
    - a bare Celery task that makes one POST to the same fake, with the same pool and
      concurrency: the machine's ceiling (target: at least 40% of it).
(a) With `UPSTREAM_MAX_REQUESTS_PER_SECOND` = 20 and the fake refusing (429) any request over
    the cap: the rate the fake sees (target: at least 90% of the cap) and the 429s (target: 0).

All three senders are separate processes started and stopped here; the times are the bench's
from the first publish to the moment every record (or POST) is done. Benchmark 6 (memory) reads
the forwarder's peak RSS during (b).

`python -m bench.forwarding [--plan small] [--size N]` runs it alone.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import sqlalchemy as sa

from bench.common import (
    Env,
    PeakRss,
    Row,
    Server,
    celery_workers,
    emit,
    profiling,
    ratio_row,
    stopping,
    upstream,
)
from bench.data import approve_newest
from bench.stack import FORWARD_TASK, Stack, portal_workers, standalone, warm_up
from tests.integration.processes import wait_until

NAME = "3 forwarding"
FINAL = ("confirmed", "duplicate", "failed")


def _engine(database_url: str) -> sa.Engine:
    from app.db import make_engine

    return make_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))


@contextmanager
def _finished(database_url: str, ids: list[int]) -> Iterator[Callable[[], int]]:
    """A function counting how many of `ids` are final now."""
    engine = _engine(database_url)
    query = sa.text(
        "SELECT count(*) FROM acceptance_record WHERE id = ANY(:ids) AND status = ANY(:final)"
    )

    def count() -> int:
        with engine.connect() as conn:
            return int(conn.execute(query, {"ids": ids, "final": list(FINAL)}).scalar_one())

    try:
        yield count
    finally:
        engine.dispose()


def _statuses(database_url: str, ids: list[int]) -> dict[str, int]:
    engine = _engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT status, count(*) FROM acceptance_record WHERE id = ANY(:ids) "
                    "GROUP BY status"
                ),
                {"ids": ids},
            )
            return {row[0]: row[1] for row in rows}
    finally:
        engine.dispose()


def _timeout(records: int, per_second: float) -> float:
    return 60 + records / per_second


def portal_rate(stack: Stack, ids: list[int]) -> tuple[float, float]:
    """Records per second of the portal's forwarder over `ids`, and its peak RSS (MiB)."""
    url, workers = stack.data.database_url, stack.forwarders
    pids = [worker.popen.pid for worker in workers]
    with (
        _finished(url, ids) as done,
        PeakRss(lambda: pids) as rss,
        profiling(stack.env, f"forwarder-{stack.data.size}", pids),
    ):
        began = time.monotonic()
        for record_id in ids:
            stack.celery.send_task(FORWARD_TASK, (record_id,))
        finished = wait_until(lambda: done() >= len(ids), timeout=_timeout(len(ids), 2))
        elapsed = time.monotonic() - began
    if not finished:
        raise RuntimeError(
            f"forwarding did not finish: {_statuses(url, ids)}\n{workers[0].log()[-3000:]}"
        )
    return len(ids) / elapsed, rss.peak


def _confirmation_body(first: str, last: str, email: str, phone: str | None) -> dict[str, Any]:
    contact = {"firstName": first, "lastName": last, "email": email}
    if phone:
        contact["phoneNumber"] = phone
    return {
        "primaryContact": contact,
        "templateId": "",
        "dateAgreed": "2026-03-02T00:00:00.000Z",
        "type": "MicrosoftCustomerAgreement",
    }


def _records(database_url: str, ids: list[int]) -> list[tuple[str, dict[str, Any]]]:
    """(tenant id, create-agreement body) of each record, as a script would read them."""
    engine = _engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT c.tenant_id, r.template_id, r.date_agreed, r.contact_first_name, "
                    "r.contact_last_name, r.contact_email, r.contact_phone FROM acceptance_record "
                    "r JOIN customer c ON c.id = r.customer_id WHERE r.id = ANY(:ids)"
                ),
                {"ids": ids},
            ).all()
    finally:
        engine.dispose()
    out = []
    for tenant, template, agreed, first, last, email, phone in rows:
        body = _confirmation_body(first, last, email, phone)
        body["templateId"] = template
        body["dateAgreed"] = f"{agreed.isoformat()}T00:00:00.000Z"
        out.append((tenant, body))
    return out


def reset_fake(fake: Server, latency_ms: int) -> None:
    """Forget the confirmations and counters (the same records can be sent again)."""
    fake.post("/_fake/reset")  # this also clears the faults: set the latency again
    fake.post("/_fake/faults", {"latencyMs": latency_ms})
    fake.post("/_bench/reset")


def sequential_rate(
    fake: Server, records: list[tuple[str, dict[str, Any]]], latency_ms: int
) -> float:
    """A script's loop: one POST after the other, one keep-alive client. Records per second."""
    reset_fake(fake, latency_ms)
    with httpx.Client(base_url=fake.url, timeout=30) as client:
        began = time.monotonic()
        for tenant, body in records:
            response = client.post(
                f"/v1/customers/{tenant}/agreements",
                json=body,
                headers={"Authorization": "Bearer bench", "MS-RequestId": str(uuid.uuid4())},
            )
            if response.status_code >= 300:
                raise RuntimeError(f"the fake answered {response.status_code}: {response.text}")
        elapsed = time.monotonic() - began
    return len(records) / elapsed


def bare_celery_rate(
    env: Env, fake: Server, records: list[tuple[str, dict[str, Any]]]
) -> tuple[float, float]:
    """Records per second of the bare one-POST task (same processes, pool and threads); the
    largest process's peak RSS."""
    from bench.baseline_worker import celery_app

    reset_fake(fake, env.plan.upstream_latency_ms)
    broker = env.redis_url(1)
    celery_app.conf.broker_url = broker
    workers = celery_workers(
        "bare-celery",
        "bench.baseline_worker:celery_app",
        {"BENCH_BROKER_URL": broker, "BENCH_UPSTREAM_URL": fake.url},
        env.work_dir,
        env.plan.forward_processes,
        env.plan.forward_concurrency,
    )

    def posts() -> int:
        return int(fake.get_json("/_bench/stats")["methods"].get("POST", 0))

    with stopping(*workers), PeakRss(lambda: [worker.popen.pid for worker in workers]) as rss:
        tenant, body = records[0]
        warm_up(workers, lambda: celery_app.send_task("bench.post_confirmation", (tenant, body)))
        reset_fake(fake, env.plan.upstream_latency_ms)
        began = time.monotonic()
        for tenant, body in records:
            celery_app.send_task("bench.post_confirmation", (tenant, body))
        finished = wait_until(lambda: posts() >= len(records), timeout=_timeout(len(records), 5))
        elapsed = time.monotonic() - began
    if not finished:
        raise RuntimeError(f"the bare tasks did not finish: {posts()}\n{workers[0].log()[-3000:]}")
    return len(records) / elapsed, rss.peak


def capped(stack: Stack, ids: list[int]) -> tuple[float, int, int]:
    """(a): upstream requests per second and 429s, with the cap set and the fake enforcing it."""
    env, plan = stack.env, stack.env.plan
    fake = upstream(env.work_dir, plan.upstream_latency_ms, limit=plan.cap, name="upstream-cap")
    with stopping(fake):
        workers, celery = portal_workers(
            f"forwarder-capped-{stack.data.size}",
            env,
            stack.data.database_url,
            env.redis_url(2),
            fake.url,
            UPSTREAM_MAX_REQUESTS_PER_SECOND=str(plan.cap),
        )
        with stopping(*workers):
            for record_id in ids:
                celery.send_task(FORWARD_TASK, (record_id,))
            started = wait_until(lambda: bool(fake.get_json("/_bench/stats")["times"]), timeout=60)
            if not started:
                raise RuntimeError(f"nothing reached the fake:\n{workers[0].log()[-3000:]}")
            time.sleep(plan.cap_seconds + 0.5)
            stats = fake.get_json("/_bench/stats")
    times = sorted(stats["times"])
    window = [t for t in times if t < times[0] + plan.cap_seconds]
    return len(window) / plan.cap_seconds, int(stats["throttled"]), len(times)


def run(stack: Stack) -> list[Row]:
    """Benchmark 3 at one size (and the forwarder's memory, benchmark 6)."""
    env, data, plan, fake = stack.env, stack.data, stack.env.plan, stack.fake
    uncapped_ids = approve_newest(data.database_url, plan.forward_records)
    capped_count = int(plan.cap * plan.cap_seconds * 0.75) + 2 * plan.forward_threads
    capped_ids = approve_newest(data.database_url, capped_count)
    rows: list[Row] = []
    reset_fake(fake, plan.upstream_latency_ms)
    rate, peak = portal_rate(stack, uncapped_ids)
    statuses = _statuses(data.database_url, uncapped_ids)
    stats = fake.get_json("/_bench/stats")["methods"]
    records = _records(data.database_url, uncapped_ids)
    sequential = sequential_rate(fake, records[: plan.sequential_records], plan.upstream_latency_ms)
    bare, bare_peak = bare_celery_rate(env, fake, records)
    calls = f"upstream GET {stats.get('GET', 0)}, POST {stats.get('POST', 0)}; {statuses}"
    rows += emit(
        [
            ratio_row(
                NAME,
                "(b) no cap: records/s",
                rate,
                sequential,
                "rec/s",
                at_least=10,
                baseline_what="sequential script",
                size=data.size,
                note=f"{len(uncapped_ids)} records; {calls}",
            ),
            ratio_row(
                NAME,
                "(b) no cap: records/s",
                rate,
                bare,
                "rec/s",
                at_least=0.4,
                baseline_what=f"bare Celery POST, {plan.forward_layout}",
                size=data.size,
            ),
        ]
    )
    achieved, throttled, total = capped(stack, capped_ids)
    rows += emit(
        [
            ratio_row(
                NAME,
                f"(a) cap {plan.cap}/s: upstream req/s",
                achieved,
                plan.cap,
                "req/s",
                at_least=0.9,
                baseline_what="the cap",
                size=data.size,
                note=f"over {plan.cap_seconds:g} s; {total} requests seen",
            ),
            Row(
                NAME,
                f"(a) cap {plan.cap}/s: 429 answers caused",
                throttled,
                "",
                target="0",
                met=throttled == 0,
                size=data.size,
                note="the fake refuses a request over cap+1 in any 1 s window",
            ),
            Row(
                "6 memory",
                "forwarder peak RSS (load 3b)",
                peak,
                "MiB",
                bare_peak,
                "bare Celery worker",
                peak / bare_peak if bare_peak else None,
                "< 150 MiB",
                peak < 150,
                data.size,
            ),
        ]
    )
    return rows


if __name__ == "__main__":
    standalone(__doc__, run)
