"""The reseller's area: customers, acceptance records, new record, correction, withdrawal."""

from app.web.reseller.views import bp

__all__ = ["bp"]
