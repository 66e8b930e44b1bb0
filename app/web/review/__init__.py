"""The provider's review area: queue, record detail, decisions, forwarding monitor, and the
customers waiting on an acceptance link across resellers."""

from app.web.review import waiting as _waiting  # noqa: F401  (registers its views on bp)
from app.web.review.views import bp

__all__ = ["bp"]
