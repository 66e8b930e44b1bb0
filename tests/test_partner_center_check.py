"""`intake partner-center check` against the fake Partner Center over HTTP, and `diagnose()`.

Only MSAL is replaced (login.microsoftonline.com is unreachable here), through the runtime's
`_msal_app_factory` seam; Partner Center is the fake, served over real HTTP.
"""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import Result
from cryptography.fernet import Fernet
from flask import Flask

from app.cli import cli
from app.cli_partner_center import diagnose
from app.db import session_scope
from app.partner_center.errors import AuthFailed, Rejected, Transient
from app.partner_center.fake_models import CUSTOMER_TEMPLATE_ID
from app.partner_center.fake_server import FakeServer
from app.partner_center.runtime import REFRESH_TOKEN_SECRET
from app.services.secrets import load_secret, save_secret
from tests.conftest import AppFactory
from tests.partner_center.test_credentials import (
    MSAL_SETTINGS,
    ScriptedMsalApp,
    granted,
    use_msal,
)

KEY = Fernet.generate_key().decode()
STATIC_TOKEN = "check-static-token"  # noqa: S105 (test data)
CLOSED_PORT_URL = "http://127.0.0.1:9"


@pytest.fixture(autouse=True)
def _clean_cli_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """FlaskGroup sets FLASK_RUN_FROM_CLI; restored after the test."""
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "false")


def check(app: Flask) -> Result:
    """Run `intake partner-center check` against `app`."""
    return app.test_cli_runner().invoke(cli, ["partner-center", "check"])


def static_app(make_app: AppFactory, sqlite_url: str, url: str) -> Flask:
    """An app using a static bearer against `url`."""
    return make_app(sqlite_url, PARTNER_CENTER_URL=url, PARTNER_CENTER_TOKEN=STATIC_TOKEN)


def app_user_app(make_app: AppFactory, sqlite_url: str, url: str, **extra: Any) -> Flask:
    """An app using App+User credentials (the scripted MSAL) against `url`."""
    return make_app(
        sqlite_url,
        PARTNER_CENTER_URL=url,
        PARTNER_CENTER_REFRESH_TOKEN="rt-env-value",
        CREDENTIALS_KEY=KEY,
        **MSAL_SETTINGS,
        **extra,
    )


def test_check_prints_the_settings_and_the_current_template(
    make_app: AppFactory, sqlite_url: str, fake_pc: FakeServer
) -> None:
    result = check(static_app(make_app, sqlite_url, fake_pc.url))
    assert result.exit_code == 0, result.output
    assert fake_pc.url in result.output
    assert "legacy" in result.output
    assert "static" in result.output
    assert CUSTOMER_TEMPLATE_ID in result.output
    assert STATIC_TOKEN not in result.output
    assert "OK" in result.output


