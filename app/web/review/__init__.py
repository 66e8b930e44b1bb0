"""The provider's review area: queue, record detail, decisions, forwarding monitor, and the
customers waiting on an acceptance link across resellers."""

from app.web.review import dashboard as _dashboard  # noqa: F401  (registers its views on bp)
from app.web.review import evidence as _evidence  # noqa: F401  (registers its views on bp)
from app.web.review import export as _export  # noqa: F401  (registers its views on bp)
from app.web.review import search as _search  # noqa: F401  (registers its views on bp)
from app.web.review import waiting as _waiting  # noqa: F401  (registers its views on bp)
from app.web.review.views import bp

__all__ = ["bp"]
