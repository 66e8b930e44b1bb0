"""The Partner Center gateway of this process, built from the settings on first use."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import Engine

from app.config import Settings
from app.db import new_session, session_scope
from app.partner_center.auth import (
    MsalAppOnlyTokenProvider,
    MsalRefreshTokenProvider,
    StaticTokenProvider,
    TokenProvider,
)
from app.partner_center.gateway import Gateway, build_gateway
from app.partner_center.ratelimit import build_rate_limiter
from app.services.secrets import load_secret, save_secret

logger = logging.getLogger(__name__)

# The StoredSecret holding the newest refresh token Microsoft Entra ID handed out.
REFRESH_TOKEN_SECRET = "partner_center_refresh_token"  # noqa: S105 (a name, not a secret)

_lock = threading.Lock()
# Its own lock: the warning is logged while `gateway()` holds `_lock`.
_warning_lock = threading.Lock()
_warned_memory_only = False


def _msal_app_factory(settings: Settings) -> Any | None:  # noqa: ARG001 - for replacements
    """The MSAL application to use, or None to let the provider build its own on first use.

    A seam for tests (login.microsoftonline.com is unreachable there); building the real one
    here would perform authority discovery over the network while the gateway is assembled.
    """
    return None


def token_provider(settings: Settings, *, engine: Engine | None = None) -> TokenProvider:
    """The token provider PARTNER_CENTER_AUTH asks for (see `Settings.partner_center_auth_mode`).

    - `static`: PARTNER_CENTER_TOKEN as is (the fake Partner Center, development).
    - `app_only`: client credentials (the enhanced flow, contract §7).
    - `app_user`: the secure application model. The refresh token comes from the database when
      one is stored there (the newest rotation), else from PARTNER_CENTER_REFRESH_TOKEN; every
      rotated token is stored encrypted with CREDENTIALS_KEY, in its own short transaction.

    `engine` defaults to the current app's when there is one; without an engine or without
    CREDENTIALS_KEY the rotated token lives in memory only.
    """
    mode = settings.partner_center_auth_mode
    if mode == "static":
        return StaticTokenProvider(settings.partner_center_token)
    if mode == "app_only":
        return MsalAppOnlyTokenProvider(
            tenant_id=settings.partner_center_tenant_id,
            client_id=settings.partner_center_client_id,
            client_secret=settings.partner_center_client_secret,
            msal_app=_msal_app_factory(settings),
        )
    if engine is None and has_app_context():
        engine = current_app.extensions.get("db_engine")
    refresh_token, on_refresh_token = _refresh_token_storage(settings, engine)
    return MsalRefreshTokenProvider(
        tenant_id=settings.partner_center_tenant_id,
        client_id=settings.partner_center_client_id,
        client_secret=settings.partner_center_client_secret,
        refresh_token=refresh_token,
        on_refresh_token=on_refresh_token,
        msal_app=_msal_app_factory(settings),
    )


def refresh_token_source(settings: Settings, engine: Engine | None) -> str:
    """Where the app_user refresh token comes from: "database" or "environment" (for `check`).

    Raises `SecretUnreadable` when a stored token exists but CREDENTIALS_KEY cannot decrypt it.
    """
    if engine is None or not settings.credentials_key:
        return "environment"
    return "database" if _stored_refresh_token(settings, engine) else "environment"


def _refresh_token_storage(
    settings: Settings, engine: Engine | None
) -> tuple[str, Callable[[str], None] | None]:
    """The refresh token to start from, and how to keep the rotated ones."""
    key = settings.credentials_key
    if engine is None or not key:
        _warn_memory_only("CREDENTIALS_KEY is not set" if not key else "no database is at hand")
        return settings.partner_center_refresh_token, None
    stored = _stored_refresh_token(settings, engine)

    def persist(rotated: str) -> None:
        # Called while the upstream call is under way, when this thread holds no transaction.
        with session_scope(engine) as session:
            save_secret(session, name=REFRESH_TOKEN_SECRET, value=rotated, key=key)

    return stored or settings.partner_center_refresh_token, persist


def _stored_refresh_token(settings: Settings, engine: Engine) -> str | None:
    with new_session(engine, read_only=True) as session:
        return load_secret(session, name=REFRESH_TOKEN_SECRET, key=settings.credentials_key)


def _warn_memory_only(reason: str) -> None:
    """Say once per process that rotations will be lost at restart (development only)."""
    global _warned_memory_only
    with _warning_lock:
        if _warned_memory_only:
            return
        _warned_memory_only = True
    logger.warning(
        "%s: the rotated Partner Center refresh token is kept in memory only and lost at "
        "restart (set CREDENTIALS_KEY to store it encrypted)",
        reason,
    )


def acceptance_base_url(settings: Settings) -> str | None:
    """Where customers accept: the setting; else the fake's page when the fake is upstream,
    Microsoft's page (the gateway's default) for the real Partner Center."""
    if settings.partner_center_acceptance_url:
        return settings.partner_center_acceptance_url
    if "partnercenter" in settings.partner_center_url:
        return None
    return settings.partner_center_url.rstrip("/") + "/mca/"


def gateway() -> Gateway:
    """The current app's gateway (one HTTP client per process, kept alive)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    existing: Gateway | None = app.extensions.get("partner_center_gateway")
    if existing is not None:
        return existing
    with _lock:
        existing = app.extensions.get("partner_center_gateway")
        if existing is None:
            settings: Settings = app.config["SETTINGS"]
            existing = build_gateway(
                base_url=settings.partner_center_url,
                flow=settings.partner_center_flow,
                token_provider=token_provider(settings, engine=app.extensions["db_engine"]),
                timeout=settings.partner_center_timeout_seconds,
                acceptance_base_url=acceptance_base_url(settings),
                # One limiter per process; with Redis its bucket is shared by all of them.
                rate_limiter=build_rate_limiter(
                    rate=settings.upstream_max_requests_per_second,
                    redis_url=settings.redis_url or None,
                ),
            )
            app.extensions["partner_center_gateway"] = existing
    return existing
