"""Celery reads this module lazily, on first use, when no Flask app bound it first."""

from __future__ import annotations

from app.config import Settings
from workers.celery_app import celery_config

globals().update(celery_config(Settings.from_env()))
