"""The migrations build the whole model on an empty database, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import app.models  # noqa: F401  (every table on the metadata)
from app.cli import alembic_config
from app.db import make_engine
from app.models.base import metadata


def _diff(url: str) -> list[object]:
    engine = make_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def _check_upgrade_matches_models(url: str) -> None:
    command.upgrade(alembic_config(url), "head")
    assert _diff(url) == []
    command.downgrade(alembic_config(url), "base")
    engine = make_engine(url, poolclass=sa.pool.NullPool)
    try:
        tables = set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()
    assert tables == set()


def test_sqlite_upgrade_matches_models_and_downgrades(tmp_path: Path) -> None:
    _check_upgrade_matches_models(f"sqlite:///{tmp_path / 'm.sqlite'}")


@pytest.mark.postgres
def test_postgres_upgrade_matches_models_and_downgrades(postgres_server_url: str) -> None:
    admin = make_engine(
        postgres_server_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
    )
    name = "intake_migration_check"
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        url = sa.make_url(postgres_server_url).set(database=name)
        _check_upgrade_matches_models(url.render_as_string(hide_password=False))
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_models_detect_a_missing_column(tmp_path: Path) -> None:
    """The comparison above can fail: a column dropped behind Alembic's back is reported."""
    url = f"sqlite:///{tmp_path / 'm.sqlite'}"
    command.upgrade(alembic_config(url), "head")
    engine = make_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE import_job DROP COLUMN rows_failed"))
    engine.dispose()
    assert any("rows_failed" in str(item) for item in _diff(url))
