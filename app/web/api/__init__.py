"""JSON API v1 (`/api/v1`): the same roles and tenant scoping as the web."""

from app.web.api import evidence as _evidence  # noqa: F401  (registers its views on bp)
from app.web.api import openapi as _openapi  # noqa: F401 (registers GET /openapi.json)
from app.web.api.views import bp

__all__ = ["bp"]