def test_check_with_app_user_credentials_never_prints_a_secret(
    make_app: AppFactory, sqlite_url: str, fake_pc: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_msal(monkeypatch, ScriptedMsalApp(granted("access-value", rotated="rt-rotated-value")))
    app = app_user_app(make_app, sqlite_url, fake_pc.url)
    result = check(app)
    assert result.exit_code == 0, result.output
    assert "app_user" in result.output
    assert "from the environment" in result.output
    assert CUSTOMER_TEMPLATE_ID in result.output
    for secret in ("access-value", "rt-env-value", "rt-rotated-value", KEY):
        assert secret not in result.output
    assert MSAL_SETTINGS["PARTNER_CENTER_CLIENT_SECRET"] not in result.output
    # The bearer Partner Center received is MSAL's, and the rotated token is stored encrypted.
    assert fake_pc.store.requests()[-1].headers["Authorization"] == "Bearer access-value"
    with session_scope(app.extensions["db_engine"]) as session:
        assert load_secret(session, name=REFRESH_TOKEN_SECRET, key=KEY) == "rt-rotated-value"


def test_missing_mfa_claim_is_diagnosed(
    make_app: AppFactory, sqlite_url: str, fake_pc: FakeServer
) -> None:
    fake_pc.store.deny_token(STATIC_TOKEN, 900421)
    result = check(static_app(make_app, sqlite_url, fake_pc.url))
    assert result.exit_code == 1
    assert "the token has no MFA claim" in result.output
    assert "multi-factor authentication" in result.output


def test_another_refusal_names_the_code(
    make_app: AppFactory, sqlite_url: str, fake_pc: FakeServer
) -> None:
    fake_pc.store.deny_token(STATIC_TOKEN, 800001)
    result = check(static_app(make_app, sqlite_url, fake_pc.url))
    assert result.exit_code == 1
    assert "Partner Center refused the token (code 800001)" in result.output


def test_an_unreachable_partner_center_is_diagnosed(make_app: AppFactory, sqlite_url: str) -> None:
    result = check(static_app(make_app, sqlite_url, CLOSED_PORT_URL))
    assert result.exit_code == 1
    assert f"Partner Center is unreachable at {CLOSED_PORT_URL}" in result.output
    assert "PARTNER_CENTER_URL" in result.output


@pytest.mark.parametrize(
    ("msal_result", "expected"),
    [
        (
            {
                "error": "invalid_grant",
                "error_description": "AADSTS700082: The refresh token has expired due to "
                "inactivity.\r\nTrace ID: 0\r\nCorrelation ID: 0",
            },
            "the refresh token expired or was revoked",
        ),
        (
            {"error": "invalid_grant", "error_description": "AADSTS50173: grant revoked"},
            "a partner admin must consent again (docs/PARTNER-CENTER.md, step 2)",
        ),
        (
            {"error": "invalid_request", "error_description": "AADSTS90002: Tenant 'x' not found."},
            "wrong tenant id",
        ),
        (
            {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid secret."},
            "the client secret is wrong or expired",
        ),
        (
            {"error": "unauthorized_client", "error_description": "AADSTS700016: App not found"},
            "the application id is not found in that tenant",
        ),
    ],
)
def test_msal_failures_are_diagnosed(
    make_app: AppFactory,
    sqlite_url: str,
    fake_pc: FakeServer,
    monkeypatch: pytest.MonkeyPatch,
    msal_result: dict[str, str],
    expected: str,
) -> None:
    use_msal(monkeypatch, ScriptedMsalApp(msal_result))
    result = check(app_user_app(make_app, sqlite_url, fake_pc.url))
    assert result.exit_code == 1
    assert expected in result.output
    assert fake_pc.store.requests() == []  # no token, no call upstream


def test_the_stored_refresh_token_wins_and_an_undecryptable_one_is_diagnosed(
    make_app: AppFactory, sqlite_url: str, fake_pc: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    msal_app = ScriptedMsalApp(granted(rotated=None))
    use_msal(monkeypatch, msal_app)
    app = app_user_app(make_app, sqlite_url, fake_pc.url)
    with session_scope(app.extensions["db_engine"]) as session:
        save_secret(session, name=REFRESH_TOKEN_SECRET, value="rt-db", key=KEY)
    result = check(app)
    assert result.exit_code == 0, result.output
    assert "from the database" in result.output
    assert msal_app.calls == [("refresh", "rt-db")]

    other = Fernet.generate_key().decode()
    with session_scope(app.extensions["db_engine"]) as session:
        save_secret(session, name=REFRESH_TOKEN_SECRET, value="rt-db", key=other)
    result = check(app_user_app(make_app, sqlite_url, fake_pc.url))
    assert result.exit_code == 1
    assert "cannot be decrypted with CREDENTIALS_KEY" in result.output


def test_store_refresh_token_replaces_the_stored_one_encrypted(
    make_app: AppFactory, sqlite_url: str, fake_pc: FakeServer
) -> None:
    app = app_user_app(make_app, sqlite_url, fake_pc.url)
    result = app.test_cli_runner().invoke(
        cli, ["partner-center", "store-refresh-token"], input="rt-new-consent\n"
    )
    assert result.exit_code == 0, result.output
    assert "rt-new-consent" not in result.output
    with session_scope(app.extensions["db_engine"]) as session:
        assert load_secret(session, name=REFRESH_TOKEN_SECRET, key=KEY) == "rt-new-consent"


def test_store_refresh_token_needs_a_credentials_key(make_app: AppFactory, sqlite_url: str) -> None:
    app = make_app(sqlite_url)
    result = app.test_cli_runner().invoke(
        cli, ["partner-center", "store-refresh-token"], input="rt\n"
    )
    assert result.exit_code == 1
    assert "CREDENTIALS_KEY is not set" in result.output


def test_a_national_cloud_url_is_refused(make_app: AppFactory, sqlite_url: str) -> None:
    url = "https://partner.partnercenterapi.microsoftonline.cn"
    result = check(static_app(make_app, sqlite_url, url))
    assert result.exit_code == 1
    assert "national cloud" in result.output


# -- diagnose() ---------------------------------------------------------------------------------


def msal_error(code: str, description: str) -> AuthFailed:
    """An AuthFailed as the MSAL providers raise it (no HTTP status)."""
    return AuthFailed(description, code=code)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (msal_error("invalid_grant", "AADSTS700082: expired"), "refresh token expired"),
        (msal_error("invalid_grant", "AADSTS50173: revoked"), "refresh token expired"),
        (msal_error("invalid_grant", "AADSTS70008: expired"), "refresh token expired"),
        (msal_error("invalid_grant", "no AADSTS code at all"), "refresh token expired"),
        (msal_error("invalid_request", "AADSTS90002: not found"), "wrong tenant id"),
        (msal_error("invalid_request", "AADSTS900023: bad tenant"), "wrong tenant id"),
        (msal_error("invalid_client", "AADSTS7000215: bad"), "client secret is wrong or expired"),
        (msal_error("invalid_client", "AADSTS7000222: old"), "client secret is wrong or expired"),
        (msal_error("unauthorized_client", "AADSTS700016: x"), "application id is not found"),
        (msal_error("invalid_grant", "AADSTS50076: MFA required"), "no MFA claim"),
        (msal_error("invalid_grant", "AADSTS65001: no consent"), "no consent"),
        (msal_error("weird", "AADSTS1: odd"), "Microsoft sign-in refused the credentials (weird)"),
        (AuthFailed("no MFA", code="900421", status=401), "the token has no MFA claim"),
        (AuthFailed("denied", code="800001", status=401), "refused the token (code 800001)"),
        (AuthFailed("denied", code="1002", status=403), "lacks the Admin agent role"),
        (Rejected("not allowed", code="600006", status=403), "lacks the Admin agent role"),
        (Rejected("bad", code="3000", status=400), "rejected the request (HTTP 400, code 3000)"),
        (
            Transient("refused", code="connect_error", answered=False),
            "Partner Center is unreachable at https://pc.example",
        ),
        (Transient("down", code="token_unavailable", answered=False), "sign-in service"),
        (Transient("busy", code="temporarily_unavailable", answered=False), "temporarily"),
        (Transient("slow", code="429", status=429, retry_after=30), "HTTP 429"),
        (Transient("oops", code="503", status=503), "HTTP 503"),
        (ValueError("Unable to get authority configuration for x"), "wrong tenant id"),
        (ConnectionError("no route"), "sign-in service"),
        (RuntimeError("boom"), "unexpected error (RuntimeError)"),
    ],
)
def test_diagnose(exc: BaseException, expected: str) -> None:
    assert expected in diagnose(exc, url="https://pc.example")


def test_diagnose_keeps_near_aadsts_codes_apart() -> None:
    # AADSTS70008 is a prefix of AADSTS700082, AADSTS900023 of 9000231: match whole codes.
    assert "wrong tenant" not in diagnose(msal_error("x", "AADSTS9000231: other"))
    assert diagnose(msal_error("x", "AADSTS7000216: other")).startswith("Microsoft sign-in refused")


def test_diagnose_without_a_url_names_the_setting() -> None:
    text = diagnose(Transient("refused", code="connect_error", answered=False))
    assert "PARTNER_CENTER_URL" in text
