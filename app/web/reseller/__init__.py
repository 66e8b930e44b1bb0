"""The reseller's area: customers, acceptance records, new record, correction, withdrawal,
and the acceptance loop (to-do list, re-issue of lapsed links, the agreement document)."""

from app.web.reseller import dashboard as _dashboard  # noqa: F401  (registers its views on bp)
from app.web.reseller import evidence as _evidence  # noqa: F401  (registers its views on bp)
from app.web.reseller import export as _export  # noqa: F401  (registers its views on bp)
from app.web.reseller import imports as _imports  # noqa: F401  (registers its views on bp)
from app.web.reseller import loop as _loop  # noqa: F401  (registers its views on bp)
from app.web.reseller import search as _search  # noqa: F401  (registers its views on bp)
from app.web.reseller.views import bp

__all__ = ["bp"]
