"""Accessors for the running Flask app's objects (web requests, tasks and CLI alike)."""

from __future__ import annotations

from flask import current_app

from app.config import Settings


def current_settings() -> Settings:
    """The running app's settings."""
    value: Settings = current_app.config["SETTINGS"]
    return value
