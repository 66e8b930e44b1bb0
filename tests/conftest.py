"""Fixtures: a migrated SQLite database per test (copied from a template), PostgreSQL and Redis
from the environment, the app, its session, the seeded users and the fake Partner Center."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask, g
from flask.testing import FlaskClient
from sqlmodel import Session

from app import create_app
from app.db import get_session, make_engine
from app.partner_center.fake_server import FakeServer
from tests.support import (
    PASSWORD,
    SEED_EMAILS,
    SEED_ORGS,
    Users,
    in_ci,
    load_users,
    migrate_and_seed,
)

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def unavailable(what: str, why: str) -> None:
    """Skip, or under CI fail: a missing service is a failure there."""
    message = f"{what} is not reachable ({why})"
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, seeded SQLite file that each test copies."""
    path = tmp_path_factory.mktemp("template") / "intake.sqlite"
    migrate_and_seed(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A fresh SQLite database for this test."""
    path = tmp_path / "intake.sqlite"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """The PostgreSQL server for integration tests (TEST_POSTGRES_URL)."""
    url = os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    engine = make_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        unavailable("PostgreSQL", str(exc).splitlines()[0])
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="session")
def postgres_template(postgres_server_url: str) -> Iterator[str]:
    """A database of our own on the server, migrated and seeded, dropped at the end."""
    name = f"intake_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = make_engine(
        postgres_server_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
    )
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(postgres_server_url).set(database=name).render_as_string(hide_password=False)
    try:
        migrate_and_seed(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


KEEP_TABLES = {"organization", "user_account", "alembic_version"}


@pytest.fixture
def postgres_url(postgres_template: str) -> str:
    """The test PostgreSQL database, emptied of everything but the seeded users."""
    engine = make_engine(postgres_template, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            tables = [
                row[0]
                for row in conn.execute(
                    sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                )
                if row[0] not in KEEP_TABLES
            ]
            conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            conn.execute(
                sa.text("DELETE FROM user_account WHERE NOT (email = ANY(:keep))"),
                {"keep": list(SEED_EMAILS)},
            )
            conn.execute(
                sa.text("DELETE FROM organization WHERE NOT (name = ANY(:keep))"),
                {"keep": list(SEED_ORGS)},
            )
            conn.execute(sa.text("UPDATE user_account SET failed_logins = 0, locked_until = NULL"))
    finally:
        engine.dispose()
    return postgres_template


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Run the test on both databases."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A Redis database number of our own (TEST_REDIS_URL), emptied before use."""
    import redis

    url = os.environ.get("TEST_REDIS_URL", DEFAULT_REDIS_URL)
    base = url.rsplit("/", 1)[0]
    # One database number per pytest-xdist worker (gw0, gw1, ...), else per process.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    number = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else os.getpid()
    url = f"{base}/{7 + number % 8}"
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.flushdb()
    except redis.exceptions.ConnectionError as exc:
        unavailable("Redis", str(exc))
    finally:
        client.close()
    return url


@pytest.fixture
def fake_pc() -> Iterator[FakeServer]:
    """The fake Partner Center on a free port, over real HTTP."""
    with FakeServer() as server:
        yield server


AppFactory = Callable[..., Flask]


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[AppFactory]:
    """Build apps for a database URL; their engines and HTTP clients close at the end."""
    apps: list[Flask] = []

    def build(database_url: str, **overrides: Any) -> Flask:
        config: dict[str, Any] = {
            "DATABASE_URL": database_url,
            "INSTANCE_DIR": tmp_path / "instance",
            "ENV": "testing",
            "SECRET_KEY": "test-secret-key-" + "x" * 32,
            "CELERY_BROKER_URL": "memory://",
            "PARTNER_CENTER_URL": "http://127.0.0.1:9",
            # The legacy flow unless a test asks for the enhanced one (its own tests do).
            "PARTNER_CENTER_FLOW": "legacy",
            "WTF_CSRF_ENABLED": False,
            "FORWARD_LEASE_SECONDS": 30,
            "FORWARD_RETRY_BASE_SECONDS": 1,
            "PARTNER_CENTER_TIMEOUT_SECONDS": 5,
        }
        config.update(overrides)
        app = create_app(config)

        @app.before_request
        def _fresh_user() -> None:
            # Test requests reuse the test's app context, so `g` too: forget the user the
            # previous request cached there, as a production request starts without one.
            g.pop("_login_user", None)

        apps.append(app)
        return app

    yield build
    for app in apps:
        gateway = app.extensions.get("partner_center_gateway")
        if gateway is not None:
            gateway.close()
        app.extensions["db_engine"].dispose()


@pytest.fixture
def app(make_app: AppFactory, sqlite_url: str) -> Flask:
    """The portal on a fresh SQLite database."""
    return make_app(sqlite_url)


@pytest.fixture
def db(app: Flask) -> Iterator[Session]:
    """The app's session inside an app context."""
    with app.app_context():
        yield get_session()


@pytest.fixture
def users(db: Session) -> Users:
    """The seeded users."""
    return load_users(db)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A browser-like test client."""
    return app.test_client()


def login(client: FlaskClient, email: str, password: str = PASSWORD) -> None:
    """Sign in through the login form."""
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code == 302, response.data[:500]
