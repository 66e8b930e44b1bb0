"""The intake portal: `create_app` wires the Flask app; importing does no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the Flask app from the environment, with `config` overriding single settings."""
    from app.factory import build_app

    return build_app(config)
