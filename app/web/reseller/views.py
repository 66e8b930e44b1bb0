"""Reseller views: validate shape, call one service, commit, redirect."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.context import current_settings as settings
from app.db import get_session
from app.models import AcceptanceRecord, Organization, RecordStatus, Source
from app.models.acceptance_input import default_language, parse_customer, parse_submission
from app.models.org import RESELLER_ROLES
from app.security.permissions import actor, roles_required
from app.security.scoping import get_customer, get_record
from app.services import acceptance as submissions
from app.services import agreements, listing, record_details, timeline, transact, waiting
from app.services.customers import register_customer, reseller_name_for
from app.services.ledger import record_withdrawal
from app.web import list_filters
from app.web.handover import handover
from app.web.helpers import attempt, decode_cursor, encode_cursor
from app.web.reseller.forms import (
    COMMON_COUNTRIES,
    FIELD_PATHS,
    LANGUAGES,
    AcceptanceForm,
    ActionForm,
    CustomerForm,
    WithdrawForm,
)

bp = Blueprint("reseller", __name__)
reseller_only = roles_required(*RESELLER_ROLES)


@bp.get("/")
@reseller_only
def index() -> Any:
    """The reseller's landing page is its list of records."""
    return redirect(url_for(".acceptances"))


@bp.get("/acceptances")
@reseller_only
def acceptances() -> Any:
    """The reseller's own records, newest first, filtered by status, customer, dates and
    agreement version; keyset pages."""
    db, user = get_session(), actor()
    filters, shown = list_filters.record_filter(request.args, provider=False)
    page = listing.list_records(
        db,
        actor=user,
        filters=filters,
        after=decode_cursor(request.args.get("after")),
    )
    names = listing.customer_names(db, actor=user, customer_ids={r.customer_id for r in page.items})
    customers = listing.customers_by_id(db, {r.customer_id for r in page.items})
    return render_template(
        "reseller/acceptances.html",
        page=page,
        names=names,
        customers=customers,
        status=shown.status,
        shown=shown,
        templates=agreements.all_templates(db),
        counts=listing.status_counts(db, actor=user),
        next_cursor=encode_cursor(*page.next_after) if page.next_after else None,
        filter_args=list_filters.query_args(),
    )


@bp.route("/acceptances/new", methods=["GET", "POST"])
@reseller_only
def new_acceptance() -> Any:
    """Submit a customer's acceptance for the provider's review."""
    db, user = get_session(), actor()
    form = AcceptanceForm()
    if request.method == "GET":
        _prefill_country(form)
        _prefill_customer(form, request.args.get("customer", type=int))
        form.template_id.data = agreements.current_template(
            db, "MicrosoftCustomerAgreement"
        ).template_id
    if form.validate_on_submit():
        record = attempt(
            lambda: submissions.submit(
                db,
                actor=user,
                data=parse_submission(
                    form.to_input(), phone_region=settings().default_phone_region
                ),
                source=Source.WEB,
                default_country=settings().default_phone_region,
            ),
            form=form,
            paths=FIELD_PATHS,
        )
        if record is not None:
            flash(_("Submitted. The provider will review it; you can follow it here."), "success")
            return redirect(url_for(".acceptance", public_id=record.public_id))
    status = 422 if request.method == "POST" else 200
    return _acceptance_form_page(form, None, status)


def _acceptance_form_page(
    form: AcceptanceForm, record: AcceptanceRecord | None, status: int
) -> Any:
    return render_template(
        "reseller/acceptance_form.html",
        form=form,
        record=record,
        countries=COMMON_COUNTRIES,
        language_defaults=json.dumps(_language_defaults()),
    ), status


def _language_defaults() -> dict[str, str]:
    """Country -> default agreement language, for the form's script (only listed languages)."""
    return {c: default_language(c) for c in COMMON_COUNTRIES if default_language(c) in LANGUAGES}


def _prefill_country(form: AcceptanceForm | CustomerForm) -> None:
    """The reseller organisation's country, and the language most of its customers read."""
    org = get_session().get_one(Organization, actor().organization_id)
    form.country.data = org.country
    if isinstance(form, AcceptanceForm):
        form.language.data = _listed_language(org.country)


def _listed_language(country: str | None) -> str:
    language = default_language(country)
    return language if language in LANGUAGES else "en-US"


def _prefill_customer(form: AcceptanceForm, customer_id: int | None) -> None:
    """Fill the customer fields from one of the reseller's customers (scoped: 404 otherwise)."""
    if customer_id is None:
        return
    db, user = get_session(), actor()
    customer = get_customer(db, user, customer_id)
    form.tenant_id.data = customer.tenant_id
    form.company_name.data = reseller_name_for(db, customer, user.organization_id)
    form.domain.data = customer.domain
    form.cloud.data = customer.cloud
    if customer.country:
        form.country.data = customer.country
        form.language.data = _listed_language(customer.country)


@bp.get("/acceptances/<public_id>")
@reseller_only
def acceptance(public_id: str) -> Any:
    """One record with its history and what the reseller may do next."""
    db, user = get_session(), actor()
    record = get_record(db, user, public_id)
    customer = get_customer(db, user, record.customer_id)
    return render_template(
        "reseller/acceptance_detail.html",
        record=record,
        customer=customer,
        customer_name=reseller_name_for(db, customer, user.organization_id),
        events=record_details.history(db, record, viewer=user),
        handover=handover(waiting.acceptance_link(db, record, customer)),
        withdraw_form=WithdrawForm(),
        action_form=ActionForm(),
    )


