"""Fault-injection runs of the whole forwarding pipeline, with real processes.

A run submits records for many customers from several resellers, approves them in batches while
a nemesis SIGKILLs workers in the middle of upstream calls and wipes the broker, and the fake
Partner Center answers with 5xx, 429, timeouts and "commit then hang". When the faults stop it
waits for every approved record to settle, then checks the invariants (`chaos_check`).

Used by `tests/integration/test_faults.py` (bounded, in `make test`) and by `make chaos`
(`python -m tests.integration.chaos`, long, writes docs/RELIABILITY.md).
"""

from __future__ import annotations

import argparse
import random
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from app import create_app
from app.db import get_engine, new_session
from app.models import AcceptanceRecord, Organization, User
from app.models.org import OrgKind, Role
from app.partner_center.fake_server import FakeServer
from app.services import review
from tests.integration.chaos_check import FINAL, Findings, check
from tests.integration.chaos_customers import Customers, customers_and_resellers
from tests.integration.processes import Process, celery_beat, celery_worker, wait_until
from tests.integration.redis_server import RedisServer
from tests.support import load_users, submit
from workers.dispatch import enqueue_forwarding

DEFAULT_FAKE_FAULTS = {
    "latencyMs": 150,
    "error5xxRate": 0.08,
    "throttleRate": 0.03,
    "retryAfterSeconds": 1,
    "timeoutRate": 0.03,
    "hangAfterCommitRate": 0.05,
    "hangSeconds": 2.5,
}


@dataclass
class Scenario:
    """How big the run is and which faults it injects."""

    name: str
    embedded: bool = False
    records: int = 300
    customers: int = 60
    resellers: int = 3
    workers: int = 3
    concurrency: int = 4
    fault_seconds: float = 30.0
    # The window lasts fault_seconds and then, on a slow or busy machine, until these minimums
    # are reached (at most `fault_seconds` more): counting events, not seconds, keeps the
    # suite's assertions about what was injected true under load.
    min_kills_in_flight: int = 0
    min_broker_losses: int = 0
    min_fault_kinds: tuple[str, ...] = ()
    kill_every: float = 3.0
    broker_loss_every: float = 10.0
    settle_timeout: float = 120.0
    seed: int = 20261125
    flow: str = "legacy"
    # Enhanced flow: each tick a customer accepts a pending link, or lets it lapse.
    accept_rate: float = 0.3
    lapse_rate: float = 0.03
    fake_faults: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_FAKE_FAULTS))


