"""Bulk import with real processes (R15): the upload's message reaches a real Celery worker, and
beat's sweeper sends a job whose message was lost; on the embedded default (SQLite + the
embedded broker) and on PostgreSQL + Redis."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from app.db import get_engine, new_session
from app.models import AcceptanceRecord, utcnow
from app.models.imports import ImportJob, ImportStatus
from app.services import imports
from tests.conftest import AppFactory, login
from tests.integration.processes import celery_beat, celery_worker, running, wait_until
from tests.services.test_imports import csv_bytes, row
from tests.support import load_users

pytestmark = pytest.mark.slow


@dataclass
class Stack:
    """The in-process web app and the environment the worker processes share with it."""

    app: Flask
    env: dict[str, str]
    log_dir: Path

    def jobs(self) -> dict[int, tuple[str, int, int]]:
        """Each job's status, rows created and rows failed, as committed now."""
        with self.app.app_context():
            session = new_session(get_engine(), read_only=True)
            try:
                rows = session.exec(
                    sa.select(
                        ImportJob.id,
                        ImportJob.status,
                        ImportJob.rows_created,
                        ImportJob.rows_failed,
                    )
                ).all()
                return {row[0]: (row[1], row[2], row[3]) for row in rows}
            finally:
                session.close()

    def records(self) -> int:
        """Acceptance records in the database."""
        with self.app.app_context():
            session = new_session(get_engine(), read_only=True)
            try:
                return int(
                    session.exec(sa.select(sa.func.count()).select_from(AcceptanceRecord)).one()[0]
                )
            finally:
                session.close()


@pytest.fixture(params=["embedded", "postgres+redis"])
def stack(request: pytest.FixtureRequest, make_app: AppFactory, tmp_path: Path) -> Stack:
    if request.param == "embedded":
        database_url = request.getfixturevalue("sqlite_url")
        broker_url = f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}"
    else:
        database_url = request.getfixturevalue("postgres_url")
        broker_url = request.getfixturevalue("redis_url")
    env = {
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
        "PARTNER_CENTER_URL": "http://127.0.0.1:9",  # nothing is forwarded in these tests
        "INTAKE_ENV": "testing",
        "SECRET_KEY": "test-secret-key-" + "x" * 32,
        "INSTANCE_DIR": str(tmp_path / "instance"),
        "FORWARD_SWEEP_SECONDS": "2",
        "FORWARD_REQUEUE_SECONDS": "3",
        "TEMPLATE_SYNC_SECONDS": "3600",
    }
    app = make_app(database_url, CELERY_BROKER_URL=broker_url)
    return Stack(app=app, env=env, log_dir=tmp_path)


def test_a_worker_imports_an_upload_and_the_sweeper_sends_a_lost_one(stack: Stack) -> None:
    uploaded = csv_bytes([row() for _ in range(25)] + [row(email="wrong")])
    client = stack.app.test_client()
    login(client, "submitter@a.test")
    # Published through the real broker before any worker runs: it waits in the queue.
    response = client.post(
        "/reseller/imports",
        data={"file": (io.BytesIO(uploaded), "batch.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    # A second job stored without any message (the broker was down at upload time), already
    # quiet for longer than the requeue interval: only the sweeper can start it.
    with stack.app.app_context():
        session = new_session(get_engine())
        users = load_users(session)
        lost = imports.create_job(
            session, actor=users.b_submitter, filename="lost.csv", content=csv_bytes([row()])
        )
        lost.touched_at = utcnow() - timedelta(minutes=5)
        session.commit()
        lost_id = lost.id
        session.close()

    worker = celery_worker(stack.env, stack.log_dir)
    beat = celery_beat(stack.env, stack.log_dir)
    with running(worker, beat):
        done = wait_until(
            lambda: all(s == ImportStatus.FINISHED for s, _c, _f in stack.jobs().values()),
            timeout=45,
        )
        assert done, f"not finished after 45 s: {stack.jobs()}\n{worker.log()[-4000:]}"

    jobs = stack.jobs()
    assert jobs[lost_id] == (ImportStatus.FINISHED, 1, 0)
    assert sorted(jobs.values()) == [(ImportStatus.FINISHED, 1, 0), (ImportStatus.FINISHED, 25, 1)]
    assert stack.records() == 26
    assert "import job" in worker.log()
    # Personal data stays out of the worker's log.
    assert "contoso.example" not in worker.log().lower()