@bp.route("/acceptances/<public_id>/edit", methods=["GET", "POST"])
@reseller_only
def edit_acceptance(public_id: str) -> Any:
    """Correct a record the provider returned, and resubmit it."""
    db, user = get_session(), actor()
    record = get_record(db, user, public_id, for_update=request.method == "POST")
    if record.status != RecordStatus.RETURNED:
        flash(_("Only a record returned for correction can be edited."), "error")
        return redirect(url_for(".acceptance", public_id=public_id))
    form = AcceptanceForm()
    if request.method == "GET":
        _fill_from_record(form, record)
    if form.validate_on_submit():
        done = attempt(
            lambda: submissions.resubmit(
                db,
                actor=user,
                record=record,
                data=parse_submission(
                    form.to_input(), phone_region=settings().default_phone_region
                ),
                default_country=settings().default_phone_region,
            ),
            form=form,
            paths=FIELD_PATHS,
        )
        if done is not None:
            flash(_("Corrected and sent back for review."), "success")
            return redirect(url_for(".acceptance", public_id=public_id))
    status = 422 if request.method == "POST" else 200
    return _acceptance_form_page(form, record, status)


def _fill_from_record(form: AcceptanceForm, record: AcceptanceRecord) -> None:
    db = get_session()
    _prefill_country(form)
    _prefill_customer(form, record.customer_id)
    if record.language:
        form.language.data = record.language
    form.template_id.data = agreements.current_template(db, record.agreement_type).template_id
    form.date_agreed.data = record.date_agreed.isoformat()
    form.first_name.data = record.contact_first_name
    form.last_name.data = record.contact_last_name
    form.email.data = record.contact_email
    form.phone.data = record.contact_phone


@bp.post("/acceptances/<public_id>/withdraw")
@reseller_only
def withdraw(public_id: str) -> Any:
    """Take back a record the provider has not reviewed yet."""
    db, user = get_session(), actor()
    form = WithdrawForm()
    if not form.validate_on_submit():
        abort(400)
    record = get_record(db, user, public_id, for_update=True)
    if attempt(
        lambda: submissions.withdraw(db, actor=user, record=record, reason=form.reason.data)
    ):
        flash(_("Withdrawn."), "success")
    return redirect(url_for(".acceptance", public_id=public_id))


@bp.get("/customers")
@reseller_only
def customers() -> Any:
    """The customers this reseller serves."""
    db, user = get_session(), actor()
    filters = list_filters.customer_filter(request.args)
    page = listing.list_customers(
        db,
        actor=user,
        filters=filters,
        after=list_filters.decode_name_cursor(request.args.get("after")),
    )
    return render_template(
        "reseller/customers.html",
        customers=page.items,
        names=page.names,
        outdated=listing.outdated_among(db, {c.id or 0 for c in page.items}),
        filters=filters,
        next_cursor=list_filters.encode_name_cursor(*page.next_after) if page.next_after else None,
    )


@bp.route("/customers/new", methods=["GET", "POST"])
@reseller_only
def new_customer() -> Any:
    """Register a customer (tenant) this reseller serves."""
    db, user = get_session(), actor()
    form = CustomerForm()
    if request.method == "GET":
        _prefill_country(form)
    if form.validate_on_submit():
        customer = attempt(
            lambda: register_customer(db, actor=user, data=parse_customer(form.to_input())),
            form=form,
            paths={k.removeprefix("customer."): v for k, v in FIELD_PATHS.items()},
        )
        if customer is not None:
            flash(_("Customer saved."), "success")
            return redirect(url_for(".customer", customer_id=customer.id))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "reseller/customer_form.html", form=form, countries=COMMON_COUNTRIES
    ), status


@bp.get("/customers/<int:customer_id>")
@reseller_only
def customer(customer_id: int) -> Any:
    """A customer, its confirmation state, and this reseller's records for it."""
    db, user = get_session(), actor()
    found = get_customer(db, user, customer_id)
    page = listing.list_records(
        db,
        actor=user,
        filters=listing.RecordFilter(customer_id=customer_id),
        after=decode_cursor(request.args.get("after")),
        limit=50,
    )
    confirmations = [
        c for c in record_details.confirmations_for(db, customer_id) if c.state == "active"
    ]
    current = agreements.current_template(db, "MicrosoftCustomerAgreement").template_id
    return render_template(
        "reseller/customer_detail.html",
        customer=found,
        name=reseller_name_for(db, found, user.organization_id),
        records=page.items,
        next_cursor=encode_cursor(*page.next_after) if page.next_after else None,
        timeline=timeline.customer_timeline(db, actor=user, customer=found),
        confirmations=confirmations,
        current_template=current,
        transact=transact.transact_status(db, actor=user, customer=found),
        language=_listed_language(found.country),
        languages=LANGUAGES,
        withdraw_form=WithdrawForm(),
    )


@bp.post("/customers/<int:customer_id>/withdraw")
@reseller_only
def withdraw_customer(customer_id: int) -> Any:
    """R13: record that the customer no longer accepts the agreement."""
    form = WithdrawForm()
    if not form.validate_on_submit():
        abort(400)
    db, user = get_session(), actor()
    found = get_customer(db, user, customer_id)
    if attempt(lambda: record_withdrawal(db, actor=user, customer=found, reason=form.reason.data)):
        flash(
            _("Withdrawal recorded. The provider must cancel this customer's subscriptions."),
            "success",
        )
    return redirect(url_for(".customer", customer_id=customer_id))
