"""The dashboard: the provider's at /review/dashboard, a reseller's own at /reseller/dashboard."""

from __future__ import annotations

from typing import Any

from flask import render_template

from app.db import get_session
from app.security.permissions import actor
from app.services import dashboard as board
from app.services import listing
from app.web import list_filters
from app.web.review.views import bp, provider_only


def dashboard_page(area: str) -> Any:
    """The dashboard of the signed-in user; `area` is the blueprint its links go to."""
    db, user = get_session(), actor()
    data = board.build(db, actor=user, zone=list_filters.viewer_zone())
    records = [*data.waiting, *data.attention.records]
    return render_template(
        "review/dashboard.html",
        area=area,
        data=data,
        names=listing.customer_names(db, actor=user, customer_ids={r.customer_id for r in records}),
        orgs=listing.organizations_by_id(db, {r.reseller_id for r in records}),
        chart=data.chart_data(),
    )


@bp.get("/dashboard")
@provider_only
def dashboard() -> Any:
    """Counts, what waits longest, failures, confirmations per day, re-confirmations."""
    return dashboard_page("review")
