"""Benchmark 4: from a reviewer's approval to the record confirmed, with the queue idle.

A reviewer approves one record through the API (`POST /api/v1/acceptances/<id>/approve`, the
same view code as the web button); the clock runs from sending that request until the bench
sees the record confirmed in the database (polled every 10 ms). One approval at a time, so the
queue is idle. The fake Partner Center answers at once (0 ms): this times the portal's own path
(commit, publish, the worker taking the task, two reads and a write upstream, two commits).

- Redis: PostgreSQL + Redis, as in production (web: gunicorn 2 x 4; worker: threads).
- Embedded: the `make run` default, SQLite + the embedded SQLite broker (kombu's SQLAlchemy
  transport, which polls the broker table once a second).

Targets: p50 under 0.5 s on Redis, under 2 s embedded.

`python -m bench.approve_latency [--plan small]` runs it alone.
"""

from __future__ import annotations

import statistics
import time
import urllib.request
from functools import partial

import sqlalchemy as sa
from sqlmodel import Session

from bench.common import (
    Env,
    Row,
    Server,
    app_env,
    emit,
    start_gunicorn,
    stopping,
    upstream,
    wait_http,
)
from bench.stack import Stack, portal_workers, standalone
from tests.integration.processes import Process, wait_until

NAME = "4 approve to confirmed"
FINAL = ("confirmed", "duplicate", "failed")
POLL_SECONDS = 0.01


def _reviewer_token(database_url: str) -> str:
    from app.db import make_engine
    from app.services.users import create_api_token
    from tests.support import load_users

    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            users = load_users(session)
            _token, secret = create_api_token(
                session, actor=None, user=users.reviewer, label="bench"
            )
            session.commit()
            return secret
    finally:
        engine.dispose()


def _submitted(database_url: str, count: int) -> list[str]:
    """`count` submitted records, oldest first (the forwarding benchmark takes the newest)."""
    from app.db import make_engine
    from tests.support import load_users, submit

    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            found = list(
                session.execute(
                    sa.text(
                        "SELECT public_id FROM acceptance_record WHERE status = 'submitted' "
                        "ORDER BY created_at, id LIMIT :n"
                    ),
                    {"n": count},
                ).scalars()
            )
            users = load_users(session)
            while len(found) < count:
                found.append(submit(session, users.a_submitter).public_id)
            return found
    finally:
        engine.dispose()


def _approve(web: Server, public_id: str, token: str) -> None:
    request = urllib.request.Request(  # noqa: S310 (a local URL of ours)
        f"{web.url}/api/v1/acceptances/{public_id}/approve",
        data=b"",
        method="POST",
        headers={"Authorization": f"Bearer {token}", "User-Agent": "intake-bench"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        if response.status != 200:
            raise RuntimeError(f"approve answered {response.status}")


def measure(
    label: str, web: Server, workers: list[Process], database_url: str, samples: int
) -> list[float]:
    """Seconds from each approval to its record confirmed (the first one warms up, uncounted)."""
    from app.db import make_engine

    public_ids = _submitted(database_url, samples + 1)
    token = _reviewer_token(database_url)
    engine = make_engine(database_url)
    status = sa.text("SELECT status FROM acceptance_record WHERE public_id = :p")

    def final(public_id: str) -> bool:
        with engine.connect() as conn:
            return conn.execute(status, {"p": public_id}).scalar_one() in FINAL

    times = []
    try:
        for n, public_id in enumerate(public_ids):
            began = time.monotonic()
            _approve(web, public_id, token)
            if not wait_until(partial(final, public_id), timeout=60, interval=POLL_SECONDS):
                raise RuntimeError(f"{label}: not confirmed in 60 s\n{workers[0].log()[-3000:]}")
            if n > 0:
                times.append(time.monotonic() - began)
            time.sleep(0.2)
    finally:
        engine.dispose()
    return times


def _rows(label: str, samples: list[float], target: float) -> list[Row]:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return [
        Row(
            NAME,
            f"{label}: p50",
            p50,
            "s",
            target=f"< {target:g} s",
            met=p50 < target,
            note=f"{len(samples)} approvals, one at a time",
        ),
        Row(
            NAME,
            f"{label}: p99",
            p99,
            "s",
            note="with few samples, the slowest" if len(samples) < 100 else "",
        ),
    ]


def run_redis(stack: Stack) -> list[Row]:
    """On PostgreSQL + Redis: the size's servers, the fake answering at once."""
    stack.set_latency(0)
    try:
        samples = measure(
            "Redis",
            stack.web,
            stack.forwarders,
            stack.data.database_url,
            stack.env.plan.latency_samples,
        )
    finally:
        stack.set_latency(stack.env.plan.upstream_latency_ms)
    return emit(_rows("Redis", samples, 0.5))


def run_embedded(env: Env) -> list[Row]:
    """On the embedded default: SQLite and the SQLite broker, a web server and a worker."""
    from tests.support import migrate_and_seed

    folder = env.work_dir / "embedded"
    folder.mkdir(parents=True, exist_ok=True)
    database_url = f"sqlite:///{folder / 'intake.sqlite'}"
    broker_url = f"sqla+sqlite:///{folder / 'broker.sqlite'}"
    migrate_and_seed(database_url)
    fake = upstream(env.work_dir, 0, name="upstream-embedded")
    with stopping(fake):
        portal = app_env(database_url, broker_url, fake.url, INSTANCE_DIR=str(folder))
        web = start_gunicorn("web-embedded", "app:create_app()", portal, env.work_dir)
        with stopping(web):
            # One process: the embedded broker is a SQLite file, as `make run` has it.
            workers, _celery = portal_workers(
                "worker-embedded",
                env,
                database_url,
                broker_url,
                fake.url,
                processes=1,
                INSTANCE_DIR=str(folder),
            )
            with stopping(*workers):
                wait_http(web.port, "/healthz", web.process)
                samples = measure("embedded", web, workers, database_url, env.plan.latency_samples)
    return emit(_rows("embedded", samples, 2.0))


def _both(stack: Stack) -> None:
    run_redis(stack)
    run_embedded(stack.env)


if __name__ == "__main__":
    standalone(__doc__, _both)
