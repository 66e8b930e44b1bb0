"""The admin area: users (provider and reseller admins), the audit trail and agreement versions
(provider), and requests for acceptance (provider admin)."""

from app.web.admin import acceptance_requests as _requests  # noqa: F401  (registers views)
from app.web.admin.views import bp

__all__ = ["bp"]
