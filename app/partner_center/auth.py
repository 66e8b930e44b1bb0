"""Token providers for Partner Center: a static bearer for development, MSAL for production.

The legacy agreement endpoints are App+User only (contract §7), so production redeems a stored
refresh token; the enhanced flow uses app-only client credentials. `msal` is imported lazily and
the MSAL application is built on first use, because building it performs authority discovery
over the network.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from app.partner_center.errors import AuthFailed, Transient

logger = logging.getLogger(__name__)

PARTNER_CENTER_SCOPE = "https://api.partnercenter.microsoft.com/.default"
DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"

# MSAL `error` values that mean "the token endpoint is struggling", not "your credentials are bad".
_TRANSIENT_MSAL_ERRORS = frozenset({"temporarily_unavailable", "server_error"})


class TokenProvider(Protocol):
    """Anything that hands out a bearer token for Partner Center."""

    def get_token(self) -> str:
        """Return a currently valid access token."""
        ...


class StaticTokenProvider:
    """Always the same token: for the fake Partner Center and tests."""

    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("a static token must not be empty")
        self._token = token

    def get_token(self) -> str:
        """Return the configured token."""
        return self._token


class _CachingMsalProvider:
    """Shared caching: one token at a time, renewed `refresh_margin` seconds before expiry."""

    def __init__(
        self,
        *,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        scopes: list[str] | None,
        authority_host: str,
        refresh_margin: float,
        msal_app: Any | None,
        clock: Callable[[], float],
    ) -> None:
        self._tenant_id = tenant_id
        self._client_id = client_id
        self._client_secret = client_secret
        self._scopes = list(scopes or [PARTNER_CENTER_SCOPE])
        self._authority = f"{authority_host.rstrip('/')}/{tenant_id}"
        self._refresh_margin = refresh_margin
        self._app = msal_app
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._renew_at = 0.0

    def get_token(self) -> str:
        """Return the cached access token, acquiring a new one when it is close to expiry."""
        with self._lock:
            if self._token is not None and self._clock() < self._renew_at:
                return self._token
            result = self._acquire(self._msal_app())
            token, expires_in = _read_result(result)
            # Short-lived tokens (tests, odd tenants) still get cached for half their life.
            margin = min(self._refresh_margin, expires_in / 2)
            self._token = token
            self._renew_at = self._clock() + expires_in - margin
            return token

    def invalidate(self) -> None:
        """Forget the cached access token (e.g. after Partner Center answered 401)."""
        with self._lock:
            self._token = None

    def _msal_app(self) -> Any:
        if self._app is None:
            import msal  # lazy: importing this module must stay cheap and offline

            self._app = msal.ConfidentialClientApplication(
                self._client_id,
                client_credential=self._client_secret,
                authority=self._authority,
            )
        return self._app

    def _acquire(self, app: Any) -> Any:
        raise NotImplementedError


class MsalRefreshTokenProvider(_CachingMsalProvider):
    """App+User tokens from a stored refresh token (secure application model, contract §7).

    The refresh token Azure AD rotates on each redemption is kept in memory and handed to
    `on_refresh_token` so the caller can persist it.
    """

    def __init__(
        self,
        *,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        on_refresh_token: Callable[[str], None] | None = None,
        scopes: list[str] | None = None,
        authority_host: str = DEFAULT_AUTHORITY_HOST,
        refresh_margin: float = 300.0,
        msal_app: Any | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not refresh_token:
            raise ValueError("a refresh token is required for App+User authentication")
        super().__init__(
            tenant_id=tenant_id,
            client_id=client_id,
            client_secret=client_secret,
            scopes=scopes,
            authority_host=authority_host,
            refresh_margin=refresh_margin,
            msal_app=msal_app,
            clock=clock,
        )
        self._refresh_token = refresh_token
        self._on_refresh_token = on_refresh_token

    @property
    def refresh_token(self) -> str:
        """The newest refresh token seen (the rotated one after the first redemption)."""
        with self._lock:
            return self._refresh_token

    def _acquire(self, app: Any) -> Any:
        result = _call_msal(
            lambda: app.acquire_token_by_refresh_token(self._refresh_token, scopes=self._scopes)
        )
        rotated = result.get("refresh_token") if isinstance(result, Mapping) else None
        if isinstance(rotated, str) and rotated and rotated != self._refresh_token:
            self._refresh_token = rotated
            if self._on_refresh_token is not None:
                try:
                    self._on_refresh_token(rotated)
                except Exception:
                    # The token is valid in memory; failing the call would help nobody.
                    logger.exception("could not persist the rotated Partner Center refresh token")
        return result


class MsalAppOnlyTokenProvider(_CachingMsalProvider):
    """App-only tokens (client credentials), for the enhanced attestation flow."""

    def __init__(
        self,
        *,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        scopes: list[str] | None = None,
        authority_host: str = DEFAULT_AUTHORITY_HOST,
        refresh_margin: float = 300.0,
        msal_app: Any | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            tenant_id=tenant_id,
            client_id=client_id,
            client_secret=client_secret,
            scopes=scopes,
            authority_host=authority_host,
            refresh_margin=refresh_margin,
            msal_app=msal_app,
            clock=clock,
        )

    def _acquire(self, app: Any) -> Any:
        return _call_msal(lambda: app.acquire_token_for_client(scopes=self._scopes))


def _call_msal(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except OSError as exc:  # requests' network errors derive from OSError
        raise Transient(
            f"token endpoint unreachable: {exc}", code="token_unavailable", answered=False
        ) from exc


def _read_result(result: Any) -> tuple[str, float]:
    """The access token and its lifetime in seconds from an MSAL result, or raise."""
    if not isinstance(result, Mapping):
        raise AuthFailed("MSAL returned no result", code="no_result")
    token = result.get("access_token")
    if isinstance(token, str) and token:
        try:
            expires_in = float(result.get("expires_in", 3600))
        except (TypeError, ValueError):
            expires_in = 3600.0
        return token, max(expires_in, 0.0)
    error = str(result.get("error") or "unknown_error")
    description = str(result.get("error_description") or "no access token in the MSAL result")
    if error in _TRANSIENT_MSAL_ERRORS:
        raise Transient(description, code=error, answered=False)
    raise AuthFailed(description, code=error)
