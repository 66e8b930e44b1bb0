"""HTTP layer: one blueprint package per audience."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    """Register every blueprint and the error handlers."""
    from app.web import errors, health
    from app.web.account import bp as account_bp
    from app.web.admin import bp as admin_bp
    from app.web.api import bp as api_bp
    from app.web.auth import bp as auth_bp
    from app.web.reseller import bp as reseller_bp
    from app.web.review import bp as review_bp

    app.register_blueprint(health.bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(reseller_bp, url_prefix="/reseller")
    app.register_blueprint(review_bp, url_prefix="/review")
    app.register_blueprint(api_bp, url_prefix="/api/v1")
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(account_bp)
    errors.register(app)
