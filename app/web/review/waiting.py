"""The provider's view of the acceptance loop across resellers (R18, R19)."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.db import get_session
from app.security.permissions import actor
from app.security.scoping import get_record
from app.services import acceptance as submissions
from app.services import listing, waiting
from app.services import requests as acceptance_requests
from app.web.helpers import attempt
from app.web.review.forms import ActionForm
from app.web.review.views import bp, provider_only
from workers.dispatch import enqueue_forwarding


@bp.get("/waiting")
@provider_only
def waiting_customers() -> Any:
    """Customers waiting to accept, lapsed links and open requests, filtered by reseller."""
    db, user = get_session(), actor()
    reseller_id = request.args.get("reseller", type=int)
    requests = [
        r
        for r in acceptance_requests.open_requests(db, actor=user)
        if reseller_id is None or r.reseller_id == reseller_id
    ]
    ids = {r.customer_id for r in requests}
    return render_template(
        "review/waiting.html",
        waiting=waiting.waiting_customers(db, actor=user, reseller_id=reseller_id),
        lapsed=waiting.lapsed_links(db, actor=user, reseller_id=reseller_id),
        requests=requests,
        request_customers=listing.customers_by_id(db, ids),
        orgs=listing.organizations_by_id(db, {r.reseller_id for r in requests}),
        resellers=listing.resellers(db),
        reseller_id=reseller_id,
        action_form=ActionForm(),
    )


@bp.post("/acceptances/<public_id>/reissue")
@provider_only
def reissue(public_id: str) -> Any:
    """R19: issue a new acceptance link for a record whose link lapsed."""
    if not ActionForm().validate_on_submit():
        abort(400)
    db, user = get_session(), actor()
    record = get_record(db, user, public_id, for_update=True)
    done = attempt(lambda: submissions.reissue(db, actor=user, record=record))
    if done is not None:
        enqueue_forwarding([done.id or 0])  # after the commit, never before
        flash(_("A new acceptance link is being issued."), "success")
    if request.form.get("back") == "waiting":
        return redirect(url_for(".waiting_customers"))
    return redirect(url_for(".acceptance", public_id=public_id))
