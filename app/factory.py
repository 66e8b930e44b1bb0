"""Building the Flask app: a table of contents of `register_*` steps, no I/O."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from flask import Flask

from app import db
from app.config import PROJECT_ROOT, Settings
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
    app.config.update(
        SETTINGS=settings,
        SECRET_KEY=settings.resolved_secret_key(),
        TESTING=settings.env == "testing",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.session_cookie_secure or settings.env == "production",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        REMEMBER_COOKIE_DURATION=timedelta(days=14),
        MAX_CONTENT_LENGTH=5 * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,  # a form left open for a while still submits
        JSON_SORT_KEYS=False,
    )
    app.config.update(dict(settings.extra))


def register_extensions(app: Flask, settings: Settings) -> None:
    """The database engine, login and CSRF protection."""
    db.init_app(app, settings.database_url)
    csrf.init_app(app)
    login_manager.init_app(app)
    from app.security.permissions import forget_api_user, init_login

    init_login()
    app.teardown_request(forget_api_user)


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
    """Log to stderr at INFO; the app's logger propagates to the root handler."""
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    app.logger.setLevel(logging.INFO)
