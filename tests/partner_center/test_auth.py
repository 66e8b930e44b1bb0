"""Token providers; MSAL is replaced by a fake app (login.microsoftonline.com is unreachable)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest

from app.partner_center.auth import (
    PARTNER_CENTER_SCOPE,
    MsalAppOnlyTokenProvider,
    MsalRefreshTokenProvider,
    StaticTokenProvider,
)
from app.partner_center.errors import AuthFailed, Transient


class FakeMsalApp:
    """Stands in for msal.ConfidentialClientApplication; answers from a script."""

    def __init__(self, *results: Any, delay: float = 0.0) -> None:
        self.results = list(results)
        self.calls: list[tuple[str, Any, list[str]]] = []
        self.delay = delay
        self._lock = threading.Lock()

    def _next(self, name: str, refresh_token: Any, scopes: list[str]) -> Any:
        with self._lock:
            self.calls.append((name, refresh_token, scopes))
            result = self.results.pop(0) if len(self.results) > 1 else self.results[0]
        time.sleep(self.delay)
        if isinstance(result, BaseException):
            raise result
        return result

    def acquire_token_by_refresh_token(self, refresh_token: str, scopes: list[str]) -> Any:
        return self._next("refresh", refresh_token, scopes)

    def acquire_token_for_client(self, scopes: list[str]) -> Any:
        return self._next("client", None, scopes)


class Clock:
    """A hand-driven monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _refresh_provider(app: FakeMsalApp, clock: Clock, **kwargs: Any) -> MsalRefreshTokenProvider:
    return MsalRefreshTokenProvider(
        tenant_id="partner-tenant",
        client_id="client",
        client_secret="secret",
        refresh_token="rt-0",
        msal_app=app,
        clock=clock,
        **kwargs,
    )


def test_static_provider() -> None:
    assert StaticTokenProvider("abc").get_token() == "abc"
    with pytest.raises(ValueError, match="empty"):
        StaticTokenProvider("")


def test_refresh_provider_caches_until_shortly_before_expiry_and_rotates() -> None:
    app = FakeMsalApp(
        {"access_token": "at-1", "expires_in": 3600, "refresh_token": "rt-1"},
        {"access_token": "at-2", "expires_in": 3600, "refresh_token": "rt-2"},
    )
    clock = Clock()
    persisted: list[str] = []
    provider = _refresh_provider(app, clock, on_refresh_token=persisted.append)

    assert provider.get_token() == "at-1"
    clock.now += 3600 - 301  # still outside the 300 s margin
    assert provider.get_token() == "at-1"
    assert len(app.calls) == 1
    clock.now += 2  # inside the margin: renew with the rotated refresh token
    assert provider.get_token() == "at-2"

    assert app.calls == [
        ("refresh", "rt-0", [PARTNER_CENTER_SCOPE]),
        ("refresh", "rt-1", [PARTNER_CENTER_SCOPE]),
    ]
    assert persisted == ["rt-1", "rt-2"]
    assert provider.refresh_token == "rt-2"


def test_refresh_provider_keeps_the_token_when_none_is_rotated() -> None:
    app = FakeMsalApp({"access_token": "at", "expires_in": "60"})
    clock = Clock()
    persisted: list[str] = []
    provider = _refresh_provider(app, clock, on_refresh_token=persisted.append)

    assert provider.get_token() == "at"
    clock.now += 29  # short-lived tokens are cached for half their life
    provider.get_token()
    clock.now += 2
    provider.get_token()

    assert [c[1] for c in app.calls] == ["rt-0", "rt-0"]
    assert persisted == []


def test_invalidate_forces_a_new_token() -> None:
    app = FakeMsalApp({"access_token": "at", "expires_in": 3600})
    provider = _refresh_provider(app, Clock())
    provider.get_token()
    provider.invalidate()
    provider.get_token()
    assert len(app.calls) == 2


def test_refresh_provider_error_is_auth_failed() -> None:
    app = FakeMsalApp(
        {
            "error": "invalid_grant",
            "error_description": "AADSTS700082: The refresh token has expired.",
            "error_codes": [700082],
        }
    )
    provider = _refresh_provider(app, Clock())
    with pytest.raises(AuthFailed) as caught:
        provider.get_token()
    assert caught.value.code == "invalid_grant"
    assert caught.value.message == "AADSTS700082: The refresh token has expired."
    assert caught.value.status is None


def test_token_endpoint_trouble_is_transient() -> None:
    busy = FakeMsalApp({"error": "temporarily_unavailable", "error_description": "try later"})
    with pytest.raises(Transient) as caught:
        _refresh_provider(busy, Clock()).get_token()
    assert caught.value.code == "temporarily_unavailable"

    offline = FakeMsalApp(ConnectionError("no route to host"))
    with pytest.raises(Transient) as caught:
        _refresh_provider(offline, Clock()).get_token()
    assert caught.value.code == "token_unavailable"
    assert caught.value.answered is False


def test_a_failing_persistence_callback_does_not_fail_the_call(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def explode(_: str) -> None:
        raise RuntimeError("vault down")

    app = FakeMsalApp({"access_token": "at", "expires_in": 3600, "refresh_token": "rt-1"})
    provider = _refresh_provider(app, Clock(), on_refresh_token=explode)
    with caplog.at_level(logging.ERROR, logger="app.partner_center.auth"):
        assert provider.get_token() == "at"
    assert provider.refresh_token == "rt-1"
    assert "rotated Partner Center refresh token" in caplog.text


def test_concurrent_callers_share_one_acquisition() -> None:
    app = FakeMsalApp({"access_token": "at", "expires_in": 3600}, delay=0.05)
    provider = _refresh_provider(app, Clock())
    tokens: list[str] = []

    def work() -> None:
        tokens.append(provider.get_token())

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert tokens == ["at"] * 8
    assert len(app.calls) == 1


def test_refresh_provider_needs_a_refresh_token() -> None:
    with pytest.raises(ValueError, match="refresh token"):
        MsalRefreshTokenProvider(tenant_id="t", client_id="c", client_secret="s", refresh_token="")


def test_building_a_provider_does_not_contact_msal() -> None:
    # Without an injected app the real one is only built on the first get_token.
    provider = MsalAppOnlyTokenProvider(tenant_id="t", client_id="c", client_secret="s")
    assert provider._app is None


def test_app_only_provider_caches_and_reports_errors() -> None:
    app = FakeMsalApp(
        {"access_token": "app-1", "expires_in": 3599},
        {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret."},
    )
    clock = Clock()
    provider = MsalAppOnlyTokenProvider(
        tenant_id="partner-tenant",
        client_id="client",
        client_secret="secret",
        msal_app=app,
        clock=clock,
    )
    assert provider.get_token() == "app-1"
    assert provider.get_token() == "app-1"
    assert app.calls == [("client", None, [PARTNER_CENTER_SCOPE])]

    clock.now += 3600
    with pytest.raises(AuthFailed) as caught:
        provider.get_token()
    assert caught.value.code == "invalid_client"
    assert "Invalid client secret" in str(caught.value)
