"""The reseller's area: customers, acceptance records, new record, correction, withdrawal,
and the acceptance loop (to-do list, re-issue of lapsed links, the agreement document)."""

from app.web.reseller import loop as _loop  # noqa: F401  (registers its views on bp)
from app.web.reseller.views import bp

__all__ = ["bp"]
