"""Sign-in throttling per account and per address, and session time limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, Response, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import current_user, logout_user, user_loaded_from_cookie
from werkzeug.middleware.proxy_fix import ProxyFix

from app.config import Settings
from app.context import current_settings

LOGIN_AT = "login_at"

# Unbound like the other extensions; limits are read from the settings at request time.
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)


def account_key() -> str:
    """The throttling key of a sign-in attempt: the email it tries, whatever the address."""
    return "login:" + (request.form.get("email") or "").strip().lower()


def failed_sign_in(response: Response) -> bool:
    """Only failed attempts count against the limits."""
    return response.status_code == 401


login_limits = [
    limiter.limit(
        lambda: current_settings().login_limit_per_account,
        key_func=account_key,
        methods=["POST"],
        deduct_when=failed_sign_in,
        scope="login-account",
    ),
    limiter.limit(
        lambda: current_settings().login_limit_per_address,
        methods=["POST"],
        deduct_when=failed_sign_in,
        scope="login-address",
    ),
]


def mark_signed_in() -> None:
    """Start the absolute session clock (a new sign-in, or a remember-me cookie)."""
    session[LOGIN_AT] = datetime.now(UTC).isoformat()
    session.permanent = True  # the idle timeout: PERMANENT_SESSION_LIFETIME, renewed per request


def init_app(app: Flask, settings: Settings) -> None:
    """Install the limiter, the proxy headers, and the session time limits."""
    if settings.proxy_count > 0:
        # Behind N proxies the client's address is the N-th from the right in X-Forwarded-For.
        n = settings.proxy_count
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    app.config.setdefault("RATELIMIT_STORAGE_URI", settings.redis_url or "memory://")
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "intake")
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)  # Redis down: do not lock everyone out
    limiter.init_app(app)

    @app.errorhandler(429)
    def _too_many(_exc: Any) -> Any:
        if request.path.startswith("/api/"):
            return {"error": "Too many attempts; wait a few minutes."}, 429
        from app.web.auth import LoginForm

        flash(_("Too many failed sign-ins. Wait a few minutes, then try again."), "error")
        return render_template("auth/login.html", form=LoginForm()), 429

    @user_loaded_from_cookie.connect_via(app)
    def _from_cookie(_sender: Flask, **_extra: Any) -> None:
        mark_signed_in()

    @app.before_request
    def _absolute_timeout() -> Any:
        started = session.get(LOGIN_AT)
        if not started or not current_user.is_authenticated:
            return None
        limit = timedelta(hours=current_settings().session_absolute_hours)
        if datetime.now(UTC) - datetime.fromisoformat(started) > limit:
            logout_user()
            session.clear()
            flash(_("Your session ended after its maximum length. Please sign in again."), "info")
            return redirect(url_for("auth.login", next=request.path))
        return None
