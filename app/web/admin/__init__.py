"""The admin area: users (provider and reseller admins) and the audit trail (provider)."""

from app.web.admin.views import bp

__all__ = ["bp"]
