"""Database engine and sessions: one engine per process, one session per request or task.

SQLite runs in WAL mode and opens every transaction with `BEGIN IMMEDIATE`: a transaction that
reads and then writes can otherwise fail at once with "database is locked" when another process
wrote in between, whatever the busy timeout. Sessions that only read (web pages answering GET)
begin deferred instead, so they never wait for writers nor make writers wait. PostgreSQL uses
row locks where the services ask.

The PostgreSQL pool holds as many connections as the process runs threads that use the database
(`pool_size_for`): a Celery worker with 32 threads and a pool of 5 would make 27 threads wait,
or open and close overflow connections all the time. The worker passes its concurrency as the
`DB_POOL_SIZE` setting (workers/celery_app.py); docs/OPERATIONS.md sums the connections every
process may open against PostgreSQL's `max_connections`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import Engine, create_engine, event
from sqlmodel import Session

SQLITE_BUSY_TIMEOUT_MS = 30_000
READ_ONLY_OPTION = "intake_read_only"
# SQLAlchemy's defaults, right for a web process of a few threads.
DEFAULT_POOL_SIZE = 5
DEFAULT_MAX_OVERFLOW = 10
# Flask config key: the number of threads of this process that use the database.
POOL_SIZE_KEY = "DB_POOL_SIZE"


def pool_size_for(threads: int | None) -> tuple[int, int]:
    """(pool_size, max_overflow) for a process running `threads` database-using threads.

    One kept connection per thread, so none waits for another's and none is opened per task;
    a small overflow covers the rare second connection of a thread (e.g. storing a rotated
    refresh token) and the worker's own housekeeping. None or fewer threads than the default
    pool keep SQLAlchemy's defaults.
    """
    if threads is None or threads <= DEFAULT_POOL_SIZE:
        return DEFAULT_POOL_SIZE, DEFAULT_MAX_OVERFLOW
    return threads, 4


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for `url` with the settings this project relies on."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
            **kwargs,
        )
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", DEFAULT_POOL_SIZE)
        kwargs.setdefault("max_overflow", DEFAULT_MAX_OVERFLOW)
    return create_engine(url, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below decide how transactions start.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        read_only = conn.get_execution_options().get(READ_ONLY_OPTION, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def new_session(engine: Engine, *, read_only: bool = False) -> Session:
    """A session whose objects stay readable after commit (views render after committing).

    `read_only` sessions must not write: on SQLite they do not take the write lock.
    """
    bind = engine.execution_options(**{READ_ONLY_OPTION: True}) if read_only else engine
    return Session(bind, expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A transaction for CLI commands and tasks: commit on success, roll back on error."""
    session = new_session(engine)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def init_app(app: Flask, url: str) -> None:
    """Create this process's engine and close the request's session at teardown.

    The pool is sized for `app.config["DB_POOL_SIZE"]` threads when set (SQLite ignores it).
    """
    kwargs: dict[str, Any] = {}
    if not url.startswith("sqlite"):
        threads = app.config.get(POOL_SIZE_KEY)
        pool_size, max_overflow = pool_size_for(int(threads) if threads else None)
        kwargs = {"pool_size": pool_size, "max_overflow": max_overflow}
    app.extensions["db_engine"] = make_engine(url, **kwargs)
    app.teardown_appcontext(_close_session)


def get_engine() -> Engine:
    """The current app's engine."""
    engine: Engine = current_app.extensions["db_engine"]
    return engine


def get_session() -> Session:
    """The session of the current request (or app context), created on first use."""
    session: Session | None = g.get("_db_session")
    if session is None:
        session = new_session(get_engine(), read_only=_reading_page())
        g._db_session = session
    return session


def _reading_page() -> bool:
    # Web pages answering GET only read; the API may note a token's use even on GET.
    return (
        has_request_context()
        and request.method in ("GET", "HEAD")
        and not request.path.startswith("/api/")
    )


def _close_session(_exc: BaseException | None) -> None:
    session: Session | None = g.pop("_db_session", None)
    if session is not None:
        # Anything not committed by the view is rolled back here.
        session.close()
