"""The Partner Center gateway of this process, built from the settings on first use."""

from __future__ import annotations

import threading

from flask import current_app

from app.config import Settings
from app.partner_center.auth import (
    MsalRefreshTokenProvider,
    StaticTokenProvider,
    TokenProvider,
)
from app.partner_center.gateway import Gateway, build_gateway
from app.partner_center.ratelimit import build_rate_limiter

_lock = threading.Lock()


def token_provider(settings: Settings) -> TokenProvider:
    """MSAL with the secure application model when configured; a static token otherwise."""
    if settings.partner_center_refresh_token and settings.partner_center_client_id:
        return MsalRefreshTokenProvider(
            tenant_id=settings.partner_center_tenant_id,
            client_id=settings.partner_center_client_id,
            client_secret=settings.partner_center_client_secret,
            refresh_token=settings.partner_center_refresh_token,
        )
    return StaticTokenProvider(settings.partner_center_token)


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
                token_provider=token_provider(settings),
                timeout=settings.partner_center_timeout_seconds,
                # One limiter per process; with Redis its bucket is shared by all of them.
                rate_limiter=build_rate_limiter(
                    rate=settings.upstream_max_requests_per_second,
                    redis_url=settings.redis_url or None,
                ),
            )
            app.extensions["partner_center_gateway"] = existing
    return existing
