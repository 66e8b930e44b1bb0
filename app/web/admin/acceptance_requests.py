"""Requests for acceptance: a provider admin asks resellers for customers' (re-)acceptance."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_wtf import FlaskForm
from wtforms import RadioField, TextAreaField
from wtforms.fields.choices import SelectChoice

from app.db import get_session
from app.models import Role
from app.security.permissions import actor, roles_required
from app.services import listing
from app.services import requests as asking
from app.web.admin.views import bp
from app.web.helpers import attempt

provider_admin_only = roles_required(Role.PROVIDER_ADMIN)
OUTDATED = "outdated"
TENANTS = "tenants"


class AcceptanceRequestForm(FlaskForm):
    """Which customers to ask for, and a note for their resellers."""

    # Not limited to the choices: anything but "outdated" means the pasted list.
    selection = RadioField(
        _l("Customers"),
        choices=[
            SelectChoice(
                OUTDATED, _l("Every customer confirmed only on an older agreement version")
            ),
            SelectChoice(TENANTS, _l("The customers with these tenant IDs")),
        ],
        default=OUTDATED,
        validate_choice=False,
    )
    tenant_ids = TextAreaField(
        _l("Tenant IDs"), description=_l("One per line, or separated by commas or spaces.")
    )
    message = TextAreaField(_l("Message to the resellers (optional)"))


def _summary(result: asking.AskResult) -> None:
    """Tell the admin what was asked, and of every customer that was not."""
    resellers = len({r.reseller_id for r in result.created})
    flash(
        _(
            "Asked %(resellers)s reseller(s) for %(customers)s customer(s): "
            "%(created)s new request(s).",
            resellers=resellers,
            customers=result.customers,
            created=len(result.created),
        ),
        "success",
    )
    notes = [
        (result.unknown, _("No customer has these tenant IDs")),
        (result.already_current, _("Already confirmed on the current version")),
        (result.national_cloud, _("In a national cloud, cannot be confirmed (R14)")),
        (result.unserved, _("No reseller serves these customers")),
    ]
    for tenants, why in notes:
        if tenants:
            shown = ", ".join(tenants[:10]) + (" …" if len(tenants) > 10 else "")
            flash(f"{why}: {shown}", "error")
    if result.already_open:
        flash(
            ngettext(
                "%(num)d request was open already and was kept.",
                "%(num)d requests were open already and were kept.",
                result.already_open,
            ),
            "info",
        )


@bp.route("/acceptance-requests", methods=["GET", "POST"])
@provider_admin_only
def acceptance_requests_page() -> Any:
    """Open requests for acceptance, and a form to ask resellers for more."""
    db, me = get_session(), actor()
    form = AcceptanceRequestForm()
    if form.validate_on_submit():
        everyone = form.selection.data == OUTDATED
        result = attempt(
            lambda: asking.ask_for_acceptance(
                db,
                actor=me,
                tenant_ids=(None if everyone else asking.parse_tenant_ids(form.tenant_ids.data)),
                all_outdated=everyone,
                message=form.message.data,
            ),
            form=form,
            paths={"tenant_ids": "tenant_ids", "message": "message"},
        )
        if result is not None:
            _summary(result)
            return redirect(url_for(".acceptance_requests_page"))
    open_ones = asking.open_requests(db, actor=me)
    closed = asking.recently_closed(db, actor=me)
    rows = [*open_ones, *closed]
    return render_template(
        "admin/acceptance_requests.html",
        form=form,
        open_requests=open_ones,
        closed=closed,
        customers=listing.customers_by_id(db, {r.customer_id for r in rows}),
        orgs=listing.organizations_by_id(db, {r.reseller_id for r in rows}),
        users=listing.users_by_id(db, {r.requested_by_id for r in rows}),
    ), (422 if form.errors else 200)
