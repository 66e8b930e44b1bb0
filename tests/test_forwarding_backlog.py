"""`intake forwarding backlog`: counts per status, what is due, lost leases and the pause."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from click.testing import Result
from flask import Flask
from sqlmodel import Session

from app.cli import cli
from app.models import AcceptanceRecord, RecordStatus, utcnow
from app.services.forwarding import pause_upstream
from tests.support import Users, approved, submit


@pytest.fixture(autouse=True)
def _clean_cli_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """FlaskGroup sets FLASK_RUN_FROM_CLI (as in tests/test_cli.py)."""
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "false")


def run(app: Flask, *args: str) -> Result:
    """Invoke `intake forwarding backlog` against `app`."""
    result = app.test_cli_runner().invoke(cli, ["forwarding", "backlog", *args])
    assert result.exit_code == 0, result.output
    return result


def _set(session: Session, record: AcceptanceRecord, **values: object) -> None:
    """Put a record in a state directly, as a worker would have left it."""
    for name, value in values.items():
        setattr(record, name, value)
    session.add(record)
    session.commit()


def _line(output: str, label: str) -> str:
    """The one line of the table that starts with `label`."""
    lines = [line for line in output.splitlines() if line.strip().startswith(label)]
    assert len(lines) == 1, output
    return lines[0]


@pytest.fixture
def backlog(db: Session, users: Users) -> dict[str, datetime]:
    """Two submitted, four approved of which one due later, one failed, two forwarding (one
    with an expired lease), and a throttling pause; returns the times it used."""
    now = utcnow()
    times = {
        "oldest_due": now - timedelta(hours=2, minutes=5),
        "paused_until": now + timedelta(minutes=10),
    }
    for _ in range(2):
        submit(db, users.a_submitter)
    records = [approved(db, users.a_submitter, users.reviewer) for _ in range(7)]
    _set(db, records[0], next_attempt_at=times["oldest_due"], upstream_code="503")
    _set(db, records[1], next_attempt_at=now - timedelta(minutes=1))
    _set(db, records[2], next_attempt_at=None)  # due: no time means now, as the sweeper reads it
    _set(db, records[3], next_attempt_at=now + timedelta(hours=1))  # waits for a retry
    _set(db, records[4], status=RecordStatus.FAILED.value, next_attempt_at=None)
    _set(
        db,
        records[5],
        status=RecordStatus.FORWARDING.value,
        lease_owner="lost-worker",
        lease_expires_at=now - timedelta(minutes=3),
    )
    _set(
        db,
        records[6],
        status=RecordStatus.FORWARDING.value,
        lease_owner="live-worker",
        lease_expires_at=now + timedelta(minutes=1),
    )
    pause_upstream(db, until=times["paused_until"], reason="429 from Partner Center")
    db.commit()
    return times


EXPECTED_COUNTS = {status.value: 0 for status in RecordStatus} | {
    "submitted": 2,
    "approved": 4,
    "failed": 1,
    "forwarding": 2,
}


def test_json_gives_every_status_and_the_numbers_to_watch(
    app: Flask, backlog: dict[str, datetime]
) -> None:
    data = json.loads(run(app, "--json").output)
    assert data["counts_by_status"] == EXPECTED_COUNTS
    assert list(data["counts_by_status"]) == [status.value for status in RecordStatus]
    assert data["total"] == 9
    assert data["due_now"] == 3
    assert data["expired_leases"] == 1
    taken_at = datetime.fromisoformat(data["taken_at"])
    assert datetime.fromisoformat(data["oldest_due"]) == backlog["oldest_due"]
    assert data["oldest_due_age_seconds"] == pytest.approx(
        (taken_at - backlog["oldest_due"]).total_seconds(), abs=0.01
    )
    assert 2 * 3600 < data["oldest_due_age_seconds"] < 2 * 3600 + 6 * 60
    assert datetime.fromisoformat(data["paused_until"]) == backlog["paused_until"]
    assert 9 * 60 < data["paused_for_seconds"] <= 10 * 60


def test_table_prints_the_same_numbers(app: Flask, backlog: dict[str, datetime]) -> None:
    output = run(app).output
    for status, count in EXPECTED_COUNTS.items():
        assert _line(output, status).split() == [status, str(count)]
    assert _line(output, "total").split() == ["total", "9"]
    assert "Due now:           3 approved record(s)" in output
    oldest = _line(output, "Oldest due:")
    assert backlog["oldest_due"].strftime("%Y-%m-%d %H:%M:%S UTC") in oldest
    assert oldest.endswith("(2 h 5 min ago)")
    assert _line(output, "Expired leases:").split()[2] == "1"
    pause = _line(output, "Throttling pause:")
    assert backlog["paused_until"].strftime("%Y-%m-%d %H:%M:%S UTC") in pause
    assert pause.endswith("left)")


def test_an_empty_pipeline(app: Flask, db: Session) -> None:
    data = json.loads(run(app, "--json").output)
    assert data["counts_by_status"] == {status.value: 0 for status in RecordStatus}
    assert data["due_now"] == 0
    assert data["expired_leases"] == 0
    assert data["oldest_due"] is None
    assert data["oldest_due_age_seconds"] is None
    assert data["paused_until"] is None
    assert data["paused_for_seconds"] is None

    output = run(app).output
    assert "Due now:           0 approved record(s)" in output
    assert "Oldest due:        none" in output
    assert "Throttling pause:  none" in output


def test_the_web_monitor_counts_are_unchanged(
    app: Flask, db: Session, backlog: dict[str, datetime]
) -> None:
    from app.services import monitor

    snap = monitor.snapshot(db)
    assert snap.counts == {"approved": 4, "forwarding": 2, "failed": 1}
    assert snap.counts_by_status == EXPECTED_COUNTS
    assert snap.due_now == 3
    assert snap.expired_leases == 1
    assert [r.status for r in snap.failed] == ["failed"]
    assert len(snap.in_flight) == 2
    assert len(snap.retrying) == 1
