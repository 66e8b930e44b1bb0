"""The reseller's dashboard: its own records, confirmations and customers."""

from __future__ import annotations

from typing import Any

from app.web.reseller.views import bp, reseller_only
from app.web.review.dashboard import dashboard_page


@bp.get("/dashboard")
@reseller_only
def dashboard() -> Any:
    """The reseller's counts, oldest open records, what to act on, confirmations per day."""
    return dashboard_page("reseller")
