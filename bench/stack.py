"""The processes one size's benchmarks share, started together and stopped together.

- the fake Partner Center (bench/upstream.py) at the plan's latency;
- the portal's gunicorn and the bare baseline's gunicorn, with the same settings (the
  Procfile's: 2 workers x 4 threads), on the size's database;
- the portal's Celery workers (the forwarder: threads pools, one process per core), on a
  private Redis.

Starting them at once and reusing them across benchmarks keeps a run short: each process
imports the whole stack, which takes seconds on a small machine.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import (
    Env,
    PeakRss,
    Row,
    Server,
    app_env,
    celery_workers,
    progress,
    start_gunicorn,
    stopping,
    upstream,
    wait_http,
)
from bench.data import SizeData
from tests.integration.processes import Process, wait_until

WARM_UP_ID = 2_000_000_000  # no such record: the task only builds the app and asks the database
FORWARD_TASK = "intake.forward_acceptance"


@dataclass
class Stack:
    """One size's database and running processes."""

    env: Env
    data: SizeData
    fake: Server
    web: Server
    base: Server
    forwarders: list[Process]
    celery: Any  # the portal's Celery app, bound to the forwarder's broker, for publishing

    @property
    def broker_url(self) -> str:
        """The forwarder's broker."""
        return self.env.redis_url(0)

    def set_latency(self, latency_ms: int) -> None:
        """The fake's answer time from now on."""
        self.fake.post("/_fake/faults", {"latencyMs": latency_ms})


def portal_celery(database_url: str, broker_url: str) -> Any:
    """The portal's Celery app bound to `broker_url`, for publishing from this process."""
    from app import create_app
    from workers.celery_app import celery_app

    app = create_app(
        {"database_url": database_url, "celery_broker_url": broker_url, "env": "testing"}
    )
    app.extensions["db_engine"].dispose()
    return celery_app


def warm_up(workers: list[Process], send: Any, timeout: float = 120) -> None:
    """Run a first task on each worker: a worker builds its app and connections on its first
    task. The workers share a queue, so tasks go out until every one of them has run one."""

    def runs(worker: Process) -> int:
        return worker.log().count(" succeeded in ")

    before = {worker.name: runs(worker) for worker in workers}
    deadline = time.monotonic() + timeout
    while cold := [w for w in workers if runs(w) <= before[w.name]]:
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"{cold[0].name}: the warm-up task did not run\n{cold[0].log()[-3000:]}"
            )
        send()
        wait_until(lambda: any(runs(w) > before[w.name] for w in cold), timeout=2)


def portal_workers(
    name: str,
    env: Env,
    database_url: str,
    broker_url: str,
    fake_url: str,
    processes: int | None = None,
    **extra: str,
) -> tuple[list[Process], Any]:
    """Started and warmed-up portal workers (the plan's layout unless `processes` is given),
    and the Celery app to publish to them."""
    workers = celery_workers(
        name,
        "workers.celery_app:celery_app",
        app_env(database_url, broker_url, fake_url, **extra),
        env.work_dir,
        env.plan.forward_processes if processes is None else processes,
        env.plan.forward_concurrency,
    )
    try:
        celery = portal_celery(database_url, broker_url)
        warm_up(workers, lambda: celery.send_task(FORWARD_TASK, (WARM_UP_ID,)))
        progress(f"{name} ready ({len(workers)} process(es))")
    except BaseException:
        for worker in workers:
            worker.stop()
        raise
    return workers, celery


@contextmanager
def size_stack(env: Env, data: SizeData) -> Iterator[Stack]:
    """Every shared process of one size, ready; all stopped at the end."""
    with ExitStack() as stack:
        fake = upstream(env.work_dir, env.plan.upstream_latency_ms, name=f"upstream-{data.size}")
        stack.enter_context(stopping(fake))
        portal = app_env(data.database_url, env.redis_url(0), fake.url)
        web = start_gunicorn(f"web-{data.size}", "app:create_app()", portal, env.work_dir)
        stack.enter_context(stopping(web))
        base = start_gunicorn(
            f"baseline-web-{data.size}",
            "bench.baseline_app:app",
            {"BENCH_DATABASE_URL": data.database_url},
            env.work_dir,
        )
        stack.enter_context(stopping(base))
        # The worker starts while the web servers import; then all are waited for.
        forwarders, celery = portal_workers(
            f"forwarder-{data.size}", env, data.database_url, env.redis_url(0), fake.url
        )
        stack.enter_context(stopping(*forwarders))
        wait_http(web.port, "/healthz", web.process)
        wait_http(base.port, "/queue", base.process)
        progress(f"size {data.size:,}: fake, web servers and forwarder ready")
        yield Stack(env, data, fake, web, base, forwarders, celery)


def web_memory_row(app_rss: PeakRss, base_rss: PeakRss, size: int) -> Row:
    """Benchmark 6 for the web: the largest worker's peak RSS under loads 1 and 2."""
    figure, baseline = app_rss.peak, base_rss.peak
    return Row(
        "6 memory",
        "web worker peak RSS (loads 1-2)",
        figure,
        "MiB",
        baseline,
        "bare Flask worker",
        figure / baseline if baseline else None,
        "< 150 MiB",
        figure < 150,
        size,
    )


def standalone(doc: str | None, body: Any) -> None:
    """`python -m bench.<name>`: one benchmark at one size of a plan (small by default)."""
    import argparse

    from bench.common import PLANS, bench_env
    from bench.data import prepare

    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--plan", choices=sorted(PLANS), default="small")
    parser.add_argument("--size", type=int, default=None, help="records in the database")
    parser.add_argument("--profile", default="", help="py-spy the measured processes into here")
    args = parser.parse_args()
    plan = PLANS[args.plan]
    with bench_env(plan) as env:
        env.profile_dir = Path(args.profile) if args.profile else None
        data = prepare(env, args.size or plan.sizes[0])
        with size_stack(env, data) as stack:
            body(stack)
