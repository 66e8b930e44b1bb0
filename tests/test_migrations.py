"""The migrations build the whole model on an empty database, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
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
    name = f"intake_migration_check_{os.getpid()}"
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


ROWS_AT_0001 = [
    "INSERT INTO organization (kind, name, email_domains, active, created_at) "
    "VALUES ('reseller', 'R', '[]', true, '2026-01-01')",
    "INSERT INTO user_account (organization_id, email, name, role, password_hash, active, "
    "session_token, failed_logins, created_at) VALUES (1, 'a@b.example', 'A', "
    "'reseller_submitter', 'x', true, 't', 0, '2026-01-01')",
    "INSERT INTO customer (tenant_id, company_name, cloud, created_at, updated_at) "
    "VALUES ('t1', 'C', 'public', '2026-01-01', '2026-01-01')",
    "INSERT INTO acceptance_record (public_id, customer_id, reseller_id, submitted_by_id, source, "
    "agreement_type, template_id, date_agreed, contact_first_name, contact_last_name, "
    "contact_email, flags, status, attempts, created_at, updated_at, submitted_at) VALUES "
    "('p1', 1, 1, 1, 'web', 'MicrosoftCustomerAgreement', 't', '2026-01-01', 'a', 'b', "
    "'c@d.example', '[]', 'confirmed', 1, '2026-01-01', '2026-01-01', '2026-01-01')",
    "INSERT INTO confirmation (customer_id, agreement_type, template_id, source, record_id, "
    "state, created_at) VALUES (1, 'MicrosoftCustomerAgreement', 't', 'sent', 1, 'active', "
    "'2026-01-01')",
    "UPDATE acceptance_record SET confirmation_id = 1",
]


def _check_upgrade_keeps_data(url: str) -> None:
    command.upgrade(alembic_config(url), "0001")
    engine = make_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            for statement in ROWS_AT_0001:
                conn.execute(sa.text(statement))
        command.upgrade(alembic_config(url), "head")
        with engine.connect() as conn:
            row = conn.execute(
                sa.text("SELECT public_id, status, confirmation_id, version FROM acceptance_record")
            ).one()
        assert tuple(row) == ("p1", "confirmed", 1, 1)
        command.downgrade(alembic_config(url), "0001")
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM confirmation")).scalar() == 1
    finally:
        engine.dispose()


def test_sqlite_upgrade_keeps_existing_records(tmp_path: Path) -> None:
    _check_upgrade_keeps_data(f"sqlite:///{tmp_path / 'd.sqlite'}")


@pytest.mark.postgres
def test_postgres_upgrade_keeps_existing_records(postgres_server_url: str) -> None:
    admin = make_engine(
        postgres_server_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
    )
    name = f"intake_migration_data_check_{os.getpid()}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        url = sa.make_url(postgres_server_url).set(database=name)
        _check_upgrade_keeps_data(url.render_as_string(hide_password=False))
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
