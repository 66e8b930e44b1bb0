"""The reseller's export for audits: its own records and the confirmations that came from them."""

from __future__ import annotations

from typing import Any

from app.web.reseller.views import bp, reseller_only
from app.web.review.export import render_export


@bp.route("/export", methods=["GET", "POST"])
@reseller_only
def export_page() -> Any:
    """The reseller's confirmations or records with history, as CSV or JSON."""
    return render_export("reseller")
