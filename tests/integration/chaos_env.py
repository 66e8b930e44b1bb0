"""Databases and the report for `make chaos` (the pytest suite uses its own fixtures)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from app.db import make_engine
from tests.integration.chaos_check import Findings
from tests.support import migrate_and_seed

BEGIN, END = "<!-- chaos:begin -->", "<!-- chaos:end -->"


@contextmanager
def postgres_database(_work_dir: Path) -> Iterator[str]:
    """A fresh database on TEST_POSTGRES_URL, migrated and seeded, dropped afterwards."""
    server = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"intake_chaos_{uuid.uuid4().hex[:8]}"
    admin = make_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(server).set(database=name).render_as_string(hide_password=False)
    try:
        migrate_and_seed(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def sqlite_database(work_dir: Path) -> Iterator[str]:
    """A SQLite file in the run's folder, migrated and seeded."""
    work_dir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{work_dir / 'intake.sqlite'}"
    migrate_and_seed(url)
    yield url


def write_report(path: Path, table: str, results: list[tuple[str, Findings]]) -> None:
    """Put the figures of this run between the markers of docs/RELIABILITY.md."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    details = "\n".join(
        f"<details><summary>{name}: every figure</summary>\n\n```json\n"
        f"{json.dumps(found.figures, indent=2, default=str)}\n```\n</details>\n"
        for name, found in results
    )
    heading = f"Run of {stamp} (`make chaos`, {os.cpu_count()} cores):"
    block = f"{BEGIN}\n{heading}\n\n{table}\n\n{details}{END}"
    text = path.read_text() if path.exists() else f"# Reliability\n\n{BEGIN}\n{END}\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        text = head + block + tail
    else:
        text += "\n" + block + "\n"
    path.write_text(text)