@dataclass
class Nemesis:
    """What the fault thread did."""

    kills: int = 0
    kills_in_flight: int = 0
    broker_losses: int = 0
    crashes: int = 0
    log: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def run(scenario: Scenario, *, database_url: str, work_dir: Path) -> Findings:
    """Run the scenario against a migrated, seeded database; return the checked figures."""
    rng = random.Random(scenario.seed)
    work_dir.mkdir(parents=True, exist_ok=True)
    redis_server = None if scenario.embedded else RedisServer(work_dir).start()
    broker = (
        f"sqla+sqlite:///{work_dir / 'broker.sqlite'}" if redis_server is None else redis_server.url
    )
    fake = FakeServer().start()
    fake.store.set_faults({"seed": scenario.seed})
    env = {
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker,
        "PARTNER_CENTER_URL": fake.url,
        "INTAKE_ENV": "testing",
        "SECRET_KEY": "chaos-secret-key-" + "x" * 32,
        "INSTANCE_DIR": str(work_dir / "instance"),
        "PARTNER_CENTER_TIMEOUT_SECONDS": "1",
        "FORWARD_LEASE_SECONDS": "5",
        "FORWARD_SWEEP_SECONDS": "1",
        "FORWARD_RETRY_BASE_SECONDS": "0.2",
        "FORWARD_RETRY_CAP_SECONDS": "2",
        "FORWARD_MAX_ATTEMPTS": "1000",
        "PARTNER_CENTER_FLOW": scenario.flow,
        "ENHANCED_POLL_BASE_SECONDS": "0.3",
        "ENHANCED_POLL_CAP_SECONDS": "1",
        "FORWARD_REQUEUE_SECONDS": "5",
    }
    app = create_app({**env, "INSTANCE_DIR": work_dir / "instance"})
    workers: list[Process] = []
    beat: Process | None = None
    started = time.monotonic()
    try:
        with app.app_context():
            ids = _submit_records(scenario, rng)
            workers = [
                celery_worker(env, work_dir, name=f"w{i}", concurrency=scenario.concurrency)
                for i in range(scenario.workers)
            ]
            beat = celery_beat(env, work_dir)
            fake.store.set_faults(scenario.fake_faults)
            faults_on = time.monotonic()  # submitting and starting workers do not use the window
            stop = threading.Event()
            nemesis = Nemesis()
            thread = threading.Thread(
                target=_nemesis,
                args=(
                    get_engine(),
                    scenario,
                    rng,
                    env,
                    work_dir,
                    workers,
                    redis_server,
                    broker,
                    stop,
                    nemesis,
                ),
                daemon=True,
            )
            thread.start()
            customers = Customers()
            acting = threading.Thread(
                target=customers_and_resellers,
                args=(get_engine(), scenario, rng, fake, customers),
                daemon=True,
            )
            if scenario.flow == "enhanced":
                acting.start()
            approved = _approve_in_batches(
                scenario, ids, until=time.monotonic() + scenario.fault_seconds * 0.8
            )
            remaining = scenario.fault_seconds - (time.monotonic() - faults_on)
            stop.wait(max(remaining, 0))
            wait_until(
                lambda: _window_filled(scenario, nemesis, fake) or _unsettled(approved) == 0,
                timeout=scenario.fault_seconds,
                interval=0.5,
            )
            stop.set()
            thread.join(30)
            fake.store.set_faults({k: 0 for k in scenario.fake_faults if k != "retryAfterSeconds"})
            customers.lapse_rate = 0.0  # from now on every customer accepts
            faults_over = time.monotonic()
            settled = wait_until(
                lambda: _unsettled(approved) == 0, timeout=scenario.settle_timeout, interval=0.5
            )
            settle_seconds = time.monotonic() - faults_over
            customers.stop.set()
            if acting.is_alive():
                acting.join(10)
            with new_session(get_engine(), read_only=True) as session:
                found = check(session, approved_ids=set(approved), fake_stats=fake.store.stats())
    finally:
        for process in [*workers, *([beat] if beat else [])]:
            process.stop(timeout=10)
        fake.stop()
        if redis_server is not None:
            redis_server.stop()
        app.extensions["db_engine"].dispose()
        gateway = app.extensions.get("partner_center_gateway")
        if gateway is not None:
            gateway.close()
    locked = sum(
        len(re.findall(r"database is locked", p.log_path.read_text(errors="replace")))
        for p in [*workers, *([beat] if beat else [])]
    )
    found.figures = {
        "scenario": asdict(scenario),
        "kills": nemesis.kills,
        "kills_in_flight": nemesis.kills_in_flight,
        "broker_losses": nemesis.broker_losses,
        "links_accepted": customers.accepted,
        "links_lapsed": customers.lapsed,
        "links_reissued": customers.reissued,
        "most_live_attestations_per_customer": customers.most_live,
        "worker_crashes_restarted": nemesis.crashes,
        "injected_upstream_faults": fake.store.stats()["faults"],
        "settled_after_faults_s": round(settle_seconds, 1),
        "total_s": round(time.monotonic() - started, 1),
        "database_is_locked_in_logs": locked,
        **found.figures,
    }
    found.violations.extend(f"nemesis failed: {error}" for error in nemesis.errors)
    found.violations.extend(f"customers thread failed: {error}" for error in customers.errors)
    if customers.most_live > 1:
        found.violations.append(f"a customer had {customers.most_live} live attestations at once")
    if not settled:
        found.violations.append(f"not settled {scenario.settle_timeout} s after the faults stopped")
    if locked:
        found.violations.append(f'"database is locked" appeared {locked} times in the logs')
    return found


