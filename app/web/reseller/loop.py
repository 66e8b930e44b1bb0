"""The reseller's side of the 2026 acceptance loop (R18, R19): to-do, re-issue, the agreement."""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlsplit

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.db import get_session
from app.models import AgreementType, Organization
from app.models.acceptance_input import default_language
from app.partner_center import runtime
from app.partner_center.errors import PartnerCenterError
from app.security.permissions import actor
from app.security.scoping import get_customer, get_record
from app.services import acceptance as submissions
from app.services import agreements, listing, waiting
from app.services import requests as acceptance_requests
from app.web.helpers import attempt
from app.web.reseller.forms import ActionForm
from app.web.reseller.views import bp, reseller_only
from workers.dispatch import enqueue_forwarding

log = logging.getLogger(__name__)

# Upstream HTML must never run script in the portal's origin: a sandbox without
# allow-scripts, nothing loaded from anywhere, only the document's own inline styles.
DOCUMENT_CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'"
_LANGUAGE = re.compile(r"([A-Za-z]{2,3})(?:[-_]([A-Za-z]{2}))?")


@bp.get("/todo")
@reseller_only
def todo() -> Any:
    """Customers waiting to accept (oldest first), lapsed links, and the provider's requests."""
    db, user = get_session(), actor()
    requests = acceptance_requests.open_requests(db, actor=user)
    ids = {r.customer_id for r in requests}
    return render_template(
        "reseller/todo.html",
        waiting=waiting.waiting_customers(db, actor=user),
        lapsed=waiting.lapsed_links(db, actor=user),
        requests=requests,
        request_customers=listing.customers_by_id(db, ids),
        request_names=listing.customer_names(db, actor=user, customer_ids=ids),
        action_form=ActionForm(),
    )


@bp.post("/acceptances/<public_id>/reissue")
@reseller_only
def reissue(public_id: str) -> Any:
    """R19: issue a new acceptance link for a record whose link lapsed."""
    if not ActionForm().validate_on_submit():
        abort(400)
    db, user = get_session(), actor()
    record = get_record(db, user, public_id, for_update=True)
    done = attempt(lambda: submissions.reissue(db, actor=user, record=record))
    if done is not None:
        enqueue_forwarding([done.id or 0])  # after the commit, never before
        flash(_("A new acceptance link is being issued; it appears here shortly."), "success")
    if request.form.get("back") == "todo":
        return redirect(url_for(".todo"))
    return redirect(url_for(".acceptance", public_id=public_id))


def _language(value: str | None, country: str) -> str:
    """A language tag from the query (normalised, e.g. ko-KR), else the country's default."""
    match = _LANGUAGE.fullmatch((value or "").strip())
    if match is None:
        return default_language(country)
    region = f"-{match[2].upper()}" if match[2] else ""
    return f"{match[1].lower()}{region}"


@bp.get("/customers/<int:customer_id>/agreement")
@reseller_only
def agreement_document(customer_id: int) -> Any:
    """The current agreement for the customer's country and language, to show the customer."""
    db, user = get_session(), actor()
    customer = get_customer(db, user, customer_id)
    org = db.get_one(Organization, user.organization_id)
    country = customer.country or org.country or "US"
    language = _language(request.args.get("language"), country)
    template = agreements.current_template(db, AgreementType.MICROSOFT_CUSTOMER_AGREEMENT.value)
    try:
        document = runtime.gateway().agreement_document(template.template_id, country, language)
    except (PartnerCenterError, ValueError) as exc:
        log.warning("agreement document unavailable from Partner Center: %s", exc)
        return _unavailable(template.agreement_link, country, language)
    if document.url is not None:
        if urlsplit(document.url).scheme not in ("https", "http"):
            log.warning("agreement document link is not a web address; not following it")
            return _unavailable(template.agreement_link, country, language)
        return redirect(document.url)
    response = make_response(document.body or b"")
    response.headers["Content-Type"] = document.content_type
    response.headers["Content-Security-Policy"] = DOCUMENT_CSP
    response.headers["Content-Disposition"] = "inline"
    return response


def _unavailable(fallback: str | None, country: str, language: str) -> Any:
    """A friendly page with the template's public link instead of the upstream document."""
    return render_template(
        "reseller/agreement_unavailable.html",
        fallback=fallback,
        country=country,
        language=language,
    ), 502
