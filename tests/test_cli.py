"""The `intake` command: migrations, demo data, users and API tokens."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import Result
from flask import Flask
from sqlmodel import Session, col, select

from app.cli import DEMO_USERS, cli
from app.db import make_engine
from app.models import Organization, User
from tests.conftest import AppFactory

DEMO_EMAILS = {email for _org, email, _name, _role in DEMO_USERS}


@pytest.fixture(autouse=True)
def _clean_cli_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """FlaskGroup sets FLASK_RUN_FROM_CLI; seed-demo reads DEMO_PASSWORD."""
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "false")  # restored (removed) after the test
    monkeypatch.delenv("DEMO_PASSWORD", raising=False)


def run(app: Flask, *args: str) -> Result:
    """Invoke the `intake` group against `app` (the runner passes a ScriptInfo for it)."""
    return app.test_cli_runner().invoke(cli, list(args))


def count_users(url: str, emails: set[str]) -> int:
    engine = make_engine(url, poolclass=sa.pool.NullPool)
    try:
        with Session(engine) as session:
            return len(list(session.exec(select(User).where(col(User.email).in_(emails)))))
    finally:
        engine.dispose()


@pytest.fixture
def fresh_url(tmp_path: Path) -> str:
    """A SQLite file that does not exist yet, in a folder that does not exist yet."""
    return f"sqlite:///{tmp_path / 'new' / 'intake.sqlite'}"


def test_db_upgrade_creates_the_tables_in_a_new_sqlite_file(
    make_app: AppFactory, fresh_url: str
) -> None:
    result = run(make_app(fresh_url), "db", "upgrade")
    assert result.exit_code == 0, result.output
    assert "database at head" in result.output
    engine = make_engine(fresh_url, poolclass=sa.pool.NullPool)
    try:
        tables = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {
        "organization",
        "user_account",
        "api_token",
        "customer",
        "customer_reseller",
        "acceptance_record",
        "confirmation",
        "audit_event",
        "alembic_version",
    } <= tables


def test_seed_demo_is_idempotent_and_prints_the_demo_logins(
    make_app: AppFactory, fresh_url: str
) -> None:
    app = make_app(fresh_url)
    assert run(app, "db", "upgrade").exit_code == 0
    first = run(app, "seed-demo")
    second = run(app, "seed-demo")
    for result in (first, second):
        assert result.exit_code == 0, result.output
        assert "intake-demo-2026" in result.output  # the password is printed
        for email in (
            "admin@provider.example",
            "reviewer@provider.example",
            "submitter@reseller-a.example",
            "submitter@reseller-b.example",
        ):
            assert email in result.output
    assert count_users(fresh_url, DEMO_EMAILS) == 4
    engine = make_engine(fresh_url, poolclass=sa.pool.NullPool)
    try:
        with Session(engine) as session:
            names = sorted(o.name for o in session.exec(select(Organization)))
    finally:
        engine.dispose()
    assert names == ["Demo Distribution", "Reseller A", "Reseller B"]


def test_seeded_demo_user_signs_in_with_the_printed_password(
    make_app: AppFactory, fresh_url: str
) -> None:
    app = make_app(fresh_url)
    assert run(app, "db", "upgrade").exit_code == 0
    assert run(app, "seed-demo").exit_code == 0
    response = app.test_client().post(
        "/login", data={"email": "submitter@reseller-a.example", "password": "intake-demo-2026"}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/reseller/acceptances"


def test_tokens_create_prints_only_a_token_that_works_on_the_api(
    make_app: AppFactory, sqlite_url: str
) -> None:
    app = make_app(sqlite_url)
    result = run(app, "tokens", "create", "--email", "submitter@a.test")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    token = lines[0]
    assert token.startswith("ipt_")
    assert token == token.strip()
    response = app.test_client().get(
        "/api/v1/acceptances", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"items": [], "nextCursor": None}


def test_tokens_create_for_an_unknown_user_fails_readably(
    make_app: AppFactory, sqlite_url: str
) -> None:
    result = run(make_app(sqlite_url), "tokens", "create", "--email", "nobody@a.test")
    assert result.exit_code != 0
    assert "no user nobody@a.test" in result.stderr
    assert result.stdout == ""  # nothing on stdout that a script could take for a token


def test_tokens_create_for_a_disabled_user_fails_readably(
    make_app: AppFactory, sqlite_url: str
) -> None:
    result = run(make_app(sqlite_url), "tokens", "create", "--email", "disabled@a.test")
    assert result.exit_code != 0
    assert "disabled" in result.stderr
    assert result.stdout == ""


def test_users_create_with_a_short_password_fails_readably(
    make_app: AppFactory, sqlite_url: str
) -> None:
    app = make_app(sqlite_url)
    result = run(
        app,
        "users",
        "create",
        "--email",
        "new@a.test",
        "--role",
        "reseller_submitter",
        "--organization",
        "Reseller A",
        "--password",
        "short",
    )
    assert result.exit_code != 0
    assert "Use at least 10 characters." in result.stderr
    assert "Traceback" not in result.output
    assert count_users(sqlite_url, {"new@a.test"}) == 0


def test_users_create_makes_a_user_who_can_sign_in(make_app: AppFactory, sqlite_url: str) -> None:
    app = make_app(sqlite_url)
    result = run(
        app,
        "users",
        "create",
        "--email",
        "New@A.test",
        "--name",
        "New Person",
        "--role",
        "reseller_admin",
        "--organization",
        "Reseller A",
        "--password",
        "a-long-enough-password",
    )
    assert result.exit_code == 0, result.output
    assert "created new@a.test (reseller_admin) in Reseller A" in result.output
    response = app.test_client().post(
        "/login", data={"email": "new@a.test", "password": "a-long-enough-password"}
    )
    assert response.status_code == 302


def test_users_create_in_a_missing_organization_fails_readably(
    make_app: AppFactory, sqlite_url: str
) -> None:
    result = run(
        make_app(sqlite_url),
        "users",
        "create",
        "--email",
        "new@c.test",
        "--role",
        "reseller_submitter",
        "--organization",
        "Reseller C",
        "--password",
        "a-long-enough-password",
    )
    assert result.exit_code != 0
    assert "no organization named 'Reseller C'" in result.stderr
    assert count_users(sqlite_url, {"new@c.test"}) == 0


def test_seed_demo_refuses_in_production(make_app: AppFactory, fresh_url: str) -> None:
    app = make_app(fresh_url, ENV="production", TRUSTED_HOSTS="localhost")
    assert run(app, "db", "upgrade").exit_code == 0
    result = run(app, "seed-demo")
    assert result.exit_code != 0
    assert "refusing in production" in result.stderr
    assert count_users(fresh_url, DEMO_EMAILS) == 0


@pytest.mark.parametrize(
    ("email", "role", "message"),
    [
        ("new@a.test", "provider_admin", "A reseller user cannot have role provider_admin."),
        ("Submitter@A.test", "reseller_submitter", "A user with this email already exists."),
    ],
)
def test_users_create_refuses_a_bad_role_or_a_taken_email(
    make_app: AppFactory, sqlite_url: str, email: str, role: str, message: str
) -> None:
    result = run(
        make_app(sqlite_url),
        "users",
        "create",
        "--email",
        email,
        "--role",
        role,
        "--organization",
        "Reseller A",
        "--password",
        "a-long-enough-password",
    )
    assert result.exit_code != 0
    assert message in result.stderr
    assert count_users(sqlite_url, {"new@a.test"}) == 0
