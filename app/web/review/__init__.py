"""The provider's review area: queue, record detail, decisions, forwarding monitor."""

from app.web.review.views import bp

__all__ = ["bp"]
