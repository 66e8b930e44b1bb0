"""The reseller's search: its own records and the customers it serves."""

from __future__ import annotations

from typing import Any

from app.web.reseller.views import bp, reseller_only
from app.web.review.search import search_page


@bp.get("/search")
@reseller_only
def search() -> Any:
    """The reseller's records and customers by id, tenant, company, domain or contact."""
    return search_page("reseller")
