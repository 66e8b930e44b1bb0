"""JSON API v1 (`/api/v1`): the same roles and tenant scoping as the web."""

from app.web.api.views import bp

__all__ = ["bp"]
