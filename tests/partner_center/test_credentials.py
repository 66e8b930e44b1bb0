"""Real credentials: encrypted stored secrets, the auth mode settings, the runtime providers.

MSAL is replaced by a scripted app at `runtime._msal_app_factory` (login.microsoftonline.com is
unreachable here); everything else is real: the migrated database, Fernet, the settings.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.fernet import Fernet
from flask import Flask
from sqlmodel import Session, select

from app.config import ConfigError, Settings
from app.db import make_engine, session_scope
from app.models import StoredSecret
from app.partner_center import runtime
from app.partner_center.auth import (
    MsalAppOnlyTokenProvider,
    MsalRefreshTokenProvider,
    StaticTokenProvider,
)
from app.services.secrets import (
    InvalidCredentialsKey,
    SecretUnreadable,
    load_secret,
    save_secret,
)
from tests.conftest import AppFactory

KEY = Fernet.generate_key().decode()
OLD_KEY = Fernet.generate_key().decode()
SECRET = "0.AXEA-refresh-token-value"  # noqa: S105 (test data)
MSAL_SETTINGS = {
    "PARTNER_CENTER_TENANT_ID": "11111111-2222-3333-4444-555555555555",
    "PARTNER_CENTER_CLIENT_ID": "66666666-7777-8888-9999-000000000000",
    "PARTNER_CENTER_CLIENT_SECRET": "client-secret-value",
}


class ScriptedMsalApp:
    """Stands in for msal.ConfidentialClientApplication: answers from a script, records calls."""

    def __init__(self, *results: Any) -> None:
        self.results = list(results)
        self.calls: list[tuple[str, str | None]] = []
        self._lock = threading.Lock()

    def _next(self, name: str, refresh_token: str | None) -> Any:
        with self._lock:
            self.calls.append((name, refresh_token))
            return self.results.pop(0) if len(self.results) > 1 else self.results[0]

    def acquire_token_by_refresh_token(self, refresh_token: str, scopes: list[str]) -> Any:
        """Redeem a refresh token (scripted)."""
        return self._next("refresh", refresh_token)

    def acquire_token_for_client(self, scopes: list[str]) -> Any:
        """Client credentials (scripted)."""
        return self._next("client", None)


def granted(access: str = "access-1", rotated: str | None = "rt-rotated") -> dict[str, Any]:
    """An MSAL success result, optionally with a rotated refresh token."""
    result: dict[str, Any] = {"access_token": access, "expires_in": 3600}
    if rotated is not None:
        result["refresh_token"] = rotated
    return result


def use_msal(monkeypatch: pytest.MonkeyPatch, app: ScriptedMsalApp) -> None:
    """Make the runtime build its providers around `app`."""
    monkeypatch.setattr(runtime, "_msal_app_factory", lambda _settings: app)


def settings(**environ: str) -> Settings:
    return Settings.from_env(environ=environ)


# -- stored secrets ----------------------------------------------------------------------------


@pytest.fixture
def session(sqlite_url: str) -> Iterator[Session]:
    """A session on a fresh migrated database."""
    engine = make_engine(sqlite_url)
    with Session(engine) as session_:
        yield session_
    engine.dispose()


def test_secret_round_trip_is_encrypted_and_replaces_the_previous_value(session: Session) -> None:
    save_secret(session, name="api", value=SECRET, key=KEY)
    row = session.exec(select(StoredSecret).where(StoredSecret.name == "api")).one()
    assert SECRET not in row.ciphertext
    assert load_secret(session, name="api", key=KEY) == SECRET

    save_secret(session, name="api", value="second", key=KEY)
    assert load_secret(session, name="api", key=KEY) == "second"
    assert len(session.exec(select(StoredSecret)).all()) == 1
    assert load_secret(session, name="missing", key=KEY) is None


def test_a_wrong_key_is_a_clear_error_without_the_secret(session: Session) -> None:
    save_secret(session, name="api", value=SECRET, key=KEY)
    with pytest.raises(SecretUnreadable, match="cannot be decrypted with CREDENTIALS_KEY") as info:
        load_secret(session, name="api", key=OLD_KEY)
    assert SECRET not in str(info.value)


# Explicit ids: the key is random, and pytest-xdist needs the same test names in every worker.
@pytest.mark.parametrize("bad", ["", "not-a-key", f"{KEY},short"], ids=["empty", "junk", "list"])
def test_an_invalid_key_is_refused_without_echoing_it(session: Session, bad: str) -> None:
    with pytest.raises(InvalidCredentialsKey) as info:
        save_secret(session, name="api", value=SECRET, key=bad)
    if bad:
        assert bad.split(",")[-1] not in str(info.value)


def test_key_rotation_new_key_first_old_key_still_decrypts(session: Session) -> None:
    save_secret(session, name="api", value=SECRET, key=OLD_KEY)
    rotating = f"{KEY},{OLD_KEY}"
    assert load_secret(session, name="api", key=rotating) == SECRET
    with pytest.raises(SecretUnreadable):
        load_secret(session, name="api", key=KEY)
    # The next save encrypts with the first key: the old one can then be retired.
    save_secret(session, name="api", value=SECRET, key=rotating)
    assert load_secret(session, name="api", key=KEY) == SECRET
    with pytest.raises(SecretUnreadable):
        load_secret(session, name="api", key=OLD_KEY)


# -- settings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "mode"),
    [
        ({}, "static"),
        ({**MSAL_SETTINGS, "PARTNER_CENTER_REFRESH_TOKEN": "rt"}, "app_user"),
        (MSAL_SETTINGS, "app_only"),
        ({"PARTNER_CENTER_CLIENT_ID": "x"}, "static"),
        ({**MSAL_SETTINGS, "PARTNER_CENTER_AUTH": "static"}, "static"),
        (
            {
                **MSAL_SETTINGS,
                "PARTNER_CENTER_REFRESH_TOKEN": "rt",
                "PARTNER_CENTER_AUTH": "app_only",
            },
            "app_only",
        ),
    ],
)
def test_auth_mode_is_chosen_from_the_settings(environ: dict[str, str], mode: str) -> None:
    assert settings(**environ).partner_center_auth_mode == mode


def test_an_unknown_auth_mode_refuses_to_start() -> None:
    with pytest.raises(ConfigError, match="PARTNER_CENTER_AUTH must be one of"):
        settings(PARTNER_CENTER_AUTH="password")


@pytest.mark.parametrize(
    "missing",
    [
        "PARTNER_CENTER_TENANT_ID",
        "PARTNER_CENTER_CLIENT_ID",
        "PARTNER_CENTER_CLIENT_SECRET",
        "PARTNER_CENTER_REFRESH_TOKEN",
    ],
)
def test_app_user_names_what_is_missing(missing: str) -> None:
    environ = {**MSAL_SETTINGS, "PARTNER_CENTER_REFRESH_TOKEN": "rt"}
    del environ[missing]
    with pytest.raises(ConfigError, match=missing):
        settings(PARTNER_CENTER_AUTH="app_user", **environ)


def test_app_only_names_what_is_missing() -> None:
    with pytest.raises(ConfigError, match="PARTNER_CENTER_TENANT_ID"):
        settings(PARTNER_CENTER_AUTH="app_only", PARTNER_CENTER_CLIENT_ID="x")


def test_app_user_in_production_needs_a_credentials_key() -> None:
    production = {
        "INTAKE_ENV": "production",
        "SECRET_KEY": "k" * 32,
        "TRUSTED_HOSTS": "intake.example.com",
        "PARTNER_CENTER_REFRESH_TOKEN": "rt",
        **MSAL_SETTINGS,
    }
    with pytest.raises(ConfigError, match="rotated refresh token must be stored encrypted"):
        settings(**production)
    assert settings(CREDENTIALS_KEY=KEY, **production).credentials_key == KEY
    # Development may run without one (memory only).
    assert settings(PARTNER_CENTER_REFRESH_TOKEN="rt", **MSAL_SETTINGS).credentials_key == ""


@pytest.mark.parametrize(
    "bad", ["not-a-fernet-key", f"{KEY},also-bad", ","], ids=["junk", "list", "commas"]
)
def test_an_invalid_credentials_key_refuses_to_start(bad: str) -> None:
    with pytest.raises(ConfigError, match="CREDENTIALS_KEY") as info:
        settings(CREDENTIALS_KEY=bad)
    assert "also-bad" not in str(info.value)
    assert settings(CREDENTIALS_KEY=f"{KEY},{OLD_KEY}").credentials_key.startswith(KEY)


# -- runtime providers --------------------------------------------------------------------------


def test_static_and_app_only_providers() -> None:
    assert isinstance(runtime.token_provider(settings()), StaticTokenProvider)
    assert isinstance(runtime.token_provider(settings(**MSAL_SETTINGS)), MsalAppOnlyTokenProvider)


def test_app_only_provider_uses_client_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    msal_app = ScriptedMsalApp(granted("app-only-token", rotated=None))
    use_msal(monkeypatch, msal_app)
    provider = runtime.token_provider(settings(**MSAL_SETTINGS))
    assert provider.get_token() == "app-only-token"
    assert msal_app.calls == [("client", None)]


def app_user(make_app: AppFactory, sqlite_url: str, **extra: str) -> Flask:
    """An app configured for App+User with the scripted MSAL."""
    return make_app(
        sqlite_url, PARTNER_CENTER_REFRESH_TOKEN="rt-from-env", **MSAL_SETTINGS, **extra
    )


def test_app_user_reads_the_stored_token_first_and_stores_the_rotated_one_encrypted(
    make_app: AppFactory, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = app_user(make_app, sqlite_url, CREDENTIALS_KEY=KEY)
    engine = app.extensions["db_engine"]
    with session_scope(engine) as session:
        save_secret(session, name=runtime.REFRESH_TOKEN_SECRET, value="rt-from-db", key=KEY)
    msal_app = ScriptedMsalApp(granted(rotated="rt-rotated-secret"))
    use_msal(monkeypatch, msal_app)

    provider = runtime.token_provider(app.config["SETTINGS"], engine=engine)

    assert isinstance(provider, MsalRefreshTokenProvider)
    assert provider.get_token() == "access-1"
    assert msal_app.calls == [("refresh", "rt-from-db")]
    with session_scope(engine) as session:
        row = session.exec(
            select(StoredSecret).where(StoredSecret.name == runtime.REFRESH_TOKEN_SECRET)
        ).one()
        assert "rt-rotated-secret" not in row.ciphertext
        assert load_secret(session, name=row.name, key=KEY) == "rt-rotated-secret"
    # A restarted process starts from the rotated token.
    later = ScriptedMsalApp(granted(rotated=None))
    use_msal(monkeypatch, later)
    runtime.token_provider(app.config["SETTINGS"], engine=engine).get_token()
    assert later.calls == [("refresh", "rt-rotated-secret")]


def test_app_user_starts_from_the_environment_when_nothing_is_stored(
    make_app: AppFactory, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = app_user(make_app, sqlite_url, CREDENTIALS_KEY=KEY)
    msal_app = ScriptedMsalApp(granted(rotated="rt-2"))
    use_msal(monkeypatch, msal_app)
    with app.app_context():  # the engine comes from the current app
        runtime.token_provider(app.config["SETTINGS"]).get_token()
        assert msal_app.calls == [("refresh", "rt-from-env")]
    with session_scope(app.extensions["db_engine"]) as session:
        assert load_secret(session, name=runtime.REFRESH_TOKEN_SECRET, key=KEY) == "rt-2"


def test_app_user_without_a_credentials_key_keeps_the_rotation_in_memory_and_warns_once(
    make_app: AppFactory,
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(runtime, "_warned_memory_only", False)
    app = app_user(make_app, sqlite_url)
    engine = app.extensions["db_engine"]
    use_msal(monkeypatch, ScriptedMsalApp(granted(rotated="rt-memory")))
    with caplog.at_level(logging.WARNING, logger=runtime.__name__):
        provider = runtime.token_provider(app.config["SETTINGS"], engine=engine)
        runtime.token_provider(app.config["SETTINGS"], engine=engine)
    assert isinstance(provider, MsalRefreshTokenProvider)
    provider.get_token()
    assert provider.refresh_token == "rt-memory"
    warnings = [r for r in caplog.records if "kept in memory only" in r.getMessage()]
    assert len(warnings) == 1
    assert "rt-" not in caplog.text
    with session_scope(engine) as session:
        assert session.exec(select(StoredSecret)).first() is None


def test_a_stored_token_the_key_cannot_decrypt_is_reported(
    make_app: AppFactory, sqlite_url: str
) -> None:
    app = app_user(make_app, sqlite_url, CREDENTIALS_KEY=KEY)
    engine = app.extensions["db_engine"]
    with session_scope(engine) as session:
        save_secret(session, name=runtime.REFRESH_TOKEN_SECRET, value="rt-old", key=OLD_KEY)
    with pytest.raises(SecretUnreadable):
        runtime.token_provider(app.config["SETTINGS"], engine=engine)


def test_settings_repr_shows_no_secret() -> None:
    loaded = settings(
        SECRET_KEY="s" * 40,
        CREDENTIALS_KEY=KEY,
        PARTNER_CENTER_REFRESH_TOKEN="rt-secret-value",
        PARTNER_CENTER_TOKEN="static-secret-value",
        **MSAL_SETTINGS,
    )
    shown = repr(loaded)
    for secret in (
        "s" * 40,
        KEY,
        "rt-secret-value",
        "static-secret-value",
        MSAL_SETTINGS["PARTNER_CENTER_CLIENT_SECRET"],
    ):
        assert secret not in shown
    assert MSAL_SETTINGS["PARTNER_CENTER_CLIENT_ID"] in shown
