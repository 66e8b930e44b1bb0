"""Alembic environment: the portal's models are the target; the URL comes from its settings."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from sqlalchemy import Connection

import app.models  # noqa: F401  (registers every table on the metadata)
from app.config import Settings
from app.db import make_engine
from app.models.base import UTCDateTime, metadata

config = context.config


def _url() -> str:
    # An explicit URL (set by `intake db upgrade` or tests) wins over the environment.
    url = config.get_main_option("sqlalchemy.url")
    return url or Settings.from_env().database_url


def _render_item(type_: str, obj: Any, _autogen_context: Any) -> str | Literal[False]:
    # Migrations stay independent of app code: UTCDateTime is a plain DateTime in the database.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    return False


def _configure(connection: Connection | None = None, url: str | None = None) -> None:
    context.configure(
        connection=connection,
        url=url,
        target_metadata=metadata,
        compare_type=True,
        render_item=_render_item,
        render_as_batch=True,  # SQLite needs table rebuilds for most ALTERs
        literal_binds=connection is None,
    )


def run_offline() -> None:
    """Emit SQL to stdout instead of running it."""
    _configure(url=_url())
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Run the migrations against the database."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:
                # Table rebuilds (batch mode) drop and recreate tables that others reference:
                # check the keys once at the end instead of on every step.
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
            _configure(conn)
            with context.begin_transaction():
                context.run_migrations()
            if sqlite:
                broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                conn.commit()
                if broken:
                    raise RuntimeError(f"migration left broken foreign keys: {broken[:5]}")
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
