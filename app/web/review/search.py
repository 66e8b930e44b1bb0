"""Search and the customer list; the search page serves both areas (each scoped to its user)."""

from __future__ import annotations

from typing import Any

from flask import render_template, request

from app.db import get_session
from app.security.permissions import actor
from app.services import listing
from app.services import search as finder
from app.web import list_filters
from app.web.review.views import bp, provider_only


def search_page(area: str) -> Any:
    """The search box and what it found, as the signed-in user may see it.

    `area` is the blueprint ("review" or "reseller") whose detail pages the results link to.
    """
    db, user = get_session(), actor()
    results = finder.search(db, actor=user, query=request.args.get("q"))
    customer_ids = {r.customer_id for r in results.records} | {c.id or 0 for c in results.customers}
    return render_template(
        "review/search.html",
        area=area,
        results=results,
        names=listing.customer_names(db, actor=user, customer_ids=customer_ids),
        customers=listing.customers_by_id(db, {r.customer_id for r in results.records}),
        orgs=listing.organizations_by_id(db, {r.reseller_id for r in results.records}),
    )


@bp.get("/search")
@provider_only
def search() -> Any:
    """Records and customers of every reseller by id, tenant, company, domain or contact."""
    return search_page("review")


@bp.get("/customers")
@provider_only
def customers() -> Any:
    """Every customer by name, filtered by name, domain or tenant, outdated or withdrawn;
    keyset pages."""
    db, user = get_session(), actor()
    filters = list_filters.customer_filter(request.args)
    page = listing.list_customers(
        db,
        actor=user,
        filters=filters,
        after=list_filters.decode_name_cursor(request.args.get("after")),
    )
    return render_template(
        "review/search_customers.html",
        page=page,
        filters=filters,
        outdated=listing.outdated_among(db, {c.id or 0 for c in page.items}),
        next_cursor=(
            list_filters.encode_name_cursor(*page.next_after) if page.next_after else None
        ),
    )
