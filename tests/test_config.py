"""Settings from the environment: URL spellings, embedded defaults, and failing fast."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import ConfigError, Settings

LONG_KEY = "k" * 32


def settings(**environ: str) -> Settings:
    return Settings.from_env(environ=environ)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql://u:p@h:5432/db", "postgresql+psycopg://u:p@h:5432/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:////var/lib/intake/intake.sqlite", "sqlite:////var/lib/intake/intake.sqlite"),
        ("sqlite:///relative.sqlite", "sqlite:///relative.sqlite"),
    ],
)
def test_database_url_spellings_map_onto_the_installed_drivers(given: str, expected: str) -> None:
    assert settings(DATABASE_URL=given).database_url == expected


def test_database_and_broker_default_to_sqlite_files_under_the_instance_dir(
    tmp_path: Path,
) -> None:
    loaded = settings(INSTANCE_DIR=str(tmp_path))
    assert loaded.instance_dir == tmp_path
    assert loaded.database_url == f"sqlite:///{tmp_path / 'intake.sqlite'}"
    assert loaded.celery_broker_url == f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}"
    assert loaded.is_sqlite


def test_explicit_broker_url_is_kept(tmp_path: Path) -> None:
    loaded = settings(INSTANCE_DIR=str(tmp_path), CELERY_BROKER_URL="redis://r:6379/0")
    assert loaded.celery_broker_url == "redis://r:6379/0"


def test_empty_variables_count_as_unset(tmp_path: Path) -> None:
    loaded = settings(INSTANCE_DIR=str(tmp_path), DATABASE_URL="", INTAKE_ENV="")
    assert loaded.env == "development"
    assert loaded.database_url == f"sqlite:///{tmp_path / 'intake.sqlite'}"


def test_development_needs_no_secret_key() -> None:
    assert settings().env == "development"


@pytest.mark.parametrize("environ", [{}, {"SECRET_KEY": "short"}, {"SECRET_KEY": "k" * 31}])
def test_production_without_a_long_secret_key_refuses_to_start(environ: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        settings(INTAKE_ENV="production", **environ)


def test_production_with_a_long_secret_key_starts() -> None:
    loaded = settings(INTAKE_ENV="production", SECRET_KEY=LONG_KEY, TRUSTED_HOSTS="intake.example")
    assert loaded.env == "production"
    assert loaded.secret_key == LONG_KEY


@pytest.mark.parametrize("env", ["prod", "staging", "Production"])
def test_unknown_environment_refuses_to_start(env: str) -> None:
    with pytest.raises(ConfigError, match="INTAKE_ENV"):
        settings(INTAKE_ENV=env)


@pytest.mark.parametrize("flow", ["modern", "LEGACY"])
def test_unknown_partner_center_flow_refuses_to_start(flow: str) -> None:
    with pytest.raises(ConfigError, match="PARTNER_CENTER_FLOW"):
        settings(PARTNER_CENTER_FLOW=flow)


def test_legacy_flow_is_accepted() -> None:
    assert settings(PARTNER_CENTER_FLOW="legacy").partner_center_flow == "legacy"


@pytest.mark.parametrize(
    ("variable", "raw"),
    [
        ("FORWARD_LEASE_SECONDS", "two minutes"),
        ("FORWARD_MAX_ATTEMPTS", "12.5"),
        ("FORWARD_RETRY_BASE_SECONDS", "fast"),
        ("PARTNER_CENTER_TIMEOUT_SECONDS", "20s"),
        ("TEMPLATE_SYNC_SECONDS", "hourly"),
    ],
)
def test_bad_number_names_the_variable(variable: str, raw: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        settings(**{variable: raw})


def test_numbers_and_flags_are_parsed() -> None:
    loaded = settings(
        FORWARD_LEASE_SECONDS="45",
        FORWARD_RETRY_BASE_SECONDS="0.5",
        PARTNER_CENTER_TIMEOUT_SECONDS="7",
        SESSION_COOKIE_SECURE="yes",
    )
    assert loaded.forward_lease_seconds == 45
    assert loaded.forward_retry_base_seconds == 0.5
    assert loaded.partner_center_timeout_seconds == 7.0
    assert loaded.session_cookie_secure is True


def test_overrides_win_over_the_environment_and_unknown_ones_go_to_extra() -> None:
    loaded = Settings.from_env(
        environ={"FORWARD_LEASE_SECONDS": "45"},
        overrides={"FORWARD_LEASE_SECONDS": 10, "WTF_CSRF_ENABLED": False},
    )
    assert loaded.forward_lease_seconds == 10
    assert loaded.extra == {"WTF_CSRF_ENABLED": False}


def test_production_check_also_applies_to_overrides() -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        Settings.from_env(environ={}, overrides={"ENV": "production", "SECRET_KEY": "short"})
