"""Building the Flask app: a table of contents of `register_*` steps, no I/O."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from flask import Flask

from app import db
from app.config import PROJECT_ROOT, ConfigError, Settings
from app.extensions import csrf, login_manager


def build_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The portal's Flask app for the given settings overrides."""
    settings = Settings.from_env(overrides=config)
    app = Flask(
        "app",
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "app" / "static"),
        instance_path=str(settings.instance_dir),
    )
    register_config(app, settings)
    register_extensions(app, settings)
    register_blueprints(app)
    register_template_helpers(app)
    register_celery(app)
    configure_logging(app)
    return app


def register_config(app: Flask, settings: Settings) -> None:
    """Flask's own settings, derived from ours."""
    secure = settings.session_cookie_secure or settings.env == "production"
    # The __Host- prefix makes browsers refuse the cookie unless it is Secure, for this host
    # only, on every path: only possible over HTTPS.
    prefix = "__Host-" if secure else ""
    app.config.update(
        SETTINGS=settings,
        SECRET_KEY=settings.resolved_secret_key(),
        TESTING=settings.env == "testing",
        TRUSTED_HOSTS=settings.trusted_host_list or None,
        SESSION_COOKIE_NAME=f"{prefix}intake-session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        SESSION_COOKIE_PATH="/",
        SESSION_REFRESH_EACH_REQUEST=True,
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.session_idle_minutes),
        REMEMBER_COOKIE_NAME=f"{prefix}intake-remember",
        REMEMBER_COOKIE_DURATION=timedelta(days=14),
        REMEMBER_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_PATH="/",
        MAX_CONTENT_LENGTH=5 * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,  # a form left open for a while still submits
        JSON_SORT_KEYS=False,
    )
    app.config.update(dict(settings.extra))
    if settings.env == "production" and app.debug:
        raise ConfigError("refusing to run in production with debug on (unset FLASK_DEBUG)")


def register_extensions(app: Flask, settings: Settings) -> None:
    """The database engine, login, CSRF protection and the language (Flask-Babel)."""
    db.init_app(app, settings.database_url)
    csrf.init_app(app)
    login_manager.init_app(app)
    from app import i18n
    from app.security import headers, throttling
    from app.security.permissions import forget_api_user, init_login

    init_login()
    i18n.init_app(app)
    app.teardown_request(forget_api_user)
    headers.init_app(app)
    throttling.init_app(app, settings)


def register_blueprints(app: Flask) -> None:
    """One blueprint per audience, plus health checks and error pages."""
    from app.web import register

    register(app)


def register_template_helpers(app: Flask) -> None:
    """Filters and globals the templates share."""
    from app.web.helpers import init_templates

    init_templates(app)


def register_celery(app: Flask) -> None:
    """Point the Celery app at this Flask app's settings (no broker connection yet)."""
    from workers.celery_app import init_celery

    init_celery(app)


def configure_logging(app: Flask) -> None:
    """Log to stderr at INFO, with emails and phone numbers masked in every record."""
    from app.security.redaction import install_redaction

    install_redaction()
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    app.logger.setLevel(logging.INFO)