def _submit_records(scenario: Scenario, rng: random.Random) -> list[int]:
    """Records for `customers` tenants, each from several resellers, in random order."""
    session = new_session(get_engine())
    users = load_users(session)
    resellers = [users.a_submitter, users.b_submitter]
    for n in range(len(resellers), scenario.resellers):
        org = Organization(kind=OrgKind.RESELLER.value, name=f"Reseller {n}", email_domains=[])
        session.add(org)
        session.flush()
        user = User(
            organization_id=org.id or 0,
            email=f"submitter@reseller-{n}.example",
            name=f"Submitter {n}",
            role=Role.RESELLER_SUBMITTER.value,
            password_hash=users.a_submitter.password_hash,
        )
        session.add(user)
        resellers.append(user)
    session.commit()
    tenants = [
        str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(scenario.customers)
    ]
    ids = []
    for i in range(scenario.records):
        customer = i % scenario.customers
        submitter = resellers[(i // scenario.customers) % len(resellers)]
        record = submit(
            session,
            submitter,
            **{
                "customer.tenantId": tenants[customer],
                "contact.email": f"person{i}@customer{customer}.example",
            },
        )
        ids.append(record.id or 0)
    session.close()
    rng.shuffle(ids)
    return ids


def _approve_in_batches(scenario: Scenario, ids: list[int], *, until: float) -> list[int]:
    """Approve like reviewers do, batch by batch, publishing after each commit."""
    batches = [ids[i : i + 25] for i in range(0, len(ids), 25)]
    pause = max(until - time.monotonic(), 0) / max(len(batches), 1)
    session = new_session(get_engine())
    reviewer = load_users(session).reviewer
    try:
        for batch in batches:
            records = session.exec(
                select(AcceptanceRecord).where(col(AcceptanceRecord.id).in_(batch))
            ).all()
            for record in records:
                review.approve(session, actor=reviewer, record=record)
            session.commit()
            enqueue_forwarding(batch)  # fails quietly while the broker is down: the outbox
            time.sleep(pause)
    finally:
        session.close()
    return ids


def _window_filled(scenario: Scenario, nemesis: Nemesis, fake: FakeServer) -> bool:
    """Whether the faults the scenario promises have all been injected."""
    fired = set(fake.store.stats()["faults"])
    return (
        nemesis.kills_in_flight >= scenario.min_kills_in_flight
        and nemesis.broker_losses >= scenario.min_broker_losses
        and set(scenario.min_fault_kinds) <= fired
    )


def _unsettled(ids: list[int]) -> int:
    with new_session(get_engine(), read_only=True) as session:
        return session.exec(
            select(sa.func.count())
            .select_from(AcceptanceRecord)
            .where(col(AcceptanceRecord.id).in_(ids))
            .where(col(AcceptanceRecord.status).not_in(FINAL))
        ).one()


def _pids_in_flight(engine: sa.Engine) -> set[int]:
    """Worker pids that hold a live lease right now (lease owner = host:pid:...)."""
    now = datetime.now(UTC)
    with new_session(engine, read_only=True) as session:
        owners = session.exec(
            select(AcceptanceRecord.lease_owner)
            .where(AcceptanceRecord.status == "forwarding")
            .where(col(AcceptanceRecord.lease_expires_at) > now)
        ).all()
    return {int(owner.split(":")[1]) for owner in owners if owner}


def _nemesis(
    engine: sa.Engine,
    scenario: Scenario,
    rng: random.Random,
    env: dict[str, str],
    work_dir: Path,
    workers: list[Process],
    redis_server: RedisServer | None,
    broker: str,
    stop: threading.Event,
    nemesis: Nemesis,
) -> None:
    """Kill workers mid-flight and lose the broker's messages until told to stop."""
    try:
        _strike(engine, scenario, rng, env, work_dir, workers, redis_server, broker, stop, nemesis)
    except Exception as exc:  # reported as a violation: the run did not inject what it says
        nemesis.errors.append(repr(exc))


def _strike(
    engine: sa.Engine,
    scenario: Scenario,
    rng: random.Random,
    env: dict[str, str],
    work_dir: Path,
    workers: list[Process],
    redis_server: RedisServer | None,
    broker: str,
    stop: threading.Event,
    nemesis: Nemesis,
) -> None:
    next_loss = time.monotonic() + scenario.broker_loss_every
    generation = 0
    while not stop.wait(rng.uniform(0.5, 1.5) * scenario.kill_every):
        for index, worker in enumerate(workers):
            if worker.popen.poll() is not None:
                # It exited on its own (e.g. kombu failing while Redis restarts): restart it,
                # as a process manager would in production, and count it.
                nemesis.crashes += 1
                nemesis.log.append(f"{worker.name} exited with {worker.popen.returncode}")
                worker.stop(timeout=1)
                generation += 1
                workers[index] = celery_worker(
                    env, work_dir, name=f"w{index}g{generation}", concurrency=scenario.concurrency
                )
        busy: list[Process] = []
        deadline = time.monotonic() + 3.0
        while not busy and time.monotonic() < deadline:  # aim at a worker with a forward in flight
            in_flight = _pids_in_flight(engine)
            busy = [w for w in workers if w.popen.pid in in_flight]
            if not busy:
                time.sleep(0.05)
        victim = rng.choice(busy or workers)
        victim.kill()
        victim.stop(timeout=5)
        nemesis.kills += 1
        nemesis.kills_in_flight += bool(busy)
        generation += 1
        index = workers.index(victim)
        workers[index] = celery_worker(
            env, work_dir, name=f"w{index}g{generation}", concurrency=scenario.concurrency
        )
        if time.monotonic() >= next_loss:
            next_loss = time.monotonic() + scenario.broker_loss_every
            nemesis.broker_losses += 1
            _lose_broker(redis_server, broker, restart=nemesis.broker_losses % 2 == 0)
            nemesis.log.append(f"broker lost at {time.monotonic():.1f}")


def _lose_broker(redis_server: RedisServer | None, broker: str, *, restart: bool) -> None:
    """Every queued and unacknowledged message vanishes."""
    if redis_server is not None:
        redis_server.restart() if restart else redis_server.flush()
        return
    path = broker.split("///", 1)[1]
    with sqlite3.connect(path, timeout=30) as conn:
        conn.execute("DELETE FROM kombu_message")


def markdown(results: list[tuple[str, Findings]]) -> str:
    """The figures of several runs as a Markdown table."""
    keys = [
        "approved_records",
        "customers",
        "kills",
        "kills_in_flight",
        "broker_losses",
        "injected_upstream_faults",
        "upstream_posts",
        "upstream_accepted_total",
        "customers_confirmed_not_exactly_once",
        "lost",
        "moves_backwards",
        "unaudited_changes",
        "database_is_locked_in_logs",
        "settled_after_faults_s",
        "total_s",
    ]
    lines = ["| figure | " + " | ".join(name for name, _ in results) + " |"]
    lines.append("|---|" + "---|" * len(results))
    for key in keys:
        lines.append(f"| {key} | " + " | ".join(str(f.figures.get(key)) for _, f in results) + " |")
    lines.append("| violations | " + " | ".join(str(len(f.violations)) for _, f in results) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """`make chaos`: long runs on PostgreSQL + Redis and on the embedded mode."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--customers", type=int, default=800)
    parser.add_argument("--fault-seconds", type=float, default=240)
    parser.add_argument("--report", type=Path, default=None)
    args = parser.parse_args(argv)
    from tests.integration.chaos_env import postgres_database, sqlite_database

    results: list[tuple[str, Findings]] = []
    work = Path("instance/chaos").resolve() / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    for name, embedded, database in (
        ("PostgreSQL + Redis, 3 workers", False, postgres_database),
        ("SQLite + embedded broker, 2 workers", True, sqlite_database),
    ):
        scenario = Scenario(
            name=name,
            embedded=embedded,
            records=args.records,
            customers=args.customers,
            workers=2 if embedded else 3,
            fault_seconds=args.fault_seconds,
            settle_timeout=600,
        )
        with database(work / ("embedded" if embedded else "distributed")) as url:
            found = run(
                scenario,
                database_url=url,
                work_dir=work / ("embedded" if embedded else "distributed"),
            )
        results.append((name, found))
        print(f"{name}: {'OK' if found.ok else 'VIOLATIONS'}")  # noqa: T201
        for violation in found.violations[:20]:
            print(f"  - {violation}")  # noqa: T201
    table = markdown(results)
    print(table)  # noqa: T201
    if args.report is not None:
        from tests.integration.chaos_env import write_report

        write_report(args.report, table, results)
    return 0 if all(f.ok for _, f in results) else 1


Runner = Callable[..., Any]

if __name__ == "__main__":
    raise SystemExit(main())
