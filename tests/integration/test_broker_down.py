"""Approving answers within 2 s when Redis is hung or down; the approval is kept for the sweeper."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from app.db import get_engine, session_scope
from app.models import AcceptanceRecord, RecordStatus, utcnow
from app.services.forwarding import due_record_ids
from tests.conftest import AppFactory, login
from tests.integration.redis_server import RedisServer
from tests.support import load_users, reread, submit


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path).start()
    yield server
    if server.process is not None:
        os.kill(server.process.pid, signal.SIGCONT)
    server.stop()


@pytest.mark.parametrize("fault", ["hung", "down"])
def test_approval_answers_in_time_and_is_kept_when_the_broker_fails(
    make_app: AppFactory, sqlite_url: str, redis_server: RedisServer, fault: str
) -> None:
    app: Flask = make_app(sqlite_url, CELERY_BROKER_URL=redis_server.url)
    with app.app_context():
        from app.db import new_session

        session = new_session(get_engine())
        users = load_users(session)
        records = [submit(session, users.a_submitter) for _ in range(3)]
        session.close()
    client = app.test_client()
    login(client, "reviewer@provider.test")
    assert redis_server.process is not None
    if fault == "hung":
        os.kill(redis_server.process.pid, signal.SIGSTOP)  # accepts connections, never answers
    else:
        redis_server.kill()

    timings = []
    for record in records:
        started = time.monotonic()
        response = client.post(f"/review/acceptances/{record.public_id}/approve")
        timings.append(time.monotonic() - started)
        assert response.status_code == 302
    assert max(timings) < 2.0, timings

    with app.app_context(), session_scope(get_engine()) as session:
        statuses = {reread(session, AcceptanceRecord, r.id).status for r in records}
        assert statuses == {RecordStatus.APPROVED}
        # The outbox: the sweeper sends them as soon as a broker answers again.
        assert set(due_record_ids(session, now=utcnow())) == {r.id for r in records}
